import Testing

@testable import ChatScreen

@Suite struct MailboxTests {
    @Test func anyCapacityIsSafe() throws {
        let wake = try #require(WakePipe())
        defer { wake.close() }
        let mailbox = Mailbox(wake: wake, capacity: Int.max)
        for index in 0..<2000 { mailbox.post(.line("from bob: \(index)")) }
        #expect(mailbox.takeAll().count == 2000)
    }

    @Test func aFloodKeepsTheNewestLinesAndEveryOtherEvent() throws {
        let wake = try #require(WakePipe())
        defer { wake.close() }
        let mailbox = Mailbox(wake: wake, capacity: 10)
        mailbox.post(.connected)
        for index in 0..<2000 { mailbox.post(.line("\(index)")) }
        let events = mailbox.takeAll()
        #expect(events.count <= 10 + 1024 + 1)
        if case .connected = events.first {} else { Issue.record("connected was dropped") }
        if case .line("1999") = events.last {} else { Issue.record("the newest line was dropped") }
    }
}
