import ChatScreen
import ChatServer
import ChatTestSupport
import Foundation
import Testing

/// What asks for the user's attention, in a real terminal: the bell (`#{window_bell_flag}`), the
/// window title (`#{pane_title}`), highlighted mentions; and the log a killed client leaves.
@Suite(.serialized) struct AttentionScreenTests {
    @Test func aMessageWhileScrolledUpRingsAndCountsInTheTitle() async throws {
        let server = try await startTestServer()
        let tmux = try startClientScreen(port: server.port, "--no-timestamps alice")
        defer { tmux.kill() }
        try await tmux.waitForText("-- logging in as alice")
        let bob = try await connectBob(to: server)
        let title = "alice - a-chat 127.0.0.1:\(server.port)"
        try await tmux.waitForDisplay("#{pane_title}") { $0 == title }
        // Seen at once: no bell, no count.
        for index in 1...30 { try await bob.send("alice: line \(index)") }
        try await tmux.waitForText("bob: line 30")
        #expect(try tmux.display("#{window_bell_flag}") == "0")
        #expect(try tmux.display("#{pane_title}") == title)

        try tmux.press("PPage")
        try await tmux.waitForText("more below")
        try await bob.send("alice: are you there?")
        try await tmux.waitForDisplay("#{pane_title}") { $0 == "(1) " + title }
        try await tmux.waitForDisplay("#{window_bell_flag}") { $0 == "1" }
        try await bob.send("alice: hello?")
        try await tmux.waitForDisplay("#{pane_title}") { $0 == "(2) " + title }
        // Back at the bottom, everything is seen.
        try tmux.press("End")
        try await tmux.waitForDisplay("#{pane_title}") { $0 == title }
        await bob.close()
        await server.shutdown()
    }

    @Test func aWindowWithoutTheFocusRingsUnlessTheBellIsOff() async throws {
        for rings in [true, false] {
            let server = try await startTestServer()
            let tmux = try startClientScreen(
                port: server.port, "--no-timestamps \(rings ? "--bell" : "--no-bell") alice")
            defer { tmux.kill() }
            try await tmux.waitForText("-- logging in as alice")
            let bob = try await connectBob(to: server)
            // A focus report, as a terminal sends it once the client asked for them.
            try tmux.type("\u{1B}[O")
            try tmux.type("x")
            try await tmux.waitForScreen { $0.last == "> x" }
            try await bob.send("alice: while you were away")
            try await tmux.waitForDisplay("#{pane_title}") { $0.hasPrefix("(1) alice") }
            #expect(try tmux.display("#{window_bell_flag}") == (rings ? "1" : "0"))
            try tmux.type("\u{1B}[I")
            try await tmux.waitForDisplay("#{pane_title}") { $0.hasPrefix("alice") }
            await bob.close()
            await server.shutdown()
        }
    }

    @Test func mentionsAreHighlighted() async throws {
        let server = try await startTestServer()
        let tmux = try startClientScreen(port: server.port, "--no-timestamps alice")
        defer { tmux.kill() }
        try await tmux.waitForText("-- logging in as alice")
        let bob = try await connectBob(to: server)
        try await bob.send("alice: lunch, Alice? ask malice too")
        try await tmux.waitForText("ask malice too")
        let rows = try tmux.styledScreen()
        let row = try #require(rows.first { $0.text.hasPrefix("bob: lunch") })
        let mention = try #require(row.cells(of: "Alice"))
        #expect(mention.allSatisfy { $0.attributes.contains(4) && $0.attributes.contains(1) })
        let other = try #require(row.cells(of: "malice"))
        #expect(other.allSatisfy { !$0.attributes.contains(4) })
        #expect(try #require(row.cells(of: "lunch")).allSatisfy { $0.attributes.isEmpty })
        await bob.close()
        await server.shutdown()
    }

