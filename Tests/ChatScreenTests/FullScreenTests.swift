import ChatScreen
import ChatServer
import ChatTestSupport
import Foundation
import Testing

/// The full-screen client in a real terminal: tmux at 80 × 24 with TERM=xterm-256color, typing
/// with send-keys and reading the screen back with capture-pane. Rows 0 to 21 are the
/// scrollback, row 22 the status line, row 23 the input line.
@Suite(.serialized) struct FullScreenTests {
    static let client = ChildProcess.executable("chat-client").path
    static let statusRow = 22
    static let inputRow = 23

    func startScreen(port: Int, _ arguments: String = "alice") throws -> TmuxSession {
        try TmuxSession(command: "\(Self.client) --port \(port) --no-timestamps \(arguments)")
    }

    static func inputLine(_ screen: [String]) -> String {
        screen.count > inputRow ? screen[inputRow] : ""
    }

    @Test func twoUsersExchangeLines() async throws {
        let server = try await startTestServer()
        let tmux = try startScreen(port: server.port)
        defer { tmux.kill() }
        try await tmux.waitForText("-- logging in as alice")
        let bob = try await connectBob(to: server)

        try await bob.send("alice: hi alice")
        try await tmux.waitForText("bob: hi alice")

        // Tab completes the login just seen; Enter sends and clears the input.
        try tmux.type("b")
        try tmux.press("Tab")
        try tmux.type("hi bob")
        try await tmux.waitForScreen { Self.inputLine($0) == "> bob: hi bob" }
        try tmux.press("Enter")
        #expect(try await bob.readLine() == "from alice: hi bob")
        let screen = try await tmux.waitForText("→ bob: hi bob")
        #expect(Array(screen[20...21]) == ["bob: hi alice", "→ bob: hi bob"])
        #expect(screen[Self.statusRow].hasPrefix(" alice | 127.0.0.1:\(server.port) | connected"))
        #expect(screen[Self.inputRow] == ">")
        try await tmux.waitForCursor(x: 2, y: Self.inputRow)

        // Up brings the sent line back.
        try tmux.press("Up")
        try await tmux.waitForScreen { Self.inputLine($0) == "> bob: hi bob" }
        await bob.close()
        await server.shutdown()
    }

    @Test func wideCharactersTypedAndReceivedKeepTheCursorRight() async throws {
        let server = try await startTestServer()
        let tmux = try startScreen(port: server.port)
        defer { tmux.kill() }
        try await tmux.waitForText("-- logging in as alice")
        let bob = try await connectBob(to: server)

        try await bob.send("alice: 你好世界 and 😀 and café")
        try await tmux.waitForText("bob: 你好世界 and 😀 and café")

        try tmux.type("bob: 日本語")
        // "> bob: " is 7 columns, each of the three characters 2.
        try await tmux.waitForCursor(x: 13, y: Self.inputRow)
        try tmux.press("BSpace")
        try await tmux.waitForScreen { Self.inputLine($0) == "> bob: 日本" }
        try await tmux.waitForCursor(x: 11, y: Self.inputRow)
        try tmux.type("😀e\u{301}")
        try await tmux.waitForCursor(x: 14, y: Self.inputRow)
        try tmux.press("Left", "Left")
        try await tmux.waitForCursor(x: 11, y: Self.inputRow)
        try tmux.press("Enter")
        #expect(try await bob.readLine() == "from alice: 日本😀e\u{301}")

        // A long line of wide characters wraps by display width: every row full, none cut.
        let wide = String(repeating: "世", count: 50)
        try await bob.send("alice: \(wide)")
        // Both rows: a capture may come between the terminal drawing the first and the second.
        let screen = try await tmux.waitForScreen("both rows of the wide line") { screen in
            guard let start = screen.firstIndex(where: { $0.hasPrefix("bob: 世世") }) else { return false }
            return start + 1 < screen.count && !screen[start + 1].isEmpty
        }
        let start = try #require(screen.firstIndex { $0.hasPrefix("bob: 世世") })
        #expect(screen[start] == "bob: " + String(repeating: "世", count: 37))
        #expect(screen[start + 1] == String(repeating: "世", count: 13))
        await bob.close()
        await server.shutdown()
    }

