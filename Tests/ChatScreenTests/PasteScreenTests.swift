import ChatScreen
import ChatServer
import ChatTestSupport
import Foundation
import Testing

/// Pasting into the full screen, with and without bracketed paste, and lines pasted right
/// behind a login.
@Suite(.serialized) struct PasteScreenTests {
    private static let inputRow = FullScreenTests.inputRow

    /// Text copied from a table keeps its Tabs: inside a bracketed paste a Tab is text, not the
    /// completion key, and goes out as it was pasted. A terminal without bracketed paste sends
    /// the same bytes as typed keys, so there a Tab completes, as it always did.
    @Test func aTabInABracketedPasteIsSentNotCompleted() async throws {
        let server = try await startTestServer()
        let tmux = try startClientScreen(port: server.port, "--no-timestamps alice")
        defer { tmux.kill() }
        try await tmux.waitForText("-- logging in as alice")
        let bob = try await connectBob(to: server)
        let carol = try await LineClient.connect(port: server.port)
        try await carol.send("carol")
        try await waitUntilOnline(server, count: 3)
        // carol becomes a completion for the "c" before the Tab.
        try await carol.send("alice: hi")
        try await tmux.waitForText("carol: hi")

        try tmux.paste("bob: col1 c\tcol2\n", bracketed: true)
        #expect(try await bob.readLine() == "from alice: col1 c\tcol2")
        // On the screen the Tab is white space, as in a message received.
        try await tmux.waitForText("→ bob: col1 c col2")
        try await tmux.waitForScreen { $0.count > Self.inputRow && $0[Self.inputRow] == ">" }

        try tmux.paste("bob: col1 c\tcol2\n", bracketed: false)
        let unbracketed = try #require(try await bob.readLine())
        #expect(unbracketed.hasPrefix("from alice: col1 carol"), "\(unbracketed)")
        #expect(!unbracketed.contains("\t"))
        await carol.close()
        await bob.close()
        await server.shutdown()
    }

    /// A Ctrl-C or Ctrl-Z copied along with some text neither quits nor suspends the client
    /// when pasted: it is dropped, and the rest of the line goes out.
    @Test func controlCharactersInABracketedPasteAreNotObeyed() async throws {
        let server = try await startTestServer()
        let tmux = try startClientScreen(port: server.port, "--no-timestamps alice")
        defer { tmux.kill() }
        try await tmux.waitForText("-- logging in as alice")
        let bob = try await connectBob(to: server)
        try tmux.paste("bob: a\u{03}b\u{1A}c\u{7F}\nbob: still here\n", bracketed: true)
        #expect(try await bob.readLine() == "from alice: abc")
        #expect(try await bob.readLine() == "from alice: still here")
        try await tmux.waitForText("→ bob: still here")
        await bob.close()
        await server.shutdown()
    }

    /// A long pasted line goes into the input at once, not character by character: one by one,
    /// each re-reading the whole line, 10,000 characters took 6 s and 40,000 over a minute and a
    /// half, with the screen frozen. It is shown, and Enter sends it whole.
    @Test func aLongPastedLineIsTakenAtOnce() async throws {
        let server = try await startTestServer()
        let tmux = try startClientScreen(port: server.port, "--no-timestamps alice")
        defer { tmux.kill() }
        try await tmux.waitForText("-- logging in as alice")
        let bob = try await connectBob(to: server)
        let text = String(repeating: "0123456789", count: 4000)
        try tmux.paste("bob: \(text)", bracketed: true)
        // Drawn before it is sent: the window onto the line moves to its end at once (it moved
        // one character at a time, summing the line's widths at each step).
        try await tmux.waitForScreen {
            $0.count > Self.inputRow && $0[Self.inputRow].hasSuffix("56789") && $0[Self.inputRow].count > 70
        }
        try tmux.press("Enter")
        #expect(try await bob.readLine(timeout: .seconds(60)) == "from alice: \(text)")
        await bob.close()
        await server.shutdown()
    }

    /// The server refuses a login and closes without delivering what came behind it; the lines
    /// were shown as sent the moment they went, so a remark says they were not delivered.
    @Test func linesPastedBehindARefusedLoginAreSaidNotDelivered() async throws {
        let server = try await startTestServer()
        let bob = try await connectBob(to: server, online: 1)
        let tmux = try startClientScreen(port: server.port, "--no-timestamps")
        defer { tmux.kill() }
        try await tmux.waitForScreen {
            $0.count > Self.inputRow && $0[Self.inputRow] == "login:"
                && $0.contains { $0.hasPrefix("-- connected") }
        }
        try tmux.type("bob\rbob: pasted line\rbob: second pasted\r")
        let screen = try await tmux.waitForText("-- login refused; enter another login (Up brings it back)")
        let remark =
            "-- 2 lines not delivered (login refused; Up brings them back)"
        let notice = try #require(screen.firstIndex(of: "-!- login 'bob' is already online"))
        #expect(screen[notice + 1] == remark)
        try tmux.press("Up", "Up")
        try await tmux.waitForScreen {
            $0.count > Self.inputRow && $0[Self.inputRow] == "login: bob: second pasted"
        }
        // bob, who was online all along, got nothing.
        try await bob.expectSilence(for: .milliseconds(300))
        await bob.close()
        await server.shutdown()
    }
}
