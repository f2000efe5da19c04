import Synchronization
import Testing

@testable import ChatScreen

@Suite struct MailboxTests {
    @Test func anyCapacityIsSafe() async throws {
        let wake = try #require(WakePipe())
        defer { wake.close() }
        let mailbox = Mailbox(wake: wake, capacity: Int.max)
        for index in 0..<2000 { await mailbox.post(.line("from bob: \(index)")) }
        #expect(mailbox.takeAll().count == 2000)
    }

    @Test func aFloodKeepsTheNewestLinesAndEveryOtherEvent() async throws {
        let wake = try #require(WakePipe())
        defer { wake.close() }
        let mailbox = Mailbox(wake: wake, capacity: 10)
        await mailbox.post(.connected(at: .now))
        for index in 0..<2000 { await mailbox.post(.line("\(index)")) }
        let events = mailbox.takeAll()
        #expect(events.count <= 10 + 1024 + 1)
        if case .connected = events.first {} else { Issue.record("connected was dropped") }
        if case .line("1999") = events.last {} else { Issue.record("the newest line was dropped") }
    }

    /// With a log every line is kept: past the capacity the poster waits until the UI takes
    /// what waits, and every line arrives, in order.
    @Test(.timeLimit(.minutes(1))) func withRoomAwaitedAFloodLosesNothing() async throws {
        let wake = try #require(WakePipe())
        defer { wake.close() }
        let mailbox = Mailbox(wake: wake, capacity: 10, overflow: .waitForRoom)
        let poster = Poster(posting: 5000, to: mailbox)
        var taken: [String] = []
        while taken.count < 5000 {
            try await Task.sleep(for: .milliseconds(5))
            // The poster never runs more than one batch ahead of the UI.
            #expect(poster.count - taken.count <= 10 + 1024 + 1)
            for event in mailbox.takeAll() {
                if case .line(let line) = event { taken.append(line) }
            }
        }
        await poster.finish()
        #expect(taken == (0..<5000).map { "\($0)" })
    }

    /// Lines come whole, up to the client's 1 MiB limit: past `maximumLineBytes` of them the
    /// poster waits for the UI, however few lines that is, and drops none. (At a sixteenth of
    /// the sizes: with the real ones, 51 MiB of lines, the test took 74 s in a loaded CI run.)
    @Test(.timeLimit(.minutes(1))) func longLinesWaitForRoomRatherThanPileUp() async throws {
        let wake = try #require(WakePipe())
        defer { wake.close() }
        let mailbox = Mailbox(wake: wake, capacity: 10_000, maximumLineBytes: Mailbox.maximumLineBytes / 16)
        let lineBytes = 1 << 16
        let perBatch = Mailbox.maximumLineBytes / 16 / lineBytes + 1
        let poster = Poster(posting: 3 * perBatch, to: mailbox) {
            String(repeating: "\($0 % 10)", count: lineBytes)
        }
        var taken = 0
        while taken < 3 * perBatch {
            while poster.count < taken + perBatch - 1 { try await Task.sleep(for: .milliseconds(5)) }
            try await Task.sleep(for: .milliseconds(100))
            #expect(poster.count == taken + perBatch - 1)
            taken += mailbox.takeAll().count
        }
        await poster.finish()
        #expect(taken == 3 * perBatch)
    }

    /// A UI that has quit takes nothing more: cancelling the network side ends its wait.
    @Test(.timeLimit(.minutes(1))) func aWaitingPosterIsFreedByCancellation() async throws {
        let wake = try #require(WakePipe())
        defer { wake.close() }
        let mailbox = Mailbox(wake: wake, capacity: 10, overflow: .waitForRoom)
        let poster = Poster(posting: 5000, to: mailbox)
        // Waiting: the post that made the mailbox overfull has not returned.
        while poster.count < 10 + 1024 { try await Task.sleep(for: .milliseconds(5)) }
        try await Task.sleep(for: .milliseconds(100))
        #expect(poster.count == 10 + 1024)
        poster.cancel()
        await poster.finish()
        #expect(poster.count == 5000)
    }
}

/// The network side of a flood: posts numbered lines, counting those whose post has returned.
private final class Poster: Sendable {
    let posted = Atomic(0)
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(posting count: Int, to mailbox: Mailbox, line: @escaping @Sendable (Int) -> String = { "\($0)" }) {
        task.withLock {
            $0 = Task {
                for index in 0..<count {
                    await mailbox.post(.line(line(index)))
                    self.posted.store(index + 1, ordering: .relaxed)
                }
            }
        }
    }

    var count: Int { posted.load(ordering: .relaxed) }
    func cancel() { task.withLock { $0?.cancel() } }
    func finish() async { await task.withLock { $0 }?.value }
}
