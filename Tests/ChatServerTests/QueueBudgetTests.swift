import ChatTestSupport
import Foundation
import Testing

/// Per-connection limits alone let many stalled readers add up; the queue budget bounds them all.
@Suite(.loadsTheMachine) struct QueueBudgetTests {
    @Test func manyReadersThatNeverReadStayWithinTheBudgetAndAreCutOff() async throws {
        let budgetMiB = 8
        // The stall timeout is far away: any cut-off seen here is the budget's.
        let server = try await ServerProcess(arguments: [
            "--queue-budget-bytes", "\(budgetMiB << 20)", "--stall-timeout", "600", "--log-level", "notice",
        ])
        let readerCount = 200
        var readers: [LineClient] = []
        for index in 0..<readerCount {
            let reader = try await loggedIn("r\(index)", port: server.port, receiveBufferBytes: 16 * 1024)
            try await reader.stopReading()
            readers.append(reader)
        }
        let attacker = try await loggedIn("attacker", port: server.port)
        let baseline = server.child.memory().residentKiB
        let everyone = (0..<readerCount).map { "r\($0)" }.joined(separator: ",")
        let flood = Flood(recipients: everyone, count: 4000, textBytes: 2000)
        let attacking = Task { try await flood.send(from: attacker) }
        // Every reader is cut off long before the stall timeout, the server's memory stays near
        // the budget meanwhile, and the attacker, once they are gone, is read from again.
        try await waitUntil(timeout: .seconds(120)) { cutOffs(server) == readerCount }
        let log = server.child.stderr
        #expect(cutOffs(server) == readerCount, "the server's log ends: \(log.suffix(3000))")
        try await attacking.value
        let peak = server.child.memory().peakKiB
        MemoryBound.expect(
            peak - baseline, atMostKiB: (budgetMiB + 48) * 1024,
            "server peak RSS growth with a \(budgetMiB) MiB budget")
        for reader in readers { await reader.close() }
        // Past the notices for the readers that left, the attacker is still served.
        try await attacker.send("attacker: still here")
        var line = try await attacker.readLine()
        while line?.hasPrefix("error: ") == true { line = try await attacker.readLine() }
        #expect(line == "from attacker: still here")
        // And the memory of the burst went back to the system.
        let after = server.child.memory().residentKiB
        MemoryBound.expect(after - baseline, atMostKiB: 16 * 1024, "RSS over the baseline after the burst")
    }

    /// Mail between loops is compact (a line to fifty readers on the other loop travels once),
    /// so one loop can hand the other more than it can copy out; the other loop's inbox holds
    /// the sender back, and its budget then bounds what it took.
    @Test func mailToAnotherLoopStaysWithinThatLoopsBudget() async throws {
        let budgetMiB = 8
        let server = try await ServerProcess(arguments: [
            "--event-loops", "2", "--queue-budget-bytes", "\(budgetMiB << 20)", "--stall-timeout", "600",
            "--log-level", "notice",
        ])
        // Connections go to the two loops in turn: after an even number of readers the attacker
        // shares a loop with the even ones, and writes only to the odd ones.
        let readerCount = 100
        var readers: [LineClient] = []
        for index in 0..<readerCount {
            let reader = try await loggedIn("r\(index)", port: server.port, receiveBufferBytes: 4096)
            try await reader.stopReading()
            readers.append(reader)
        }
        let attacker = try await loggedIn("attacker", port: server.port)
        let baseline = server.child.memory().residentKiB
        let elsewhere = stride(from: 1, to: readerCount, by: 2).map { "r\($0)" }
        let flood = Flood(recipients: elsewhere.joined(separator: ","), count: 2000, textBytes: 2000)
        let attacking = Task { try await flood.send(from: attacker) }
        try await waitUntil(timeout: .seconds(120)) { cutOffs(server) >= elsewhere.count }
        try await attacking.value
        let log = server.child.stderr
        #expect(cutOffs(server) >= elsewhere.count, "the server's log ends: \(log.suffix(3000))")
        let peak = server.child.memory().peakKiB
        MemoryBound.expect(
            peak - baseline, atMostKiB: (budgetMiB + 48) * 1024,
            "server peak RSS growth with a \(budgetMiB) MiB budget over two loops")
        for reader in readers { await reader.close() }
        try await attacker.send("attacker: still here")
        var line = try await attacker.readLine()
        while line?.hasPrefix("error: ") == true { line = try await attacker.readLine() }
        #expect(line == "from attacker: still here")
    }
}

/// Readers the server's log says it cut off.
private func cutOffs(_ server: ServerProcess) -> Int {
    server.child.stderr.split(separator: "\n").count { $0.contains("cut off") }
}
