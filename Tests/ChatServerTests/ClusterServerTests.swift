import ChatTestSupport
import Foundation
import SystemSupport
import Testing

/// Real `chat-server` processes sharing one real PostgreSQL (`--cluster`): every rule of the
/// protocol holds across them. Heartbeats come every half second. Leases are patient (120 s):
/// a node gives up a 3 s lease after 2.25 s without a renewal and drops its clients, which a
/// loaded machine (or a flood through the database) can cause in a test about something else.
/// The tests about a node's lease running out give that node alone a 3 s one, so its failure
/// shows in seconds rather than the production default's twelve.
@Suite(.postgres, .enabled(if: postgresAvailable, postgresSkipReason))
struct ClusterServerTests {
    /// Two nodes on a fresh database; `through` puts a node's database connection through a
    /// proxy the test can cut.
    /// `firstLeaseSeconds`: the first node's lease, short for the tests about it running out; the
    /// others keep theirs through anything.
    /// `host` and `urlOptions` (what goes after `?`): how the database URL reaches it.
    static func nodes(
        _ count: Int = 2, through proxy: TCPProxy? = nil, leaseSeconds: Int = patientLeaseSeconds,
        firstLeaseSeconds: Int? = nil, host: String = "127.0.0.1", urlOptions: String? = nil,
        releaseWaitSeconds: Int? = nil
    ) async throws -> (url: String, [ServerProcess]) {
        let url = try await postgres.makeDatabase(host: host, options: urlOptions)
        var servers: [ServerProcess] = []
        for index in 0..<count {
            var nodeURL = url
            if index == 0, let proxy {
                nodeURL = url.replacingOccurrences(of: ":\(try postgres.port)/", with: ":\(proxy.port)/")
            }
            let lease = index == 0 ? firstLeaseSeconds ?? leaseSeconds : leaseSeconds
            servers.append(
                try await ServerProcess(
                    arguments: Self.nodeArguments(nodeURL, name: "n\(index)", leaseSeconds: lease)
                        + (releaseWaitSeconds.map { ["--cluster-release-wait-seconds", "\($0)"] } ?? [])))
        }
        return (url, servers)
    }

    /// Starts a node at info level on a fresh database and returns its "joined the cluster" log
    /// line, and all it logged up to and including that line.
    static func joinedLine(urlOptions: String?) async throws -> (line: String, stderr: String) {
        let url = try await postgres.makeDatabase(options: urlOptions)
        let server = try await ServerProcess(
            arguments: nodeArguments(url, name: "logged") + ["--log-level", "info"])
        let line = try await server.child.waitForStderrLine { $0.hasSuffix("joined the cluster") }
        return (line, server.child.stderr)
    }

    /// A database without TLS under the default `sslmode=prefer` gets a notice at start, so the
    /// fall-back to plain text is not silent; `sslmode=disable` says it is meant.
    @Test(arguments: [(nil, true), ("sslmode=disable", false)])
    func aNodeSaysWhenItsDatabaseConnectionIsNotEncrypted(_ options: String?, _ noticed: Bool) async throws {
        let joined = try await Self.joinedLine(urlOptions: options)
        #expect(joined.line.contains(" tls=no "), "\(joined.line)")
        let notices = joined.stderr.split(separator: "\n").filter {
            $0.contains(" notice ")
                && $0.hasSuffix(
                    "[ChatCluster] the database did not offer TLS, so this node's traffic to it is not encrypted; "
                        + "sslmode=disable in the URL says that is meant, sslmode=require refuses it")
        }
        #expect(notices.count == (noticed ? 1 : 0), "\(joined.stderr)")
    }

    static let patientLeaseSeconds = 120

    /// For tests that move a login between servers many times (`nodes(releaseWaitSeconds:)`).
    static let patientReleaseWaitSeconds = 10

