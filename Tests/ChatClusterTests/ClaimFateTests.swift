import ChatTestSupport
import NIOCore
import Testing

@testable import ChatCluster

/// Claims the node stopped waiting for: PostgreSQL goes on with a statement whose client has
/// gone, so a claim answered "unavailable" may still commit. Triggers on the logins table stage
/// each case. Each test has its own database, so they run side by side.
@Suite(.postgres, .enabled(if: postgresAvailable, postgresSkipReason))
struct ClaimFateTests {
    /// Leases that outlast every stall here: renewals wait behind a slow claim on its connection.
    static var patient: ClusterConfiguration {
        var configuration = testConfiguration
        configuration.leaseDuration = .seconds(40)
        return configuration
    }

    /// How long a claim sleeps to outlast its node's patience: far past the query timeout, so the
    /// next session's fence ends it even on a machine loaded enough to take seconds to connect
    /// again.
    static var secondsPastPatience: Int { Int(patient.queryTimeout / .seconds(1)) + 20 }

    /// A claim the node stopped waiting for runs on in the database: PostgreSQL goes on with a
    /// statement whose client has closed the connection. It committed some seconds later, and
    /// the login was held by the node for nobody, refused to everyone (its own node's next claim
    /// included) until the node stopped. Here a trigger holds one claim past the query timeout;
    /// the node's next connection ends the process that runs it, so it never commits.
    @Test func aClaimThatRunsPastItsNodesPatienceNeverHoldsTheLogin() async throws {
        let url = try await postgres.makeDatabase()
        try await withNodes(2, url: url, configuration: Self.patient) { nodes in
            let (a, b) = (nodes[0], nodes[1])
            try await Self.slowDown(claimOfDave: 1, for: Self.secondsPastPatience, in: url)
            #expect(await a.node.claim("dave") == .unavailable)
            // The process running the claim is gone: ended, or (without the fence) at the end of
            // its sleep, having committed.
            try await a.waitUntil("the claim ended", timeout: .seconds(60)) {
                try await Self.count(
                    "pg_stat_activity WHERE wait_event = 'PgSleep' AND datname = current_database()", in: url)
                    == 0
            }
            try await b.waitUntil("dave free") { await b.node.claim("dave") == .claimed }
            // The fence runs as `a` connects again; its claims are answered once it is back.
            try await a.waitForEvent(.databaseAvailable)
            #expect(await a.node.claim("dave") == .taken)
            #expect(try await Self.count("slow_claims", in: url) == 0, "the claim committed")
        }
    }

    /// A claim that committed but whose answer was lost with the connection: the node told its
    /// asker "unavailable", and the login was held for nobody until the node stopped. Here the
    /// claim sleeps in a trigger while the connection is cut, and commits before the node can
    /// connect again.
    @Test func aClaimThatCommitsAfterItsAnswerWasLostIsFreedAgain() async throws {
        let url = try await postgres.makeDatabase()
        // The node waits for its claim past the sleep: the cut, not its patience, ends the wait.
        var waitsForItsClaim = Self.patient
        waitsForItsClaim.queryTimeout = .seconds(60)
        let (proxy, a, b) = try await nodesOneBehindAProxy(
            name: "lost", url: url, configuration: waitsForItsClaim)
        defer { Task { await proxy.close() } }
        // Long enough for the test to see it sleep and cut the connection on a loaded machine,
        // where each look is a psql process of its own (8 s was a thin margin there).
        try await Self.slowDown(claimOfDave: 1, for: 20, in: url)
        async let answer = a.node.claim("dave")
        try await a.waitUntil("the claim is in the database") {
            try await Self.count(
                "pg_stat_activity WHERE wait_event = 'PgSleep' AND datname = current_database()", in: url)
                == 1
        }
        proxy.cut()
        #expect(await answer == .unavailable)
        try await a.waitUntil("the claim committed", timeout: .seconds(60)) {
            try await Self.count("slow_claims", in: url) == 1
        }
        proxy.restore()
        try await b.waitUntil("dave free") { await b.node.claim("dave") == .claimed }
        #expect(await a.node.claim("dave") == .taken)
        await a.node.leave()
        await b.node.leave()
    }

    /// A login granted here is asked for again, from another connection, before the first took
    /// its place (so this server does not yet see it online), in a round that fails. The release
    /// queued for that round's claims must spare it: it would free in the database a login a
    /// client holds, for another server to grant again. The trigger holds the second claim.
    @Test func aFailedClaimRoundLeavesALoginGrantedEarlierAlone() async throws {
        let url = try await postgres.makeDatabase()
        try await withNodes(2, url: url, configuration: Self.patient) { nodes in
            let (a, b) = (nodes[0], nodes[1])
            try await Self.slowDown(claimOfDave: 2, for: Self.secondsPastPatience, in: url)
            #expect(await a.node.claim("dave") == .claimed)
            #expect(await a.node.claim("dave") == .unavailable)
            try await a.waitForEvent(.databaseAvailable, timeout: .seconds(60))
            // A claim goes to the database after every release queued before it.
            try await a.waitUntil("a claim gets through") { await a.node.claim("erin") == .claimed }
            #expect(
                try await Self.count("achat_logins WHERE login = convert_to('dave', 'UTF8')", in: url) == 1)
            #expect(await b.node.claim("dave") == .taken)
        }
    }

    /// Makes the `attempt`-th claim of `dave` (on any node; a sequence is not rolled back with
    /// the claim) sleep for `seconds` in the database; if it then commits, it leaves a row in
    /// `slow_claims`.
    private static func slowDown(claimOfDave attempt: Int, for seconds: Int, in url: String) async throws {
        try await postgres.psql(
            """
            CREATE SEQUENCE slow_claim_tries;
            CREATE TABLE slow_claims (committed boolean);
            CREATE FUNCTION slow_claim() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
            BEGIN
                IF nextval('slow_claim_tries') = \(attempt) THEN
                    PERFORM pg_sleep(\(seconds));
                    INSERT INTO slow_claims VALUES (true);
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER slow_claim BEFORE INSERT ON achat_logins FOR EACH ROW
                WHEN (NEW.login = convert_to('dave', 'UTF8')) EXECUTE FUNCTION slow_claim();
            """, database: database(of: url))
    }

    private static func count(_ rows: String, in url: String) async throws -> Int? {
        Int(
            try await postgres.psql("SELECT count(*) FROM \(rows)", database: database(of: url))
                .trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
