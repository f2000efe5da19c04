import ChatServer
import ChatTestSupport
import Foundation
import Testing

/// The real `chat-client` executable with pipes for stdin and stdout, so plain mode is chosen
/// automatically, against a server in this process.
@Suite struct PlainModeTests {
    private func startClient(port: Int, _ arguments: [String] = []) throws -> ChildProcess {
        try ChildProcess(ChildProcess.executable("chat-client"), arguments + ["--port", "\(port)"])
    }

    @Test func loginByArgumentThenSendAndReceiveLiveWhileInputIsOpen() async throws {
        let server = try await startTestServer()
        let bob = try await LineClient.connect(port: server.port)
        try await bob.send("bob")
        let client = try startClient(port: server.port, ["alice"])
        try await waitUntilOnline(server, count: 2)

        try await bob.send("alice: hi alice")
        try await client.waitForStdoutLine { $0 == "from bob: hi alice" }
        try client.write("bob: hi bob\n")
        #expect(try await bob.readLine() == "from alice: hi bob")

        try client.closeStdin()
        #expect(try await client.waitForExit() == 0)
        #expect(client.stdout == "from bob: hi alice\n")
        #expect(client.stderr == "")
        await bob.close()
        await server.shutdown()
    }

    @Test func controlCharactersReachStdoutByteForByte() async throws {
        let server = try await startTestServer()
        let bob = try await LineClient.connect(port: server.port)
        try await bob.send("bob")
        let client = try startClient(port: server.port, ["alice"])
        try await waitUntilOnline(server, count: 2)
        let texts = ["a\rfrom mallory: b", "\u{1B}[2J\u{1B}]2;title\u{7}", "x\u{2028}y \u{202E}z \u{85}end"]
        for text in texts { try await bob.send("alice: \(text)") }
        try await client.waitForStdoutLine { $0.hasPrefix("from bob: x") }
        try client.closeStdin()
        #expect(try await client.waitForExit() == 0)
        #expect(client.stdout == texts.map { "from bob: \($0)\n" }.joined())
        await bob.close()
        await server.shutdown()
    }

    @Test func withoutALoginTheFirstLineIsTheLogin() async throws {
        let server = try await startTestServer()
        let client = try startClient(port: server.port)
        try client.write("carol\ncarol: talking to myself\n")
        try await client.waitForStdoutLine { $0 == "from carol: talking to myself" }
        try client.closeStdin()
        #expect(try await client.waitForExit() == 0)
        await server.shutdown()
    }

    @Test func endOfInputDrainsWhatTheServerStillSends() async throws {
        let server = try await startTestServer()
        let client = try startClient(port: server.port)
        // Everything at once, then end of input: the answers arrive after the half-close.
        try client.write("dave\ndave: one\ndave: two\ndave: three\n")
        try client.closeStdin()
        #expect(try await client.waitForExit() == 0)
        #expect(client.stdout == "from dave: one\nfrom dave: two\nfrom dave: three\n")
        #expect(client.stderr == "")
        await server.shutdown()
    }

