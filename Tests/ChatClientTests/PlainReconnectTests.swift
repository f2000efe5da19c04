import ChatServer
import ChatTestSupport
import Foundation
import Testing

/// Plain mode with `--reconnect`, against the real `chat-server` killed and started again on
/// the same port; `--log` in plain mode.
@Suite struct PlainReconnectTests {
    private func startClient(port: Int, _ arguments: [String]) throws -> ChildProcess {
        try ChildProcess(ChildProcess.executable("chat-client"), arguments + ["--port", "\(port)"])
    }

    /// Sends `line` from `client` until `reader` reads `expected`: right after a reconnect, the
    /// other side may not be logged in again yet.
    private func deliver(
        _ line: String, from client: ChildProcess, to reader: LineClient, expecting expected: String
    )
        async throws
    {
        for _ in 1...50 {
            try client.write(line + "\n")
            if let read = try? await reader.readLine(timeout: .milliseconds(500)), read == expected { return }
        }
        throw TestTimeout("\(line) never arrived")
    }

    @Test func aKilledServerIsReconnectedToAndStdinReadOnWhereItStopped() async throws {
        // A port of our own: the kernel could hand one from its ephemeral range to a connection.
        let port = try SparePort.take()
        var server = try await ServerProcess(arguments: ["--port", "\(port)"])
        let client = try startClient(
            port: port, ["--plain", "--reconnect", "--reconnect-delay", "0.2", "alice"])
        defer { client.terminate() }
        var bob = try await LineClient.connect(port: port)
        try await bob.send("bob")
        try await deliver("bob: one", from: client, to: bob, expecting: "from alice: one")

        server.child.signal(SIGKILL)
        _ = try await server.child.waitForExit()
        await bob.close()
        let waiting = try await client.waitForStderrLine {
            $0.contains("; reconnecting in ") && $0.contains("(attempt 1)")
        }
        // 0.2 s less up to a quarter, rounded up to tenths: never a whole second.
        #expect(waiting.hasSuffix("; reconnecting in 0.2 s (attempt 1)"), "\(waiting)")
        // Written while no server is up: it waits in the pipe and goes once the client is back.
        try client.write("bob: written while down\n")
        server = try await ServerProcess(arguments: ["--port", "\(port)"])
        defer { server.child.terminate() }
        try await client.waitForStderrLine { $0 == "chat-client: reconnected to 127.0.0.1:\(port)" }
        // The line written while down went out right behind the login, to a bob not back yet.
        try await client.waitForStdoutLine { $0 == "error: 'bob' is not online" }
        bob = try await LineClient.connect(port: port)
        try await bob.send("bob")
        try await deliver("bob: two", from: client, to: bob, expecting: "from alice: two")
        try await bob.send("alice: welcome back")
        try await client.waitForStdoutLine { $0 == "from bob: welcome back" }
        try client.closeStdin()
        // A notice was seen on the way, so the end is exit status 1, as without reconnecting.
        #expect(try await client.waitForExit() == 1)
        await bob.close()
    }

    /// The wait is said once, not counted down: a wait of between 1.05 and 1.4 s (the third,
    /// 0.35 s doubled twice, less up to a quarter) in tenths, not rounded up to "2 s".
    @Test func aWaitOfAFewSecondsIsAnnouncedInTenths() async throws {
        // Nobody listens there: every attempt fails at once.
        let client = try startClient(
            port: try SparePort.take(), ["--plain", "--reconnect", "--reconnect-delay", "0.35", "alice"])
        defer { client.terminate() }
        let waiting = try await client.waitForStderrLine { $0.contains("(attempt 3)") }
        #expect(waiting.wholeMatch(of: #/.*; reconnecting in 1\.[1-4] s \(attempt 3\)/#) != nil, "\(waiting)")
    }

    @Test func aRefusedLoginIsNotRetried() async throws {
        let server = try await startTestServer()
        let first = try await LineClient.connect(port: server.port)
        try await first.send("frank")
        try await waitUntilOnline(server, count: 1)
        let client = try startClient(port: server.port, ["--plain", "--reconnect", "frank"])
        #expect(try await client.waitForExit() == 1)
        #expect(client.stderr.hasSuffix("closed the connection: login 'frank' is already online\n"))
        #expect(!client.stderr.contains("reconnecting"))
        await first.close()
        await server.shutdown()
    }

    @Test func theLogHasWhatWasSentAndReceived() async throws {
        let server = try await startTestServer()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "plain-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let log = directory.appendingPathComponent("chat.log")
        let client = try startClient(port: server.port, ["--plain", "--log", log.path])
        try client.write("nina\nnina: note \u{1B}[1mto\u{1B}[0m self\n")
        try client.closeStdin()
        #expect(try await client.waitForExit() == 0)
        // Plain output stays byte for byte what the server sent; the log makes controls visible.
        #expect(client.stdout == "from nina: note \u{1B}[1mto\u{1B}[0m self\n")
        let lines = try String(contentsOf: log, encoding: .utf8).split(separator: "\n").map {
            $0.dropFirst(20)
        }
        #expect(
            lines == [
                "-- logging in as nina", "nina → nina: note \u{241B}[1mto\u{241B}[0m self",
                "nina: note \u{241B}[1mto\u{241B}[0m self",
            ])
        await server.shutdown()
    }

    /// `/dev/full` opens, and every write to it fails as a full disk does.
    @Test func aLogThatCannotBeWrittenIsSaidOnceAndTheConversationGoesOn() async throws {
        let server = try await startTestServer()
        let client = try startClient(port: server.port, ["--plain", "--log", "/dev/full", "olga"])
        try client.write("olga: one\nolga: two\n")
        try client.closeStdin()
        #expect(try await client.waitForExit() == 1)
        #expect(client.stdout == "from olga: one\nfrom olga: two\n")
        #expect(
            client.stderr
                == "chat-client: cannot write the log any more (no space left on device); going on without it\n"
        )
        await server.shutdown()
    }

    @Test func aLogThatCannotBeOpenedIsExitStatusOneBeforeAnyConnection() async throws {
        let client = try ChildProcess(
            ChildProcess.executable("chat-client"), ["--plain", "--log", "/nonexistent-directory/x.log", "x"])
        #expect(try await client.waitForExit() == 1)
        #expect(
            client.stderr
                == "chat-client: cannot open the log /nonexistent-directory/x.log: no such file or directory\n"
        )
    }
}
