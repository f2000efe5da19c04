import ChatScreen
import ChatServer
import ChatTestSupport
import Foundation
import Testing

/// Terminals other than the 80 × 24 xterm of `FullScreenTests`.
@Suite(.serialized) struct OtherTerminalTests {
    @Test func smallTerminalScrollsAndSaysWhenItIsTooSmall() async throws {
        let server = try await startTestServer()
        let tmux = try TmuxSession(
            command: "\(FullScreenTests.client) --port \(server.port) --no-timestamps alice", width: 20,
            height: 8)
        defer { tmux.kill() }
        try await tmux.waitForText("-- logging in as")
        let bob = try await LineClient.connect(port: server.port)
        try await bob.send("bob")
        try await bob.send("bob: ready")
        #expect(try await bob.readLine() == "from bob: ready")
        try await bob.sendRaw((1...12).map { "alice: line \($0)\n" }.joined())
        try await tmux.waitForText("bob: line 12")
        // The scroll hint is wider than the status line: it is shortened, not a crash.
        try tmux.press("PPage")
        let screen = try await tmux.waitForScreen { $0.count == 8 && $0[6].hasSuffix(" below") }
        #expect(screen[6] == " alice | c… 5 below")
        try tmux.resize(width: 10, height: 8)
        try await tmux.waitForScreen { $0.first == "too small" }
        #expect(tmux.isRunning)
        await bob.close()
        await server.shutdown()
    }

    @Test func unknownEscapeSequencesInsertNothing() async throws {
        let server = try await startTestServer()
        // screen's terminfo lacks xterm's modified arrow keys, so curses passes them on raw.
        let tmux = try TmuxSession(
            command: "\(FullScreenTests.client) --port \(server.port) --no-timestamps alice", term: "screen")
        defer { tmux.kill() }
        try await tmux.waitForText("-- logging in as alice")
        try tmux.type("ab")
        try tmux.press("S-Left", "M-Left", "S-Right", "C-Up", "M-b")
        try tmux.type("c")
        try await tmux.waitForScreen { $0.count == 24 && $0[23] == "> cab" }
        await server.shutdown()
    }

    @Test func aTerminalThatCannotMoveTheCursorGetsPlainMode() async throws {
        let server = try await startTestServer()
        let tmux = try TmuxSession(
            command: "\(FullScreenTests.client) --port \(server.port) alice", term: "dumb")
        defer { tmux.kill() }
        try await tmux.waitForText("chat-client: cannot run full screen (TERM=dumb); using plain mode")
        let bob = try await LineClient.connect(port: server.port)
        try await bob.send("bob")
        try await bob.send("bob: ready")
        #expect(try await bob.readLine() == "from bob: ready")
        try tmux.type("bob: plain\r")
        #expect(try await bob.readLine() == "from alice: plain")
        #expect(try !tmux.screen().contains { $0.contains("| connected") })
        await bob.close()
        await server.shutdown()
    }
}

/// Text from a peer that would steer the terminal is shown, never obeyed.
@Suite(.serialized) struct HostileTextScreenTests {
    @Test func controlCharactersInMessagesAreShownNotInterpreted() async throws {
        let server = try await startTestServer()
        let tmux = try startClientScreen(port: server.port, "--no-timestamps alice")
        defer { tmux.kill() }
        try await tmux.waitForText("-- logging in as alice")
        let title = try await tmux.waitForDisplay("#{pane_title}") { $0.hasPrefix("alice") }
        let bob = try await LineClient.connect(port: server.port)
        try await bob.send("bob")
        try await bob.send("alice: a\rfrom mallory: b")
        try await bob.send("alice: \u{1B}[2J\u{1B}[Hcleared? \u{1B}]2;pwned\u{7}")
        try await bob.send("alice: x\u{2028}y \u{202E}desrever\u{202C} \u{85}end")
        let screen = try await tmux.waitForText("end")
        #expect(screen.contains("bob: a\u{240D}from mallory: b"))
        #expect(screen.contains("bob: \u{241B}[2J\u{241B}[Hcleared? \u{241B}]2;pwned\u{2407}"))
        #expect(screen.contains("bob: x<U+2028>y <U+202E>desrever<U+202C> <U+0085>end"))
        // Nothing was cleared, and the title is still the client's.
        #expect(screen.contains("-- logging in as alice"))
        #expect(!screen.contains { $0.hasPrefix("from mallory") })
        #expect(try tmux.display("#{pane_title}") == title)
        await bob.close()
        await server.shutdown()
    }
}