    @Test func theLogHasEveryLineAfterTheClientIsKilled() async throws {
        let server = try await startTestServer()
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let log = directory.appendingPathComponent("chat.log")
        let pidFile = directory.appendingPathComponent("pid")
        let tmux = try startClientScreen(
            port: server.port, "--no-timestamps --log '\(log.path)' alice", pidFile: pidFile)
        defer { tmux.kill() }
        try await tmux.waitForText("-- logging in as alice")
        let bob = try await connectBob(to: server)
        try await bob.send("alice: hi \u{1B}[31malice\u{1B}[0m")
        try await tmux.waitForText("bob: hi ")
        try tmux.type("bob: 你好\r")
        #expect(try await bob.readLine() == "from alice: 你好")
        try await tmux.waitForText("→ bob: 你好")
        let written = try await contents(of: pidFile)
        let pid = try #require(Int32(written.trimmingCharacters(in: .whitespacesAndNewlines)))
        kill(pid, SIGKILL)
        try await tmux.waitForDisplay("#{pane_dead}") { $0 == "1" }
        let lines = try String(contentsOf: log, encoding: .utf8).split(separator: "\n").map(String.init)
        let stamp = #/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} /#
        #expect(lines.allSatisfy { $0.prefixMatch(of: stamp) != nil }, "\(lines)")
        #expect(
            lines.map { String($0.dropFirst(20)) } == [
                "-- connecting to 127.0.0.1:\(server.port)",
                "-- connected to 127.0.0.1:\(server.port)",
                "-- logging in as alice",
                "bob: hi \u{241B}[31malice\u{241B}[0m",
                "alice → bob: 你好",
            ])
        await bob.close()
        await server.shutdown()
    }

    /// The screen keeps a huge line cut, between two characters; the log gets it whole.
    @Test func aHugeLineIsLoggedWhole() async throws {
        let server = try await startTestServer()
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let log = directory.appendingPathComponent("chat.log")
        let tmux = try startClientScreen(port: server.port, "--no-timestamps --log '\(log.path)' alice")
        defer { tmux.kill() }
        try await tmux.waitForText("-- logging in as alice")
        let bob = try await connectBob(to: server)
        // The screen's limit falls on the accent of the e.
        let text = String(repeating: "x", count: TranscriptEntry.maximumTextBytes - 1) + "e\u{301}nd"
        try await bob.send("alice: " + text)
        let screen = try await tmux.waitForText("more bytes)")
        #expect(screen.contains { $0.hasSuffix("xxx … (5 more bytes)") }, "\(screen)")
        try await bob.send("alice: after")
        try await tmux.waitForText("bob: after")
        let logged = try String(contentsOf: log, encoding: .utf8).split(separator: "\n")
            .map { String($0.dropFirst(20)) }.filter { $0.hasPrefix("bob: ") }
        #expect(logged == ["bob: " + text, "bob: after"])
        await bob.close()
        await server.shutdown()
    }

    /// `/dev/full` opens, and every write to it fails as a full disk does: the screen says so
    /// once, in the log's own words, and the conversation goes on.
    @Test func aLogThatCannotBeWrittenIsSaidOnceOnTheScreen() async throws {
        let server = try await startTestServer()
        let tmux = try startClientScreen(port: server.port, "--no-timestamps --log /dev/full alice")
        defer { tmux.kill() }
        // Wrapped at 80 columns after "conversation".
        try await tmux.waitForText(
            "-- cannot write the log any more (no space left on device); the conversation")
        let bob = try await connectBob(to: server)
        try await bob.send("alice: still here")
        let screen = try await tmux.waitForText("bob: still here")
        #expect(screen.filter { $0.hasPrefix("-- cannot write the log") }.count == 1, "\(screen)")
        await bob.close()
        await server.shutdown()
    }

    /// Lines that arrive faster than the screen takes them push each other out of a short
    /// scrollback unseen; the log still gets every one, in order.
    @Test func aFloodPastTheScrollbackIsLoggedWhole() async throws {
        let server = try await startTestServer()
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let log = directory.appendingPathComponent("chat.log")
        let tmux = try startClientScreen(
            port: server.port, "--no-timestamps --scrollback-lines 100 --log '\(log.path)' alice")
        defer { tmux.kill() }
        try await tmux.waitForText("-- logging in as alice")
        let bob = try await connectBob(to: server)
        let count = 5000
        try await bob.sendRaw((0..<count).map { "alice: n\($0)\n" }.joined())
        // A line is logged before the frame that shows it is drawn.
        try await tmux.waitForText("bob: n\(count - 1)", timeout: .seconds(60))
        let logged = try String(contentsOf: log, encoding: .utf8).split(separator: "\n")
            .map { String($0.dropFirst(20)) }.filter { $0.hasPrefix("bob: n") }
        let expected = (0..<count).map { "bob: n\($0)" }
        let firstWrong = zip(logged, expected).first { $0 != $1 }.map(\.0)
        #expect(
            logged.elementsEqual(expected),
            "\(logged.count) of \(count) logged; the first out of place: \(firstWrong ?? "none")")
        await bob.close()
        await server.shutdown()
    }
}