    @Test func serverGoingAwayMidSessionIsOneLineAndExitStatusOne() async throws {
        let server = try await startTestServer()
        let client = try startClient(port: server.port, ["erin"])
        try await waitUntilOnline(server, count: 1)
        await server.shutdown()
        #expect(try await client.waitForExit() == 1)
        #expect(client.stdout == "error: server is shutting down\n")
        #expect(
            client.stderr
                == "chat-client: server 127.0.0.1:\(server.port) closed the connection: server is shutting down\n"
        )
    }

    @Test func refusedLoginShowsTheServersNotice() async throws {
        let server = try await startTestServer()
        let first = try await LineClient.connect(port: server.port)
        try await first.send("frank")
        try await waitUntilOnline(server, count: 1)
        let client = try startClient(port: server.port, ["frank"])
        #expect(try await client.waitForExit() == 1)
        #expect(client.stdout == "error: login 'frank' is already online\n")
        #expect(client.stderr.hasSuffix("closed the connection: login 'frank' is already online\n"))
        await first.close()
        await server.shutdown()
    }

    @Test func refusedLoginIsExitStatusOneHoweverInputAndRefusalRace() async throws {
        let server = try await startTestServer()
        let first = try await LineClient.connect(port: server.port)
        try await first.send("frank")
        try await waitUntilOnline(server, count: 1)
        // Input ends at once, so it may end before or after the server refuses the login; both
        // orders happen within a few runs.
        for _ in 0..<6 {
            let client = try startClient(port: server.port, ["frank"])
            try client.write("frank: hi\n")
            try client.closeStdin()
            #expect(try await client.waitForExit() == 1)
            #expect(client.stdout == "error: login 'frank' is already online\n")
            #expect(
                [
                    "chat-client: server 127.0.0.1:\(server.port) closed the connection: "
                        + "login 'frank' is already online\n",
                    "chat-client: the server reported an error: login 'frank' is already online\n",
                ].contains(client.stderr), "\(client.stderr)")
        }
        await first.close()
        await server.shutdown()
    }

    @Test func aMessageToSomeoneOfflineIsExitStatusOne() async throws {
        let server = try await startTestServer()
        let client = try startClient(port: server.port, ["grace"])
        try client.write("grace: note to self\nnobody: hello?\ngrace: still here\n")
        try client.closeStdin()
        #expect(try await client.waitForExit() == 1)
        #expect(
            client.stdout
                == "from grace: note to self\nerror: 'nobody' is not online\nfrom grace: still here\n")
        #expect(client.stderr == "chat-client: the server reported an error: 'nobody' is not online\n")
        await server.shutdown()
    }

    /// The client run by a shell, so that its standard descriptors can be redirected or closed.
    private func startClientInShell(port: Int, login: String, redirections: String) throws -> ChildProcess {
        try ChildProcess(
            URL(fileURLWithPath: "/bin/sh"),
            [
                "-c", "exec \"$0\" --plain --port \(port) \(login) \(redirections)",
                ChildProcess.executable("chat-client").path,
            ]
        )
    }

    @Test func anOutputErrorIsNotALostConnection() async throws {
        let server = try await startTestServer()
        let client = try startClientInShell(port: server.port, login: "ivan", redirections: "> /dev/full")
        try client.write("ivan: hello\n")
        #expect(try await client.waitForExit() == 1)
        #expect(client.stderr == "chat-client: cannot write output: no space left on device\n")
        await server.shutdown()
    }

    @Test func closedStandardDescriptorsActAsEmptyInputAndASink() async throws {
        let server = try await startTestServer()
        let watcher = try await LineClient.connect(port: server.port)
        try await watcher.send("judy")
        try await waitUntilOnline(server, count: 1)
        // No stdout: what the server sends goes nowhere, and sending still works.
        let silent = try startClientInShell(port: server.port, login: "kim", redirections: ">&-")
        try silent.write("judy: from kim\n")
        #expect(try await watcher.readLine() == "from kim: from kim")
        try silent.closeStdin()
        #expect(try await silent.waitForExit() == 0)
        #expect(silent.stderr == "")
        // No stdin: nothing to send, so the client logs in, drains and exits at once.
        let mute = try startClientInShell(port: server.port, login: "lee", redirections: "<&-")
        #expect(try await mute.waitForExit() == 0)
        #expect(mute.stderr == "")
        await watcher.close()
        await server.shutdown()
    }

    @Test func anInputLineTooLongToSendIsExitStatusOne() async throws {
        let server = try await startTestServer()
        let client = try startClient(port: server.port, ["mona"])
        try client.write(String(repeating: "x", count: 1024 * 1024 + 10) + "\nmona: after\n")
        try client.closeStdin()
        #expect(try await client.waitForExit() == 1)
        #expect(client.stdout == "from mona: after\n")
        #expect(client.stderr == "chat-client: skipped an input line longer than 1048576 bytes\n")
        await server.shutdown()
    }

    @Test func theLoginArgumentIsCheckedBeforeAnyConnection() async throws {
        let server = try await startTestServer()
        let invalid = try startClient(port: server.port, ["al ice"])
        #expect(try await invalid.waitForExit() == 64)
        #expect(invalid.stderr.hasPrefix("Error: login may not contain a space;"), "\(invalid.stderr)")
        // Quoted as the server quotes names, so that what cannot be seen, or would turn the line
        // around, is written out.
        let hidden = try startClient(port: server.port, ["ab\u{202E}c\u{200B}d\u{1B}"])
        #expect(try await hidden.waitForExit() == 64)
        #expect(hidden.stderr.contains("(LOGIN is 'ab<U+202E>c<U+200B>d<U+001B>')"), "\(hidden.stderr)")
        #expect(try await server.onlineCount() == 0)
        await server.shutdown()
    }

    @Test func unknownHostIsSaidPlainly() async throws {
        let client = try ChildProcess(
            ChildProcess.executable("chat-client"),
            ["--plain", "--host", "no.such.host.invalid", "--port", "1", "x"])
        #expect(try await client.waitForExit() == 1)
        let prefix = "chat-client: cannot connect to no.such.host.invalid:1: "
        // A resolver that cannot reach its name server says so instead; either way it is words.
        let reason =
            client.stderr.hasPrefix(prefix) ? String(client.stderr.dropFirst(prefix.count)) : client.stderr
        #expect(reason == "unknown host\n" || reason.hasPrefix("cannot resolve host: "), "\(client.stderr)")
        #expect(client.stderr.split(separator: "\n").count == 1)
        #expect(!client.stderr.contains("Error"))
    }

    @Test func connectionRefusedIsOneLineAndExitStatusOne() async throws {
        let port = try SparePort.take()
        let client = try startClient(port: port, ["grace"])
        #expect(try await client.waitForExit() == 1)
        #expect(client.stderr == "chat-client: cannot connect to 127.0.0.1:\(port): connection refused\n")
        #expect(client.stdout == "")
    }

    @Test func readsARegularFileAsInput() async throws {
        let server = try await startTestServer()
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("chat-client-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("input.txt")
        // CRLF line endings and no newline at the very end, as files from elsewhere have.
        try Data("heidi\r\nheidi: from a file\r\nheidi: last line".utf8).write(to: input)
        let client = try ChildProcess(
            URL(fileURLWithPath: "/bin/sh"),
            [
                "-c", "exec \"$0\" --plain --port \(server.port) < \"$1\"",
                ChildProcess.executable("chat-client").path, input.path,
            ]
        )
        #expect(try await client.waitForExit() == 0)
        #expect(client.stdout == "from heidi: from a file\nfrom heidi: last line\n")
        #expect(client.stderr == "")
        await server.shutdown()
    }

    @Test func stdoutIsLiveThroughAPipeline() async throws {
        let server = try await startTestServer()
        let bob = try await LineClient.connect(port: server.port)
        try await bob.send("bob")
        let pipeline = try ChildProcess(
            URL(fileURLWithPath: "/bin/sh"),
            [
                "-c", "\"$0\" --plain --port \(server.port) ivan | grep --line-buffered secret",
                ChildProcess.executable("chat-client").path,
            ]
        )
        try await waitUntilOnline(server, count: 2)
        try await bob.send("ivan: public")
        try await bob.send("ivan: secret")
        try await pipeline.waitForStdoutLine { $0 == "from bob: secret" }
        try pipeline.closeStdin()
        #expect(try await pipeline.waitForExit() == 0)
        #expect(pipeline.stdout == "from bob: secret\n")
        await bob.close()
        await server.shutdown()
    }
}