    @Test func editingKeysWorkAsInReadline() async throws {
        let server = try await startTestServer()
        let tmux = try startScreen(port: server.port)
        defer { tmux.kill() }
        try await tmux.waitForText("-- logging in as alice")
        try tmux.type("world")
        try tmux.press("Home")
        try tmux.type("bob: hello ")
        try await tmux.waitForScreen { Self.inputLine($0) == "> bob: hello world" }
        try await tmux.waitForCursor(x: 13, y: Self.inputRow)
        try tmux.press("End")
        try await tmux.waitForCursor(x: 18, y: Self.inputRow)
        try tmux.press("C-w")
        try await tmux.waitForScreen { Self.inputLine($0) == "> bob: hello" }
        try tmux.press("C-a", "Delete", "C-e")
        try await tmux.waitForScreen { Self.inputLine($0) == "> ob: hello" }
        // The line ends in the space C-w left: two Lefts land before "o ".
        try tmux.press("Left", "Left", "C-k")
        try await tmux.waitForScreen { Self.inputLine($0) == "> ob: hell" }
        try tmux.press("C-u")
        try await tmux.waitForScreen { Self.inputLine($0) == ">" }
        try await tmux.waitForCursor(x: 2, y: Self.inputRow)
        await server.shutdown()
    }

    @Test func resizeKeepsHistoryAndPageUpScrolls() async throws {
        let server = try await startTestServer()
        let tmux = try startScreen(port: server.port)
        defer { tmux.kill() }
        try await tmux.waitForText("-- logging in as alice")
        let bob = try await connectBob(to: server)
        for index in 1...40 { try await bob.send("alice: line \(index)") }
        try await tmux.waitForText("bob: line 40")

        try tmux.resize(width: 40, height: 12)
        var screen = try await tmux.waitForScreen { $0.count == 12 && $0[9] == "bob: line 40" }
        #expect(screen[10].hasPrefix(" alice | 127.0.0.1:"))
        try await tmux.waitForCursor(x: 2, y: 11)

        try tmux.press("PPage")
        screen = try await tmux.waitForText("more below")
        #expect(screen[9] == "bob: line 31")
        try tmux.press("PPage", "PPage", "PPage", "PPage", "PPage")
        screen = try await tmux.waitForText("-- connecting to")
        #expect(screen[0] == "-- connecting to 127.0.0.1:\(server.port)")

        // Back to full size: still scrolled to the top, the pane filled from there down.
        try tmux.resize(width: 80, height: 24)
        screen = try await tmux.waitForScreen { $0.count == 24 && $0[Self.statusRow].contains("more below") }
        #expect(screen[0].hasPrefix("-- connecting to"))
        #expect(screen[21] == "bob: line 19")
        try tmux.press("End")
        screen = try await tmux.waitForScreen { $0.count == 24 && $0[21] == "bob: line 40" }
        #expect(screen[0] == "bob: line 19")
        #expect(!screen[Self.statusRow].contains("more below"))
        await bob.close()
        await server.shutdown()
    }

    @Test func shrinkingShowsExactlyWhatCtrlLWould() async throws {
        #expect(utf8LocaleIsReady)
        let server = try await startTestServer()
        let tmux = try startScreen(port: server.port)
        defer { tmux.kill() }
        try await tmux.waitForText("-- logging in as alice")
        let bob = try await connectBob(to: server)
        let texts = (1...6).map { index in
            String(repeating: "这是一个很长的中文句子", count: 2) + " and long ascii text that wraps \(index)"
        }
        for text in texts { try await bob.send("alice: \(text)") }
        try await tmux.waitForText("wraps 6")

        // The 30-column layout and nothing else: the last 8 rows of the conversation, and the
        // status line cut to fit (tmux cuts the old one without the "…").
        let layout = TranscriptLayout(width: 30, showsTimestamps: false)
        let rows = texts.flatMap { text in
            layout.rows(for: TranscriptEntry(time: 0, kind: .message(from: "bob", text: text))).map { row in
                var line = row.text
                while line.hasSuffix(" ") { line.removeLast() }
                return line
            }
        }
        try tmux.resize(width: 30, height: 10)
        let resized = try await tmux.waitForScreen("the 30-column layout") {
            $0.count == 10 && Array($0[..<8]) == Array(rows.suffix(8))
                && $0[8].hasPrefix(" alice | connected")
        }
        // Ctrl-L, then a key whose echo shows that both were handled and drawn.
        try tmux.press("C-l")
        try tmux.type("x")
        let repainted = try await tmux.waitForScreen { $0.count == 10 && $0[9] == "> x" }
        #expect(Array(resized[..<9]) == Array(repainted[..<9]))
        await bob.close()
        await server.shutdown()
    }

