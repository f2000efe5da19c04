import ChatTestSupport
import Testing

/// A login the server refuses, given on the command line or typed, in the full screen.
extension FullScreenTests {
    @Test func refusedLoginArgumentSaysToRestartAndIsNotShownAsTheUsers() async throws {
        let server = try await startTestServer()
        let bob = try await connectBob(to: server, online: 1)
        let tmux = try startScreen(port: server.port, "bob")
        defer { tmux.kill() }
        let screen = try await tmux.waitForText(
            "-- login refused; restart with another login, or /reconnect to retry")
        let notice = try #require(screen.firstIndex(of: "-!- login 'bob' is already online"))
        #expect(screen[notice + 1] == "-- login refused; restart with another login, or /reconnect to retry")
        #expect(
            screen[Self.statusRow]
                == " bob (refused) | 127.0.0.1:\(server.port) | disconnected: login 'bob' is already online")
        // No second connection: the server still has bob alone.
        try await Task.sleep(for: .milliseconds(200))
        #expect(try await server.onlineCount() == 1)
        #expect(try tmux.screen().filter { $0.hasPrefix("-- connected to") }.count == 1)
        await bob.close()
        await server.shutdown()
    }

    @Test func refusedTypedLoginAsksForAnotherOnANewConnection() async throws {
        let server = try await startTestServer()
        let bob = try await connectBob(to: server, online: 1)
        let tmux = try startScreen(port: server.port, "")
        defer { tmux.kill() }
        try await tmux.waitForScreen {
            Self.inputLine($0) == "login:" && $0.contains { $0.hasPrefix("-- connected") }
        }
        try tmux.type("bob\r")
        let refused = "-- login refused; enter another login (Up brings it back)"
        var screen = try await tmux.waitForScreen {
            Self.inputLine($0) == "login:" && $0[Self.statusRow].hasSuffix("| connected")
                && $0.contains(refused)
        }
        let notice = try #require(screen.firstIndex(of: "-!- login 'bob' is already online"))
        #expect(screen[notice + 1] == refused)
        #expect(screen[Self.statusRow] == " (no login yet) | 127.0.0.1:\(server.port) | connected")
        try tmux.press("Up")
        try await tmux.waitForScreen { Self.inputLine($0) == "login: bob" }

        // The new connection takes the next login, and lines both ways.
        try tmux.press("C-u")
        try tmux.type("carol\r")
        try await tmux.waitForText("-- logging in as carol")
        try await waitUntilOnline(server, count: 2)
        try await bob.send("carol: welcome")
        try await tmux.waitForText("bob: welcome")
        try tmux.type("bob: thanks\r")
        #expect(try await bob.readLine() == "from carol: thanks")
        screen = try await tmux.waitForText("→ bob: thanks")
        #expect(screen[Self.statusRow].hasPrefix(" carol | 127.0.0.1:\(server.port) | connected"))
        await bob.close()
        await server.shutdown()
    }
}
