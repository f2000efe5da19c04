import ChatServer
import ChatTestSupport
import Foundation
import Logging
import Testing

/// Issue 11: with stderr a pipe whose reader stalled, the server stopped within 3,000 connections.
@Suite struct LoggingTests {
    @Test(.loadsTheMachine) func aStalledStderrSlowsNobody() async throws {
        // Every connect and disconnect is logged at this level, whatever level the code picks.
        let server = try await ServerProcess(arguments: ["--log-level", "trace"], stallingStderr: true)
        let alice = try await loggedIn("alice", port: server.port)
        let bob = try await loggedIn("bob", port: server.port)

        // Far more log output than the pipe (64 KiB) and the writer's queue (256 KiB) hold.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    for _ in 0..<500 {
                        let client = try await LineClient.connect(port: server.port)
                        await client.close()
                    }
                }
            }
            try await group.waitForAll()
        }
        try await alice.send("bob: still there?")
        #expect(try await bob.readLine() == "from alice: still there?")
        let carol = try await loggedIn("carol", port: server.port)
        try await carol.send("alice: hello")
        #expect(try await alice.readLine() == "from carol: hello")

        // Once somebody reads, the lines that fitted come out, and then how many did not.
        server.child.readStderr()
        let deadline = ContinuousClock.now + .seconds(30)
        while !server.child.stderr.contains("log lines dropped"), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        let report = server.child.stderr.split(separator: "\n").first { $0.contains("log lines dropped") }
        let line = try #require(report, "no report of dropped lines")
        #expect(line.contains(" warning a-chat.log: dropped="), "\(line)")
    }

    @Test func linesComeOutWholeInOrderAndFinishWritesWhatIsQueued() throws {
        var ends: [Int32] = [-1, -1]
        try #require(pipe(&ends) == 0)
        let writer = BackgroundLogWriter(descriptor: ends[1])
        let logger = Logger(label: "test") { writer.handler(label: $0) }
        // 500 lines fit in a pipe: nobody needs to read before the end.
        for number in 0..<500 { logger.info("line \(number)", metadata: ["n": "\(number)"]) }
        writer.finish()
        close(ends[1])
        let output = FileHandle(fileDescriptor: ends[0], closeOnDealloc: true).readDataToEndOfFile()
        let lines = String(decoding: output, as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 500)
        for (number, line) in lines.enumerated() {
            #expect(line.hasSuffix(" info test: n=\(number) [ChatServerTests] line \(number)"), "\(line)")
        }
        // After finishing, nothing is written and nothing blocks.
        logger.info("too late")
    }
}