    @Test func emojiJoinedWithZWJKeepPromptCursorAndText() async throws {
        let server = try await startTestServer()
        let tmux = try startScreen(port: server.port)
        defer { tmux.kill() }
        try await tmux.waitForText("-- logging in as alice")
        let bob = try await connectBob(to: server)
        let family = "👨\u{200D}👩\u{200D}👧"

        try tmux.type("x\(family)y")
        // "> " 2, x 1, the family as its three parts 6, y 1.
        try await tmux.waitForCursor(x: 10, y: Self.inputRow)
        try tmux.press("Left")
        try await tmux.waitForCursor(x: 9, y: Self.inputRow)
        #expect(Self.inputLine(try tmux.screen()) == "> x👨👩👧y")
        try tmux.press("BSpace")
        try await tmux.waitForScreen { Self.inputLine($0) == "> xy" }
        try await tmux.waitForCursor(x: 3, y: Self.inputRow)

        // The wire carries exactly what was typed, joiners and all.
        try tmux.press("End", "C-u")
        try tmux.type("bob: \(family) ❤\u{FE0F}\u{200D}🔥")
        try tmux.press("Enter")
        #expect(try await bob.readLine() == "from alice: \(family) ❤\u{FE0F}\u{200D}🔥")

        try await bob.send("alice: \(family) 🏳\u{FE0F}\u{200D}🌈 👨\u{200D}💻 ❤\u{FE0F}\u{200D}🔥 end")
        let screen = try await tmux.waitForText(" end")
        #expect(Array(screen[20...21]) == ["→ bob: 👨👩👧 ❤🔥", "bob: 👨👩👧 🏳🌈 👨💻 ❤🔥 end"])
        #expect(screen[Self.statusRow].hasPrefix(" alice | 127.0.0.1:\(server.port) | connected"))
        #expect(screen[Self.inputRow] == ">")
        try await tmux.waitForCursor(x: 2, y: Self.inputRow)
        await bob.close()
        await server.shutdown()
    }

    @Test func wordKeysMoveAndDeleteByWords() async throws {
        let server = try await startTestServer()
        let tmux = try startScreen(port: server.port)
        defer { tmux.kill() }
        try await tmux.waitForText("-- logging in as alice")
        try tmux.type("bob: hello world")
        try await tmux.waitForCursor(x: 18, y: Self.inputRow)
        try tmux.press("M-b")
        try await tmux.waitForCursor(x: 13, y: Self.inputRow)
        try tmux.press("C-Left")
        try await tmux.waitForCursor(x: 7, y: Self.inputRow)
        try tmux.press("M-f")
        try await tmux.waitForCursor(x: 12, y: Self.inputRow)
        try tmux.press("C-Right")
        try await tmux.waitForCursor(x: 18, y: Self.inputRow)
        try tmux.press("Escape", "b")
        try await tmux.waitForCursor(x: 13, y: Self.inputRow)
        try tmux.press("End", "M-BSpace")
        try await tmux.waitForScreen { Self.inputLine($0) == "> bob: hello" }
        try await tmux.waitForCursor(x: 13, y: Self.inputRow)
        await server.shutdown()
    }

    @Test func floodOfLinesNeverDelaysTypingAndScrollbackStaysBounded() async throws {
        let server = try await startTestServer()
        let tmux = try startScreen(port: server.port, "--scrollback-lines 100 alice")
        defer { tmux.kill() }
        try await tmux.waitForText("-- logging in as alice")
        let bob = try await connectBob(to: server)
        let first = 20_000
        try await bob.sendRaw((1...first).map { "alice: flood \($0)\n" }.joined())
        // The flood goes on until the typing shows, so the typing shows during it: typing that
        // waited for the flood to end would never show. Whatever a loaded machine makes of how
        // long it takes, which a bound of 3 s on it did not allow for.
        let flooding = Task {
            var sent = first
            while !Task.isCancelled {
                try await bob.sendRaw((sent + 1...sent + 2000).map { "alice: flood \($0)\n" }.joined())
                sent += 2000
            }
            return sent
        }
        defer { flooding.cancel() }
        try tmux.type("bob: typed during the flood")
        try await tmux.waitForScreen { Self.inputLine($0) == "> bob: typed during the flood" }
        flooding.cancel()
        let lines = try await flooding.value
        try tmux.press("Enter")
        #expect(try await bob.readLine() == "from alice: typed during the flood")

        try await tmux.waitForScreen { screen in
            screen.contains("bob: flood \(lines)") || screen.contains("→ bob: typed during the flood")
        }
        try await tmux.waitForText("bob: flood \(lines)")
        for _ in 0..<10 { try tmux.press("PPage") }
        let top = try await tmux.waitForText("more below")
        let oldest = top.compactMap { row -> Int? in
            guard row.hasPrefix("bob: flood ") else { return nil }
            return Int(row.dropFirst("bob: flood ".count))
        }.min()
        #expect(try #require(oldest) > lines - 100)
        await bob.close()
        await server.shutdown()
    }