/// Plain mode against the Python port of the tutorial's own server.
@Suite struct TutorialServerTests {
    private func startTutorialServer() async throws -> (ChildProcess, Int) {
        let server = try TestFixtures.python("tutorial_server.py", ["0"])
        let line = try await server.waitForStdoutLine { $0.hasPrefix("listening on ") }
        guard let port = line.split(separator: ":").last.flatMap({ Int($0) }) else {
            throw TestTimeout("no port in \(line)")
        }
        return (server, port)
    }

    /// The tutorial's server keeps a login as it comes, spaces and all: the client trims it, as
    /// ours would, so that others can reach it by its name.
    @Test func theLoginArgumentIsTrimmedForTheTutorialServerToo() async throws {
        let (server, port) = try await startTutorialServer()
        defer { server.terminate() }
        let hal = try ChildProcess(ChildProcess.executable("chat-client"), [" hal ", "--port", "\(port)"])
        try hal.write("hal: hi\n")
        try await hal.waitForStdoutLine { $0 == "from hal: hi" }
        try hal.closeStdin()
        #expect(try await hal.waitForExit() == 0)
    }

    @Test func chatsAndDrainsAgainstTheTutorialServer() async throws {
        let (server, port) = try await startTutorialServer()
        defer { server.terminate() }
        let alice = try ChildProcess(ChildProcess.executable("chat-client"), ["alice", "--port", "\(port)"])
        // The tutorial server sends nothing on login; a message to oneself shows alice is in.
        try alice.write("alice: ready\n")
        try await alice.waitForStdoutLine { $0 == "from alice: ready" }

        let bob = try ChildProcess(ChildProcess.executable("chat-client"), ["--plain", "--port", "\(port)"])
        try bob.write("bob\nalice: hi from bob\n")
        try await alice.waitForStdoutLine { $0 == "from bob: hi from bob" }
        try bob.closeStdin()
        #expect(try await bob.waitForExit() == 0)

        try alice.closeStdin()
        #expect(try await alice.waitForExit() == 0)
        #expect(alice.stderr == "")
    }
}
