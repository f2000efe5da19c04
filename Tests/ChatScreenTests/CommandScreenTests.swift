import ChatServer
import ChatTestSupport
import Foundation
import Testing

/// `/help`, `/search` and Ctrl-R, completion after the `:`, the mouse wheel, and the sender
/// colours of a 256-colour and an 8-colour terminal, in tmux.
@Suite(.serialized) struct CommandScreenTests {
    static let statusRow = FullScreenTests.statusRow

    /// alice's screen and bob, logged in, with `lines` from bob already shown.
    private func chat(
        _ server: ChatServer, arguments: String = "", term: String = "xterm-256color", lines: Int = 0
    ) async throws -> (TmuxSession, LineClient) {
        let tmux = try startClientScreen(port: server.port, "--no-timestamps \(arguments) alice", term: term)
        try await tmux.waitForText("-- logging in as alice")
        let bob = try await connectBob(to: server)
        for index in stride(from: 1, through: lines, by: 1) { try await bob.send("alice: line \(index)") }
        if lines > 0 { try await tmux.waitForText("bob: line \(lines)") }
        return (tmux, bob)
    }

    @Test func helpListsCommandsAndKeys() async throws {
        let server = try await startTestServer()
        let (tmux, bob) = try await chat(server)
        defer { tmux.kill() }
        try tmux.type("/help\r")
        let screen = try await tmux.waitForText("--   /quit: ")
        for command in ["/help", "/search TEXT", "/clear", "/reconnect"] {
            #expect(screen.contains { $0.hasPrefix("--   \(command): ") }, "\(command)")
        }
        #expect(screen.contains { $0.hasPrefix("--   Tab: ") })
        #expect(screen.last == ">")
        await bob.close()
        await server.shutdown()
    }

    /// The rows drawn in reverse video: the search's match.
    private func highlightedRows(_ tmux: TmuxSession) throws -> [String] {
        try tmux.styledScreen().filter { row in !row.isEmpty && row.allSatisfy { $0.attributes.contains(7) } }
            .map(\.text).filter { !$0.hasPrefix(" alice |") }
    }

    @Test func searchJumpsToTheNewestMatchThenOlderOnes() async throws {
        let server = try await startTestServer()
        let (tmux, bob) = try await chat(server, lines: 60)
        defer { tmux.kill() }
        try tmux.type("/search LINE 5\r")
        // The newest line with "line 5", in any case, is line 59: the lowest row, highlighted.
        // Both in one capture's condition: tmux can be caught between drawing the pane and the
        // status line of one frame.
        try await tmux.waitForScreen {
            $0.count > 21 && $0[21] == "bob: line 59" && $0[Self.statusRow].contains("more below")
        }
        #expect(try highlightedRows(tmux) == ["bob: line 59"])
        try tmux.press("C-r")
        try await tmux.waitForScreen { $0.count > 21 && $0[21] == "bob: line 58" }
        #expect(try highlightedRows(tmux) == ["bob: line 58"])
        // Typed text and Ctrl-R: that text, from the newest line down.
        try tmux.type("line 4")
        try tmux.press("C-r")
        try await tmux.waitForScreen { $0.count > 21 && $0[21] == "bob: line 49" && $0.last == ">" }
        #expect(try highlightedRows(tmux) == ["bob: line 49"])
        // A match near the top shows where it is, the pane still full.
        try tmux.type("/search line 2\r")
        try await tmux.waitForScreen { $0.count > 21 && $0[21] == "bob: line 29" }
        for _ in 1...10 { try tmux.press("C-r") }
        try await tmux.waitForScreen {
            $0.contains("bob: line 2") && $0[Self.statusRow].contains("more below")
        }
        try await tmux.waitForScreen { _ in (try? highlightedRows(tmux)) == ["bob: line 2"] }
        try tmux.press("End")
        try await tmux.waitForScreen { $0.count > 21 && $0[21] == "bob: line 60" }
        #expect(try highlightedRows(tmux).isEmpty)
        // Back at the bottom, the same search starts from the newest line again.
        try tmux.type("/search line 2\r")
        try await tmux.waitForScreen { $0.count > 21 && $0[21] == "bob: line 29" }
        await bob.close()
        await server.shutdown()
    }

    @Test func tabAfterTheColonCompletesAMention() async throws {
        let server = try await startTestServer()
        let (tmux, bob) = try await chat(server)
        defer { tmux.kill() }
        try await bob.send("alice: hi")
        try await tmux.waitForText("bob: hi")
        try tmux.type("bob: thanks b")
        try tmux.press("Tab")
        try await tmux.waitForScreen { $0.last == "> bob: thanks bob" }
        try tmux.type("!")
        try tmux.press("Tab")
        try tmux.press("Enter")
        #expect(try await bob.readLine() == "from alice: thanks bob !")
        await bob.close()
        await server.shutdown()
    }

    @Test func theMouseWheelScrolls() async throws {
        let server = try await startTestServer()
        let (tmux, bob) = try await chat(server, lines: 40)
        defer { tmux.kill() }
        // xterm's wheel report (SGR form, as TERM=xterm-256color's terminfo announces it).
        try tmux.type("\u{1B}[<64;10;10M")
        try await tmux.waitForScreen { $0.count > 21 && $0[21] == "bob: line 37" }
        try tmux.type("\u{1B}[<65;10;10M")
        let screen = try await tmux.waitForScreen { $0.count > 21 && $0[21] == "bob: line 40" }
        #expect(!screen[Self.statusRow].contains("more below"))
        #expect(screen.last == ">")
        await bob.close()
        await server.shutdown()
    }

    /// The colour of each sender's name, as tmux holds it.
    private func senderColours(term: String) async throws -> [String: String] {
        let server = try await startTestServer()
        let (tmux, bob) = try await chat(server, term: term)
        defer { tmux.kill() }
        let senders = (1...14).map { "sender\($0)" }
        var clients: [LineClient] = []
        for sender in senders {
            let client = try await LineClient.connect(port: server.port)
            try await client.send(sender)
            clients.append(client)
        }
        for client in clients { try await client.send("alice: hello") }
        try await tmux.waitForScreen { screen in senders.allSatisfy { screen.contains("\($0): hello") } }
        var colours: [String: String] = [:]
        for row in try tmux.styledScreen() {
            guard let sender = senders.first(where: { row.text.hasPrefix("\($0): ") }) else { continue }
            colours[sender] = row.first?.foreground ?? "default"
        }
        for client in clients { await client.close() }
        await bob.close()
        await server.shutdown()
        return colours
    }

    @Test func sendersGetManyColoursOnA256ColourTerminal() async throws {
        let colours = try await senderColours(term: "xterm-256color")
        #expect(colours.count == 14)
        #expect(Set(colours.values).count > 4)
        // Never red (the notices') or cyan (the remarks'), in either palette's numbering.
        #expect(colours.values.allSatisfy { $0.hasPrefix("38;5;") || ["32", "33", "34", "35"].contains($0) })
        #expect(!colours.values.contains { ["31", "36", "91", "96", "38;5;1", "38;5;6"].contains($0) })
    }

    @Test func sendersGetTheFourBasicColoursOnAnEightColourTerminal() async throws {
        let colours = try await senderColours(term: "xterm")
        #expect(colours.count == 14)
        #expect(Set(colours.values).isSubset(of: ["32", "33", "34", "35"]))
        #expect(Set(colours.values).count > 2)
    }
}
