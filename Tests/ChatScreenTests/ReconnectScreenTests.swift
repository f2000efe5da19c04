import ChatTestSupport
import Foundation
import Testing

/// Reconnecting as a user sees it: the real `chat-server` killed and started again on the same
/// port, the countdown, `/reconnect`, a server that is not up yet; and the log after the client
/// is killed. Waits between attempts are shortened with `--reconnect-delay`.
@Suite(.serialized) struct ReconnectScreenTests {
    static let statusRow = FullScreenTests.statusRow

    private static func status(_ screen: [String]) -> String {
        screen.count > statusRow ? screen[statusRow] : ""
    }

    /// Has `from` send `text` to `to` until `to`'s screen shows it: right after a reconnect the
    /// recipient may not have logged in again yet, and the server says so.
    private func deliver(
        _ text: String, from sender: TmuxSession, as senderLogin: String, to recipient: TmuxSession,
        as recipientLogin: String
    ) async throws {
        for attempt in 1...50 {
            let line = "\(text) \(attempt)"
            try sender.type("\(recipientLogin): \(line)\r")
            let shown = try await recipient.waitForScreen("\(line) or a notice") { _ in
                let received = (try? recipient.screen().contains("\(senderLogin): \(line)")) ?? false
                let refused =
                    (try? sender.screen().contains("-!- '\(recipientLogin)' is not online")) ?? false
                return received || refused
            }
            if shown.contains("\(senderLogin): \(line)") { return }
            try sender.type("/clear\r")
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestTimeout("\(text) never reached \(recipientLogin)")
    }

    @Test func twoClientsComeBackAfterTheServerIsKilledAndStartedAgain() async throws {
        // A port of our own: the kernel could hand one from its ephemeral range to a connection.
        let port = try SparePort.take()
        var server = try await ServerProcess(arguments: ["--port", "\(port)"])
        let alice = try startClientScreen(port: port, "--no-timestamps --reconnect-delay 0.2 alice")
        defer { alice.kill() }
        let bob = try startClientScreen(port: port, "--no-timestamps --reconnect-delay 0.2 bob")
        defer { bob.kill() }
        try await alice.waitForText("-- logging in as alice")
        try await bob.waitForText("-- logging in as bob")
        try await deliver("before", from: alice, as: "alice", to: bob, as: "bob")

        server.child.signal(SIGKILL)
        _ = try await server.child.waitForExit()
        for screen in [alice, bob] {
            try await screen.waitForScreen("the countdown") { Self.status($0).contains("| reconnecting in ") }
        }
        server = try await ServerProcess(arguments: ["--port", "\(port)"])
        defer { server.child.terminate() }
        for (screen, login, before) in [(alice, "alice", "→ bob: before"), (bob, "bob", "alice: before")] {
            // The back-off may have grown while the server was down: wait for a few attempts.
            let back = try await screen.waitForScreen(timeout: .seconds(60), "\(login) back") {
                $0.contains("-- reconnected to 127.0.0.1:\(port)")
                    && Self.status($0) == " \(login) | 127.0.0.1:\(port) | connected"
            }
            // The scrollback is kept: the conversation before the restart is still there.
            #expect(back.contains { $0.hasPrefix(before) })
            #expect(back.contains("-- logging in as \(login)"))
        }
        try await deliver("after", from: alice, as: "alice", to: bob, as: "bob")
        try await deliver("reply", from: bob, as: "bob", to: alice, as: "alice")
    }

    @Test func theStatusLineCountsDownToEachAttempt() async throws {
        let port = try SparePort.take()
        let tmux = try startClientScreen(port: port, "--no-timestamps --reconnect-delay 1 alice")
        defer { tmux.kill() }
        try await tmux.waitForText("-- cannot connect to 127.0.0.1:\(port): connection refused")
        // Attempt 3 waits 4 s (less up to a quarter): the countdown shows 4 or 3, then each
        // second down to 1. Two steps of it are enough to see it count, and leave a loaded
        // machine time to look.
        let pattern = /^ alice \| 127\.0\.0\.1:\d+ \| reconnecting in (\d+) s \(attempt 3\)$/
        var seen: [Int] = []
        try await tmux.waitForScreen(timeout: .seconds(60), "attempt 3 counting down") { screen in
            if let match = Self.status(screen).wholeMatch(of: pattern), let seconds = Int(match.1),
                seen.last != seconds
            {
                seen.append(seconds)
            }
            return seen.count >= 2
        }
        #expect(seen.allSatisfy { (1...4).contains($0) }, "\(seen)")
        #expect(seen == seen.sorted(by: >), "\(seen)")
        // The failure is remarked once, not at every attempt.
        let screen = try await tmux.waitForScreen { Self.status($0).contains("(attempt 4)") }
        #expect(screen.filter { $0.hasPrefix("-- cannot connect") }.count == 1)
    }

    @Test func reconnectCommandConnectsAtOnce() async throws {
        let port = try SparePort.take()
        // The first wait is at least 22.5 s: anything sooner is the command's doing.
        let tmux = try startClientScreen(port: port, "--no-timestamps --reconnect-delay 30 alice")
        defer { tmux.kill() }
        try await tmux.waitForScreen { Self.status($0).contains("| reconnecting in ") }
        let server = try await ServerProcess(arguments: ["--port", "\(port)"])
        defer { server.child.terminate() }
        try tmux.type("/reconnect\r")
        let screen = try await tmux.waitForScreen(timeout: .seconds(15), "connected") {
            Self.status($0) == " alice | 127.0.0.1:\(port) | connected"
        }
        #expect(screen.contains("-- reconnecting to 127.0.0.1:\(port)"))
        #expect(screen.contains("-- connected to 127.0.0.1:\(port)"))
    }

    @Test func aServerThatIsNotUpYetIsWaitedFor() async throws {
        let port = try SparePort.take()
        let tmux = try startClientScreen(port: port, "--no-timestamps --reconnect-delay 0.2 alice")
        defer { tmux.kill() }
        try await tmux.waitForText("-- cannot connect to 127.0.0.1:\(port): connection refused")
        // Lines entered meanwhile are not sent, and Up brings them back.
        try tmux.type("bob: early\r")
        try await tmux.waitForText("): bob: early")
        let server = try await ServerProcess(arguments: ["--port", "\(port)"])
        defer { server.child.terminate() }
        try await tmux.waitForScreen { Self.status($0) == " alice | 127.0.0.1:\(port) | connected" }
        let bob = try await LineClient.connect(port: port)
        try await bob.send("bob")
        // Both are logged in once a line from bob reaches alice: any of them, since a loaded
        // machine may draw one only after the half second it is looked for.
        for attempt in 1...50 {
            try await bob.send("alice: ready \(attempt)")
            if (try? await tmux.waitForText("bob: ready ", timeout: .milliseconds(500))) != nil {
                break
            }
            if attempt == 50 { throw TestTimeout("bob never reached alice") }
        }
        try tmux.press("Up")
        try await tmux.waitForScreen { $0.last == "> bob: early" }
        try tmux.press("Enter")
        // Past the notices for lines sent before alice's login was read, if any were.
        var line = try await bob.readLine()
        while line == "error: 'alice' is not online" { line = try await bob.readLine() }
        #expect(line == "from alice: early")
        await bob.close()
    }

    /// A full server turns every attempt away at once: said once, and `reconnected` only when
    /// the client is let in.
    @Test func aFullServerIsSaidSoOnceAndTheClientGetsInWhenThereIsRoom() async throws {
        let server = try await startTestServer(configuration: .forTests.with { $0.maximumConnections = 1 })
        let bob = try await connectBob(to: server, online: 1)
        let tmux = try startClientScreen(port: server.port, "--no-timestamps --reconnect-delay 0.1 alice")
        defer { tmux.kill() }
        let turnedAway = try await tmux.waitForScreen("four attempts") {
            Self.status($0).contains("(attempt 4)")
        }
        #expect(turnedAway.count { $0 == "-!- server is full; try again later" } == 1, "\(turnedAway)")
        #expect(!turnedAway.contains { $0.contains("reconnected") }, "\(turnedAway)")
        await bob.close()
        let back = try await tmux.waitForScreen(timeout: .seconds(60), "alice let in") {
            $0.contains("-- reconnected to 127.0.0.1:\(server.port)")
        }
        #expect(back.count { $0 == "-!- server is full; try again later" } == 1, "\(back)")
        #expect(Self.status(back) == " alice | 127.0.0.1:\(server.port) | connected")
        try await waitUntilOnline(server, count: 1)
        await server.shutdown()
    }

    @Test func aLoginTimeoutWaitsForTheLoginThenConnects() async throws {
        // The first connection, without a login, must time out; the second sends its login as it
        // connects, and must not. 3 s leaves a loaded machine time for that; 300 ms did not.
        let server = try await startTestServer(
            configuration: .forTests.with { $0.loginTimeout = .seconds(3) })
        let tmux = try startClientScreen(port: server.port, "--no-timestamps --reconnect-delay 0.1")
        defer { tmux.kill() }
        try await tmux.waitForText("-- enter your login to connect again")
        let screen = try await tmux.waitForScreen {
            Self.status($0) == " (no login yet) | 127.0.0.1:\(server.port) | waiting for your login"
        }
        #expect(screen.last == "login:")
        try tmux.type("carol\r")
        try await tmux.waitForScreen {
            Self.status($0).hasPrefix(" carol | 127.0.0.1:\(server.port) | connected")
        }
        try await waitUntilOnline(server, count: 1)
        await server.shutdown()
    }
}