    @Test func withoutReconnectingARefusedConnectionIsShownUntilTheUserQuits() async throws {
        let port = try SparePort.take()
        let screen = try ScreenRecordingExit(port: port, "--no-timestamps --no-reconnect alice")
        defer { screen.close() }
        let tmux = screen.tmux
        let reason = "cannot connect to 127.0.0.1:\(port): connection refused"
        let shown = try await tmux.waitForText("-- \(reason)")
        #expect(shown[Self.statusRow] == " alice | 127.0.0.1:\(port) | disconnected: connection refused")
        try tmux.type("/quit")
        try tmux.press("Enter")
        #expect(try await screen.exitStatus() == "1\n")
    }

    @Test func quittingWhileStillConnectingIsImmediate() async throws {
        let listener = try UnansweredListener()
        defer { listener.close() }
        // A connect timeout of 600 s: however slow a loaded machine is, the client is still
        // connecting when the test quits it, and a quit that waited for the connect to end would
        // overrun the wait for the exit by minutes (the kernel gives up after about two).
        let recording = try ScreenRecordingExit(
            port: listener.port, "--no-timestamps --connect-timeout 600 alice")
        defer { recording.close() }
        let tmux = recording.tmux
        try await tmux.waitForText("-- connecting to 127.0.0.1:\(listener.port)")
        // The connect is left unanswered (a full accept queue drops the handshake), so the
        // client stays in "connecting" for its whole connect timeout.
        try await Task.sleep(for: .milliseconds(300))
        #expect(try tmux.screen()[Self.statusRow].contains("| connecting"))
        // Enter does not pretend to send: a remark says so, and pasted lines stay apart.
        try tmux.type("bob: are you there?\rbob: hello?\r")
        let screen = try await tmux.waitForText("): bob: hello?")
        #expect(screen.contains("-- not sent (not connected yet; Up brings it back): bob: are you there?"))
        #expect(screen.contains("-- not sent (not connected yet; Up brings it back): bob: hello?"))
        #expect(screen[Self.inputRow] == ">")
        #expect(!screen.contains { $0.contains("→") })
        try tmux.press("Up")
        try await tmux.waitForScreen { Self.inputLine($0) == "> bob: hello?" }
        try tmux.press("C-c")
        #expect(try await recording.exitStatus() == "0\n")
    }

    @Test func talksToTheTutorialServer() async throws {
        let server = try TestFixtures.python("tutorial_server.py", ["0"])
        defer { server.terminate() }
        let line = try await server.waitForStdoutLine { $0.hasPrefix("listening on ") }
        let port = try #require(line.split(separator: ":").last.flatMap { Int($0) })
        let tmux = try TmuxSession(command: "\(Self.client) --port \(port) --no-timestamps")
        defer { tmux.kill() }
        try await tmux.waitForText("-- connected to")
        try await tmux.waitForScreen { Self.inputLine($0) == "login:" }
        // The tutorial's server keeps a login as it comes; the client sends it trimmed.
        try tmux.type("alice ")
        try tmux.press("Enter")
        try await tmux.waitForText("-- logging in as alice")
        try tmux.type("alice: hello me")
        try tmux.press("Enter")
        try await tmux.waitForText("alice: hello me")
        let screen = try await tmux.waitForScreen {
            $0.contains("alice: hello me") && $0.contains("→ alice: hello me")
        }
        #expect(screen[Self.statusRow].hasPrefix(" alice | 127.0.0.1:\(port) | connected"))
    }
}
