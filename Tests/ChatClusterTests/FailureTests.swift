import ChatTestSupport
import NIOCore
import Testing

@testable import ChatCluster

extension ClusterEvent {
    var isDatabaseUnavailable: Bool {
        if case .databaseUnavailable = self { return true }
        return false
    }
}

/// Nodes that crash, lose their lease, or have their connections killed. Each test has its own
/// database, so they run side by side.
@Suite(.postgres, .enabled(if: postgresAvailable, postgresSkipReason))
struct NodeFailureTests {
    @Test(arguments: ["node0", "node1"])
    func killedConnectionsAreReplacedAndNothingAcceptedIsLost(_ victim: String) async throws {
        let url = try await postgres.makeDatabase()
        try await withNodes(2, url: url) { nodes in
            let (a, b) = (nodes[0], nodes[1])
            let killed = victim == "node0" ? a : b
            #expect(await b.node.claim("bob") == .claimed)
            let stream = DeliveryStream.start(from: a, to: "bob", on: b)
            try await stream.waitForMoreAccepted(300)
            try await postgres.psql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    + "WHERE application_name LIKE 'achat \(victim) %' AND datname = current_database()",
                database: database(of: url))
            try await killed.waitUntil("unavailability reported") {
                killed.events.contains { $0.isDatabaseUnavailable }
            }
            try await killed.waitForEvent(.databaseAvailable)
            try await stream.waitForMoreAccepted(300)
            try await stream.stopAndCheck()
            #expect(!killed.events.contains(.leaseLost))
            #expect(await a.node.claim("bob") == .taken)
        }
    }

    /// A batch that fails once is written again, and nothing after it overtakes it:
    /// - `atCommit`: the database commits a statement after answering it; stopped in between
    ///   (`pg_ctl restart -m fast` under load), it sends the answer, then an error, and the batch
    ///   is not in the table. Taken for written, it was lost: the peer took the next one
    ///   (`batches from a peer are missing`), in half the runs of a restart under three streams
    ///   of 50,000 lines a second.
    /// - otherwise, refused with an error of the database's own on a connection that stays
    ///   open: the flusher waited for a flush that nothing asked for, and the stream stopped.
    /// A trigger fails the fifth batch once, at its commit or at its insert.
    @Test(arguments: [true, false]) func aBatchThatFailsOnceIsWrittenAgain(atCommit: Bool) async throws {
        let url = try await postgres.makeDatabase()
        try await withNodes(2, url: url) { nodes in
            let (a, b) = (nodes[0], nodes[1])
            let trigger =
                atCommit
                ? "CONSTRAINT TRIGGER fail_once AFTER INSERT ON achat_batches DEFERRABLE INITIALLY DEFERRED"
                : "TRIGGER fail_once BEFORE INSERT ON achat_batches"
            try await postgres.psql(
                """
                CREATE SEQUENCE failures;
                CREATE FUNCTION fail_once() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
                BEGIN
                    IF NEW.sequence = 5 THEN
                        IF nextval('failures') = 1 THEN
                            RAISE EXCEPTION 'this batch fails';
                        END IF;
                    END IF;
                    RETURN NEW;
                END $$;
                CREATE \(trigger) FOR EACH ROW EXECUTE FUNCTION fail_once();
                """, database: database(of: url))
            #expect(await b.node.claim("bob") == .claimed)
            let stream = DeliveryStream.start(from: a, to: "bob", on: b)
            // The stream runs until the fifth batch has failed and been written again: how many
            // lines a batch holds depends on how fast the database answers, and a stream stopped
            // after a fixed count once ended before there was a fifth (CI, where the sequence
            // still read 1: `last_value` before any `nextval`).
            try await waitUntil("the fifth batch failed and written again", timeout: .seconds(60)) {
                let tries = try await postgres.psql(
                    "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM failures",
                    database: database(of: url))
                if Int(tries.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 >= 2 { return true }
                try await Task.sleep(for: .milliseconds(100))
                return false
            }
            try await stream.waitForMoreAccepted(300)
            try await stream.stopAndCheck()
        }
    }

    /// Connections killed at any point of a join: the join ends either way, and the next one
    /// works. (postgres-nio never answers a query written to a connection that has just closed;
    /// this found that.)
    @Test(.timeLimit(.minutes(2))) func joinsWhoseConnectionsAreKilledEndOneWayOrTheOther() async throws {
        let server = try postgres
        let url = try await server.makeDatabase()
        for round in 0..<15 {
            let killer = Task.detached {
                for _ in 0..<(round % 5 + 1) {
                    _ = try? await server.psql(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            + "WHERE application_name LIKE 'achat joiner%' AND datname = current_database()",
                        database: database(of: url))
                }
            }
            let joined = try? await TestNode.join(url, name: "joiner\(round)")
            await killer.value
            if let joined { await joined.node.leave() }
        }
        let calm = try await TestNode.join(url, name: "joiner")
        #expect(await calm.node.claim("after") == .claimed)
        await calm.node.leave()
    }

    @Test func aCrashedNodesLoginsAreFreedWhenItsLeaseExpires() async throws {
        try await withNodes(2) { nodes in
            let (a, b) = (nodes[0], nodes[1])
            #expect(await a.node.claim("carol") == .claimed)
            let peerA = try #require(a.node.peer)
            await a.node.stopAsIfCrashed()
            let crashed = ContinuousClock.now
            #expect(await b.node.claim("carol") == .taken)
            try await b.waitUntil("carol freed", timeout: .seconds(60)) {
                await b.node.claim("carol") == .claimed
            }
            // The 10 s lease, its sweep, and room for a loaded machine.
            #expect(ContinuousClock.now - crashed < .seconds(30))
            try await b.waitForEvent(.peerLeft(peerA))
            #expect(b.location(of: "carol") == b.node.peer)
        }
    }

    /// What was routed to a crashed node and never taken is handed back to the node its senders
    /// are on, once the lease has expired, whichever node frees the crashed one; what it took
    /// (marked so here, as its fetch would) may have been delivered, and is not.
    @Test func aCrashedNodesUntakenDeliveriesAreHandedBackForTheirSenders() async throws {
        let url = try await postgres.makeDatabase()
        try await withNodes(3, url: url) { nodes in
            let (a, b, c) = (nodes[0], nodes[1], nodes[2])
            #expect(await b.node.claim("bob") == .claimed)
            try await a.waitUntil("bob located") { a.location(of: "bob") == b.node.peer }
            await b.node.stopAsIfCrashed()
            let lines = (1...3).map { "from alice: \($0)\n" }
            #expect(a.route(Array(lines[0].utf8), to: "bob", on: b) == .queued)
            try await a.waitUntil("the first line in the database") {
                try await Self.markTaken(containing: lines[0], in: url) == 1
            }
            for line in lines.dropFirst() { #expect(a.route(Array(line.utf8), to: "bob", on: b) == .queued) }
            try await a.waitUntil("handed back", timeout: .seconds(60)) { a.recorder.givenUp.count >= 2 }
            // Anything handed back twice would come within a heartbeat or two.
            try await Task.sleep(for: .seconds(1))
            let handedBack = a.recorder.givenUp
            #expect(handedBack.allSatisfy { $0.from == a.node.peer && $0.delivery.login == "bob" })
            #expect(handedBack.map(\.delivery.text) == Array(lines.dropFirst()))
            #expect(c.recorder.givenUp.isEmpty, "handed back to a node whose clients did not send it")
            #expect(a.node.statistics.batchesGivenUp >= 1)
        }
    }

    /// A crashed node restarted under its name frees its earlier run itself, once that run's
    /// lease has expired, and what was sent to the earlier run is answered all the same. The
    /// other node renews only every 30 s here, so it is the restarted node that frees it (after
    /// the earlier run's 10 s lease).
    @Test func aNodeRestartedUnderItsNameAnswersWhatItsEarlierRunNeverTook() async throws {
        let url = try await postgres.makeDatabase()
        let a = try await TestNode.join(url, name: "steady", configuration: Self.rarelyRenewing)
        let b = try await TestNode.join(url, name: "restarted")
        #expect(await b.node.claim("bob") == .claimed)
        try await a.waitUntil("bob located") { a.location(of: "bob") == b.node.peer }
        await b.node.stopAsIfCrashed()
        let line = "from alice: to the earlier run\n"
        #expect(a.route(Array(line.utf8), to: "bob", on: b) == .queued)
        try await a.waitUntil("written") { a.node.outbox.unwrittenBytes == 0 }
        let again = try await TestNode.join(url, name: "restarted")
        try await a.waitUntil("handed back", timeout: .seconds(60)) { !a.recorder.givenUp.isEmpty }
        #expect(a.recorder.givenUp.map(\.delivery.text) == [line])
        #expect(await again.node.claim("bob") == .claimed)
        await again.node.leave()
        await a.node.leave()
    }

    /// A batch for a node whose row is gone (here deleted behind the sender's back, so that it
    /// has not heard and still routes there) fails its write, and is handed back.
    @Test func aBatchForANodeAlreadyGoneIsHandedBack() async throws {
        let url = try await postgres.makeDatabase()
        try await withNodes(2, url: url, configuration: Self.rarelyRenewing) { nodes in
            let (a, b) = (nodes[0], nodes[1])
            #expect(await b.node.claim("bob") == .claimed)
            try await a.waitUntil("bob located") { a.location(of: "bob") == b.node.peer }
            let gone = try #require(b.node.peer)
            await b.node.stopAsIfCrashed()
            try await postgres.psql(
                "DELETE FROM achat_nodes WHERE id = \(gone.id)", database: database(of: url))
            let line = "from alice: too late\n"
            #expect(a.route(Array(line.utf8), to: "bob", on: b) == .queued)
            try await a.waitUntil("handed back") { !a.recorder.givenUp.isEmpty }
            #expect(a.recorder.givenUp.map(\.delivery.text) == [line])
        }
    }

    /// Nodes that renew only every 30 s (on 120 s leases), so that a test's own steps, not their
    /// heartbeats, free the node it crashes.
    private static var rarelyRenewing: ClusterConfiguration {
        var configuration = testConfiguration
        (configuration.leaseDuration, configuration.heartbeatInterval) = (.seconds(120), .seconds(30))
        return configuration
    }

    /// Marks the batches in the database whose payload holds `text` taken; returns how many.
    private static func markTaken(containing text: String, in url: String) async throws -> Int? {
        let output = try await postgres.psql(
            """
            WITH marked AS (
                UPDATE achat_batches SET taken = true
                WHERE position(convert_to('\(text.dropLast())', 'UTF8') IN payload) > 0 RETURNING 1
            )
            SELECT count(*) FROM marked
            """, database: database(of: url))
        return Int(output.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    @Test func aNodeCutOffFromTheDatabaseDropsItsClientsBeforeOthersTakeTheirLogins() async throws {
        let (proxy, a, b) = try await nodesOneBehindAProxy(name: "cut-off")
        defer { Task { await proxy.close() } }
        #expect(await a.node.claim("dave") == .claimed)
        try await b.waitUntil("dave located") { b.location(of: "dave") == a.node.peer }
        let peerA = try #require(a.node.peer)
        proxy.cut()
        // b tries for dave all along, from the cut on: had it got him before a let go, the two
        // would have served dave at once.
        async let claimed = Self.timeOfClaim("dave", on: b)
        // While cut off: no new logins, no routing.
        try await a.waitUntil("claims refused") { await a.node.claim("erin") == .unavailable }
        try await a.waitUntil("routing refused") {
            a.route(Array("from x: y\n".utf8), to: "dave", on: b) == .unavailable
        }
        try await a.waitForEvent(.leaseLost)
        let lost = try #require(a.recorder.time(of: .leaseLost))
        #expect(lost < (try await claimed), "the cut-off node must let go first")
        try await b.waitForEvent(.peerLeft(peerA))

        proxy.restore()
        try await a.waitForEvent(.databaseAvailable)
        #expect(a.node.peer != peerA, "a lost lease is not revived: the node registers anew")
        #expect(await a.node.claim("dave") == .taken)
        #expect(await a.node.claim("erin") == .claimed)
        await a.node.leave()
        await b.node.leave()
    }

    /// A batch written just before the database went out of reach, and so received by it only
    /// after the node's lease expired, is not delivered: the node dropped everything it queued
    /// when it gave up the lease, and told its clients so.
    @Test func aBatchThatReachesTheDatabaseAfterTheLeaseExpiredIsDropped() async throws {
        let (proxy, a, b) = try await nodesOneBehindAProxy(name: "stalled")
        defer { Task { await proxy.close() } }
        #expect(await b.node.claim("bob") == .claimed)
        try await a.waitUntil("bob located") { a.location(of: "bob") == b.node.peer }
        let peerA = try #require(a.node.peer)
        await proxy.freeze()
        #expect(a.route(Array("from alice: stale\n".utf8), to: "bob", on: b) == .queued)
        try await a.waitForEvent(.leaseLost)
        try await b.waitForEvent(.peerLeft(peerA), timeout: .seconds(30))
        #expect(b.deliveries.isEmpty, "delivered before the database went out of reach")
        await proxy.thaw()
        try await a.waitForEvent(.databaseAvailable)
        try await a.waitUntil("bob located again") { a.location(of: "bob") == b.node.peer }
        // Fetched after anything written before it.
        #expect(a.route(Array("from alice: fresh\n".utf8), to: "bob", on: b) == .queued)
        try await b.waitUntil("the fresh line") {
            b.deliveries.contains { $0.text == "from alice: fresh\n" }
        }
        #expect(b.deliveries.map(\.text) == ["from alice: fresh\n"])
        await a.node.leave()
        await b.node.leave()
    }

    @Test func aPeerThatTakesNothingFillsItsQueueUntilItsLeaseExpires() async throws {
        var configuration = testConfiguration
        configuration.peerQueueSoftLimit = 16 * 1024
        configuration.peerQueueHardLimit = 64 * 1024
        try await withNodes(2, configuration: configuration) { nodes in
            let (a, b) = (nodes[0], nodes[1])
            #expect(await b.node.claim("bob") == .claimed)
            let peerB = try #require(b.node.peer)
            await b.node.stopAsIfCrashed()
            let line = Array(repeating: UInt8(ascii: "z"), count: 1000) + [10]
            var results: [RouteResult] = []
            for _ in 0..<200 {
                results.append(a.route(line, to: "bob", on: b))
            }
            #expect(results.contains(.queuedPeerBusy))
            #expect(results.contains(.peerFull))
            #expect(a.node.outbox.queuedBytes <= configuration.peerQueueHardLimit)
            try await a.waitForEvent(.peerLeft(peerB), timeout: .seconds(30))
            try await a.waitForEvent(.peerReady(peerB))
            #expect(a.route(line, to: "bob", on: b) == .unavailable)
        }
    }

    /// When `node` first claimed `login`, trying every few milliseconds (at most 30 s).
    private static func timeOfClaim(_ login: String, on node: TestNode) async throws
        -> ContinuousClock.Instant
    {
        try await node.waitUntil("\(login) claimed", timeout: .seconds(30)) {
            await node.node.claim(login) == .claimed
        }
        return ContinuousClock.now
    }
}

/// The whole database goes away and comes back. These stop the suite's server, so they run one
/// at a time.
@Suite(.postgres, .serialized, .enabled(if: postgresAvailable, postgresSkipReason))
struct DatabaseOutageTests {
    /// Long enough that a restart does not cost the lease.
    static let patientConfiguration = ClusterConfiguration(
        leaseDuration: .seconds(20),
        heartbeatInterval: .milliseconds(500),
        leaseSafetyMargin: .seconds(5),
        initialReconnectDelay: .milliseconds(50),
        maximumReconnectDelay: .milliseconds(500),
        queryTimeout: testConfiguration.queryTimeout
    )

    @Test func aDatabaseRestartInTheMiddleOfAConversationLosesNothingAccepted() async throws {
        try await withNodes(2, configuration: Self.patientConfiguration) { nodes in
            let (a, b) = (nodes[0], nodes[1])
            #expect(await b.node.claim("bob") == .claimed)
            let stream = DeliveryStream.start(from: a, to: "bob", on: b)
            try await stream.waitForMoreAccepted(300)
            try await postgres.restart()
            for node in nodes {
                try await node.waitUntil("unavailability reported") {
                    node.events.contains { $0.isDatabaseUnavailable }
                }
                try await node.waitForEvent(.databaseAvailable)
            }
            try await stream.waitForMoreAccepted(300)
            try await stream.stopAndCheck()
            for node in nodes { #expect(!node.events.contains(.leaseLost)) }
            #expect(await a.node.claim("bob") == .taken)
        }
    }

    @Test func whileTheDatabaseIsDownClaimsAndRoutesAreRefusedThenWorkAgain() async throws {
        try await withNodes(2, configuration: Self.patientConfiguration) { nodes in
            let (a, b) = (nodes[0], nodes[1])
            #expect(await b.node.claim("bob") == .claimed)
            try await postgres.stopServer()
            do {
                #expect(await a.node.claim("newcomer") == .unavailable)
                try await a.waitUntil("routing refused") {
                    a.route(Array("from a: x\n".utf8), to: "bob", on: b) == .unavailable
                }
            } catch {
                try await postgres.startServer()
                throw error
            }
            try await postgres.startServer()
            let started = ContinuousClock.now
            try await a.waitForEvent(.databaseAvailable, timeout: .seconds(60))
            try await b.waitForEvent(.databaseAvailable, timeout: .seconds(60))
            // The back-off here tops out at half a second, so both are back in about a second; the
            // bound leaves a loaded machine's joins (a few statements of up to seconds each) room.
            #expect(ContinuousClock.now - started < .seconds(30))
            #expect(await a.node.claim("newcomer") == .claimed)
            #expect(a.route(Array("from a: y\n".utf8), to: "bob", on: b) == .queued)
            try await b.waitUntil("delivered after the outage") { !b.deliveries.isEmpty }
            #expect(b.deliveries.map(\.bytes) == [Array("from a: y\n".utf8)])
        }
    }
}

/// Two nodes on a new database, each seeing the other: the first reaches the database through a
/// proxy the test can cut or freeze, the second directly.
func nodesOneBehindAProxy(
    name: String, url: String? = nil, configuration: ClusterConfiguration = testConfiguration
) async throws -> (TCPProxy, TestNode, TestNode) {
    let server = try postgres
    let url = if let url { url } else { try await server.makeDatabase() }
    let proxy = try await TCPProxy(toPort: server.port)
    let proxied = url.replacingOccurrences(of: ":\(server.port)/", with: ":\(proxy.port)/")
    let behind = try await TestNode.join(proxied, name: name, configuration: configuration)
    let steady = try await TestNode.join(url, name: "steady", configuration: configuration)
    try await behind.waitUntil("steady seen") { behind.node.peers.count == 2 }
    return (proxy, behind, steady)
}