    static func nodeArguments(_ url: String, name: String, leaseSeconds: Int = patientLeaseSeconds)
        -> [String]
    {
        [
            "--cluster", url, "--node-name", name, "--cluster-lease-seconds", "\(leaseSeconds)",
            "--cluster-heartbeat-seconds", "0.5", "--cluster-query-timeout-seconds", "10", "--log-level",
            ProcessInfo.processInfo.environment["ACHAT_TEST_LOG"] ?? "error",
        ]
    }

    /// Waits until `sender`'s server knows that `recipient` is online on another: a login claimed
    /// on one node reaches the others through the database's notifications, a moment after its
    /// own node confirmed it. Each probe also goes back to the sender, so the sender's server
    /// answers "not online" before it whenever it does not know the recipient yet.
    static func waitUntilReachable(
        _ recipient: LineClient, as recipientName: String, from sender: LineClient, as senderName: String
    ) async throws {
        for attempt in 0..<600 {
            let probe = "from \(senderName): probe \(attempt)"
            try await sender.send("\(recipientName), \(senderName): probe \(attempt)")
            let first = try #require(try await sender.readLine())
            if first == probe {
                #expect(try await recipient.readLine() == probe)
                return
            }
            try #require(first == "error: '\(recipientName)' is not online", "unexpected \(first)")
            #expect(try await sender.readLine() == probe)
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("\(recipientName) never became reachable from \(senderName)")
    }

    @Test func messagesCrossServersByteForByteAndInOrder() async throws {
        let (_, servers) = try await Self.nodes()
        let alice = try await loggedIn("alice", port: servers[0].port)
        let bob = try await loggedIn("bob", port: servers[1].port)
        try await Self.waitUntilReachable(bob, as: "bob", from: alice, as: "alice")
        try await Self.waitUntilReachable(alice, as: "alice", from: bob, as: "bob")
        // NUL, quotes, backslashes, emoji, a name listed twice: delivered once, exactly.
        let text = "nul\u{0} \"quoted\" 'single' back\\slash 🦀 é"
        try await alice.sendRaw(Array("bob, bob: \(text)\n".utf8))
        #expect(try await bob.readRawLine() == Array("from alice: \(text)\n".utf8))
        // A line far beyond a NOTIFY payload's 8,000 bytes.
        let long = String(repeating: "0123456789abcdef", count: 4000)
        try await bob.send("alice: \(long)")
        #expect(try await alice.readLine() == "from bob: \(long)")
        // Order per sender, under load.
        let flood = Flood(recipients: "bob", count: 2000, textBytes: 100)
        try await flood.send(from: alice)
        try await expectEveryLine(bob, from: ["alice"], of: flood)
        try await bob.expectSilence(for: .milliseconds(200))
    }

    @Test(.loadsTheMachine) func aSlowReaderOnAnotherServerSlowsItsSenderWithoutAnyoneBuffering() async throws
    {
        let (_, servers) = try await Self.nodes()
        let sender = try await loggedIn("sender", port: servers[0].port)
        let reader = try await loggedIn(
            "reader", port: servers[1].port, receiveBufferBytes: 64 * 1024, readBytesPerSecond: 4_000_000)
        try await Self.waitUntilReachable(reader, as: "reader", from: sender, as: "sender")
        let baselines = servers.map { $0.child.memory().residentKiB }
        let flood = Flood(recipients: "reader", count: 20_000, textBytes: 1000)
        async let sent: Void = flood.send(from: sender)
        try await expectEveryLine(reader, from: ["sender"], of: flood)
        try await sent
        for (server, baseline) in zip(servers, baselines) {
            expectPeakGrowth(of: server, over: baseline, atMostMiB: 64)
        }
        try await expectStillServed(reader, as: "reader")
    }

    @Test func aLoginIsUniqueAcrossServersAndOfflineMeansOnlineNowhere() async throws {
        let (_, servers) = try await Self.nodes()
        let alice = try await loggedIn("alice", port: servers[0].port)
        let bob = try await loggedIn("bob", port: servers[1].port)
        try await Self.waitUntilReachable(bob, as: "bob", from: alice, as: "alice")
        let impostor = try await LineClient.connect(port: servers[0].port)
        try await impostor.send("bob")
        #expect(try await impostor.readToEnd() == ["error: login 'bob' is already online"])
        try await alice.send("bob, carol: anyone?")
        #expect(try await alice.readLine() == "error: 'carol' is not online")
        try await expectStillServed(alice, as: "alice")
    }

    @Test func aLoginFreedOnOneServerIsUsableOnAnotherWhileThatOneRunsOn() async throws {
        let (_, servers) = try await Self.nodes()
        let first = try await loggedIn("bob", port: servers[0].port)
        await first.close()
        // About a second on a quiet machine; the wait allows for a loaded one. The first server
        // runs on and renews its lease, so a login its close did not free would never be.
        let again = try await eventuallyLoggedIn("bob", port: servers[1].port, within: .seconds(60))
        try await expectStillServed(again, as: "bob")
    }

    /// Alice's next connection, on `port`: opened before the old one closes, so that her login
    /// and `lines` go out the moment it has.
    static func move(_ alice: LineClient, to port: Int, sending lines: String) async throws -> LineClient {
        let next = try await LineClient.connect(port: port)
        await alice.close()
        try await next.sendRaw("alice\n" + lines)
        return next
    }

    /// The contract's "as soon as a login's connection is gone, the login is free again", across
    /// servers: the new login can reach the database before the old server's release. Each round
    /// here was refused about once in 25 before the registry was asked again, so 200 rounds
    /// without one refusal would pass by chance about once in 3,000 runs.
    /// The release wait is longer than a server's 2 s (here and in the next test): one round
    /// trip to a database shared by every test at once has taken over 3 s, and each round is a
    /// chance for one.
    @Test func aClientThatClosesOnOneServerAndLogsInOnAnotherAtOnceIsLetIn() async throws {
        let (_, servers) = try await Self.nodes(releaseWaitSeconds: Self.patientReleaseWaitSeconds)
        var alice = try await loggedIn("alice", port: servers[0].port)
        for round in 1...200 {
            alice = try await Self.move(
                alice, to: servers[round % 2].port, sending: "alice: round \(round)\n")
            let answer = try await alice.readLine()
            try #require(answer == "from alice: round \(round)", "round \(round)")
        }
        await alice.close()
    }

    /// A login's lines to one recipient stay in order across its connections, wherever they
    /// are: alice's last line from one server reaches bob before her next connection's first,
    /// sent from another. With two servers bob is on one of them: before the new connection
    /// waited for what the database held, a Python client found 38 of 150 moves to bob's server
    /// out of order. With three he is on the third, which fetched both servers' batches by
    /// server before they were fetched in the order written: this test failed 3 of 4 runs.
    @Test(arguments: [2, 3]) func aClientThatMovesToAnotherServerHasItsLastLinesDeliveredFirst(
        servers count: Int
    )
        async throws
    {
        let (_, servers) = try await Self.nodes(count, releaseWaitSeconds: Self.patientReleaseWaitSeconds)
        let bob = try await loggedIn("bob", port: servers[count - 1].port)
        var alice = try await loggedIn("alice", port: servers[0].port)
        try await Self.waitUntilReachable(bob, as: "bob", from: alice, as: "alice")
        // Alice's first move is to the second server: it must know where bob is too.
        let probe = try await loggedIn("probe", port: servers[1].port)
        try await Self.waitUntilReachable(bob, as: "bob", from: probe, as: "probe")
        await probe.close()
        let rounds = 100
        for round in 1...rounds {
            try await alice.send("bob: last \(round)")
            alice = try await Self.move(
                alice, to: servers[round % 2].port, sending: "bob: first \(round)\nalice: in \(round)\n")
            try #require(try await alice.readLine() == "from alice: in \(round)", "round \(round)")
        }
        var heard: [String] = []
        for _ in 0..<(2 * rounds) { heard.append(try await bob.readLine() ?? "(closed)") }
        let expected = (1...rounds).flatMap { ["from alice: last \($0)", "from alice: first \($0)"] }
        #expect(heard == expected)
        await alice.close()
    }

    @Test(.loadsTheMachine) func ofManyConnectionsRacingForOneNameOnTwoServersExactlyOneWins() async throws {
        let (_, servers) = try await Self.nodes()
        let racers = 1000
        // A thousand sockets in this process beside the other tests': past a soft limit of 1,024.
        _ = OpenFileLimit.raiseToHardLimit()
        // Everyone stays connected until all have their answer: a winner that left would free
        // the name for a later racer.
        let clients = try await withThrowingTaskGroup(of: LineClient.self) { group in
            for index in 0..<racers {
                group.addTask { try await LineClient.connect(port: servers[index % 2].port) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let winners = try await withThrowingTaskGroup(of: Bool.self) { group in
            for client in clients {
                group.addTask {
                    try await client.send("prize")
                    try await client.send("prize: mine")
                    let answer = try await client.readLine(timeout: .seconds(60))
                    if answer == "from prize: mine" { return true }
                    #expect(answer == "error: login 'prize' is already online")
                    return false
                }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(winners == 1)
        for client in clients { await client.close() }
    }

    /// A node with a 3-second lease on a machine loaded past what it keeps up with (both cores
    /// busy beside the suite) can find its lease at risk and refuse a login as "cannot log in
    /// now"; what these tests are about begins once the login is in.
    static func loggedInDespiteShortLease(_ name: String, port: Int) async throws -> LineClient {
        try await eventuallyLoggedIn(name, port: port, within: .seconds(60))
    }

    @Test func aServerStoppedGracefullyFreesItsLoginsAtOnce() async throws {
        let (_, servers) = try await Self.nodes()
        let bob = try await loggedIn("bob", port: servers[0].port)
        servers[0].child.signal(SIGTERM)
        #expect(try await bob.readToEnd() == ["error: server is shutting down"])
        #expect(try await servers[0].child.waitForExit() == 0)
        let stoppedAt = ContinuousClock.now
        // Its lease would expire only after 120 s: within 60, the stop itself freed the login.
        _ = try await eventuallyLoggedIn("bob", port: servers[1].port, within: .seconds(60))
        #expect(ContinuousClock.now - stoppedAt < .seconds(60), "freed at once, not by lease expiry")
    }

    /// That the node lets go before another can take the name is checked where both events have
    /// a time of their own (ChatClusterTests' `FailureTests`, `lost < claimed`); here, what the
    /// user sees: the notice, and the name free elsewhere.
    /// Takes turns with the floods: in the CI run at ac332e7, beside the queue-budget floods, bob
    /// did not get in within 60 s, the 3-second lease being at risk all along.
    @Test(.loadsTheMachine) func aServerThatLosesItsLeaseDropsItsClientsAndTheyLogInElsewhere() async throws {
        let proxy = try await TCPProxy(toPort: try postgres.port)
        let (_, servers) = try await Self.nodes(through: proxy, firstLeaseSeconds: 3)
        let bob = try await Self.loggedInDespiteShortLease("bob", port: servers[0].port)
        proxy.cut()
        // The cut-off server drops bob itself, before its lease runs out for the others.
        let lines = try await bob.readToEnd(timeout: .seconds(60))
        #expect(lines.last == "error: this server lost touch with the others; log in again", "\(lines)")
        let again = try await eventuallyLoggedIn("bob", port: servers[1].port, within: .seconds(60))
        try await expectStillServed(again, as: "bob")
        await proxy.close()
    }

    /// A server frozen past its lease (SIGSTOP, a paused virtual machine) wakes with its
    /// clients' lines waiting and its watchdog's tick due at the same moment. The others have
    /// freed its logins meanwhile, so it must drop its clients before it serves any line: the
    /// old alice, still connected to it, must not reach carol nor the alice logged in elsewhere.
    @Test(.loadsTheMachine) func aServerFrozenPastItsLeaseServesNoLineWhenItWakes() async throws {
        let (_, servers) = try await Self.nodes(firstLeaseSeconds: 3)
        let alice = try await Self.loggedInDespiteShortLease("alice", port: servers[0].port)
        let carol = try await Self.loggedInDespiteShortLease("carol", port: servers[0].port)
        servers[0].child.signal(SIGSTOP)
        let aliceElsewhere = try await eventuallyLoggedIn(
            "alice", port: servers[1].port, within: .seconds(60))
        try await alice.send("carol, alice: from the frozen server")
        servers[0].child.signal(SIGCONT)
        let dropped = "error: this server lost touch with the others; log in again"
        #expect(try await carol.readToEnd(timeout: .seconds(60)) == [dropped])
        #expect(try await alice.readToEnd(timeout: .seconds(60)) == [dropped])
        try await expectStillServed(aliceElsewhere, as: "alice")
    }
}

extension ClusterServerTests {
    /// A bad database URL or an unreachable database: one clear line and status 1.
    @Test func aDatabaseItCannotJoinIsOneLineAndStatus1() async throws {
        let server = try ChildProcess(
            ChildProcess.executable("chat-server"),
            ["--port", "0", "--cluster", "postgres://achat:wrong@127.0.0.1:\(try postgres.port)/nowhere"])
        #expect(try await server.waitForExit() == 1)
        let errors = server.stderr.split(separator: "\n").filter { !$0.contains(" info ") && !$0.isEmpty }
        #expect(errors.count == 1, "\(server.stderr)")
        #expect(errors.first?.hasPrefix("chat-server: cannot join the cluster at postgres://achat@") == true)
        #expect(server.stdout.isEmpty, "never says it listens")
    }
}

/// Stopping the database takes it from every test of a suite, so this one has its own.
@Suite(.postgres, .enabled(if: postgresAvailable, postgresSkipReason))
struct ClusterOutageTests {
    @Test func throughADatabaseRestartLocalChatGoesOnAndTheClusterComesBack() async throws {
        // A lease that outlasts the outage: a node that lost it would drop everyone, which is
        // another test's subject.
        let (_, servers) = try await ClusterServerTests.nodes(leaseSeconds: 120)
        let alice = try await loggedIn("alice", port: servers[0].port)
        let carol = try await loggedIn("carol", port: servers[0].port)
        let bob = try await loggedIn("bob", port: servers[1].port)
        try await ClusterServerTests.waitUntilReachable(bob, as: "bob", from: alice, as: "alice")
        try await postgres.stopServer()
        // People on one server keep chatting.
        try await alice.send("carol: still here?")
        #expect(try await carol.readLine() == "from alice: still here?")
        // No name is granted that might be online elsewhere.
        let newcomer = try await LineClient.connect(port: servers[0].port)
        try await newcomer.send("dave")
        let refusal = try await newcomer.readToEnd()
        #expect(refusal.first?.hasPrefix("error: cannot log in now") == true, "\(refusal)")
        // A message for another server is not lost silently.
        try await alice.send("bob: hello?")
        let notice = try #require(try await alice.readLine())
        #expect(notice == "error: 'bob' is on another server that cannot be reached now; not delivered")
        try await postgres.startServer()
        // Back within about 10 s, without a restart of either server.
        let deadline = ContinuousClock.now + .seconds(60)
        var delivered = false
        let restartedAt = ContinuousClock.now
        let bob2 = try await eventuallyLoggedIn("bob2", port: servers[1].port, within: .seconds(60))
        while !delivered && ContinuousClock.now < deadline {
            // Until the way between the servers is back, this earns alice a notice instead.
            try await alice.send("bob2: back?")
            delivered = (try? await bob2.readLine(timeout: .seconds(2))) == "from alice: back?"
        }
        #expect(delivered)
        // About 10 s at most on a quiet machine; the bound allows for a loaded one.
        #expect(ContinuousClock.now - restartedAt < .seconds(40))
    }

}
