import Logging
import NIOCore
import PostgresNIO

/// Every statement the cluster runs (freeing nodes: `Statements+Freeing.swift`). Each one is a
/// single statement, so it commits as one transaction: a row change and the notification
/// announcing it are seen together or not at all, and notifications arrive in commit order.
///
/// Times are the database's (`now()`): every node compares leases on the same clock.
struct Statements {
    let logger: Logger

    static func nodeChannel(_ id: Int64) -> String { "achat_node_\(id)" }

    func milliseconds(_ duration: Duration) -> Int64 { duration.nanoseconds / 1_000_000 }

    // MARK: Leases

    enum Registration {
        case registered(Int64)
        /// A live node holds this name; its lease runs for this much longer.
        case nameHeld(remaining: Duration)
    }

    func register(name: String, lease: Duration, on connection: GuardedConnection) async throws
        -> Registration
    {
        let ms = milliseconds(lease)
        let rows = try await connection.run(
            """
            WITH node AS (
                INSERT INTO achat_nodes (name, lease_expires)
                VALUES (\(name), now() + \(ms) * interval '1 millisecond')
                ON CONFLICT (name) DO NOTHING RETURNING id
            )
            SELECT (SELECT id FROM node),
                (SELECT count(pg_notify('achat_members', 'j' || id || ' ' || \(name))) FROM node)
            """, logger: logger)
        for row in rows {
            let (id, _) = try row.decode((Int64?, Int64).self)
            if let id { return .registered(id) }
        }
        let held = try await connection.run(
            "SELECT extract(epoch FROM lease_expires - now())::float8 FROM achat_nodes WHERE name = \(name)",
            logger: logger)
        for row in held {
            let remaining = try row.decode(Double.self)
            return .nameHeld(remaining: .milliseconds(Int64(max(remaining, 0) * 1000)))
        }
        // Released between the two statements: try again.
        return try await register(name: name, lease: lease, on: connection)
    }

    // MARK: Fencing

    /// The database's process serving `connection`.
    func backend(on connection: GuardedConnection) async throws -> Session.Backend? {
        let rows = try await connection.run(
            """
            SELECT pid, backend_start::text, coalesce(application_name, '')
            FROM pg_stat_activity WHERE pid = pg_backend_pid()
            """, logger: logger)
        for row in rows {
            let (pid, started, name) = try row.decode((Int32, String, String).self)
            return Session.Backend(pid: pid, started: started, applicationName: name)
        }
        return nil
    }

    /// Asks each of `backends` that still runs to end (`pg_terminate_backend`, which aborts
    /// what it is running), and returns those that still ran.
    func endBackends(_ backends: [Session.Backend], on connection: GuardedConnection) async throws
        -> [Session.Backend]
    {
        let (pids, starts, names) = (
            backends.map(\.pid), backends.map(\.started), backends.map(\.applicationName)
        )
        let rows = try await connection.run(
            """
            SELECT b.pid, b.started, b.name, pg_terminate_backend(a.pid) FROM pg_stat_activity a
            JOIN unnest(\(pids)::int4[], \(starts)::text[], \(names)::text[]) AS b(pid, started, name)
            ON a.pid = b.pid AND a.backend_start = b.started::timestamptz
                AND coalesce(a.application_name, '') = b.name
            """, logger: logger)
        return try rows.map { row in
            let (pid, started, name, _) = try row.decode((Int32, String, String, Bool).self)
            return Session.Backend(pid: pid, started: started, applicationName: name)
        }
    }

    // MARK: Logins

    /// Claims as many of `logins` as are free, in one statement. Returns those claimed, or nil if
    /// this node's lease is not valid in the database.
    func claim(_ logins: [ByteBuffer], node: Int64, on connection: GuardedConnection) async throws -> Set<
        ByteBuffer
    >? {
        let hex = logins.map(MembershipChange.hex)
        let rows = try await connection.run(
            """
            WITH me AS (
                SELECT id FROM achat_nodes WHERE id = \(node) AND lease_expires > now()
            ), claimed AS (
                INSERT INTO achat_logins (login, node)
                SELECT decode(wanted, 'hex'), me.id FROM unnest(\(hex)::text[]) AS wanted, me
                ON CONFLICT (login) DO NOTHING RETURNING login, node
            ), announced AS (
                SELECT count(pg_notify('achat_members', '+' || node || ' ' || encode(login, 'hex'))) AS count
                FROM claimed
            )
            SELECT (SELECT count(*) FROM me), (SELECT count FROM announced),
                array(SELECT encode(login, 'hex') FROM claimed)
            """, logger: logger)
        for row in rows {
            let (valid, _, claimed) = try row.decode((Int64, Int64, [String]).self)
            guard valid == 1 else { return nil }
            return Set(claimed.compactMap { MembershipChange.decodeHex($0[...]) })
        }
        return nil
    }

    func release(_ logins: [ByteBuffer], node: Int64, on connection: GuardedConnection) async throws {
        let hex = logins.map(MembershipChange.hex)
        try await connection.run(
            """
            WITH released AS (
                DELETE FROM achat_logins
                WHERE node = \(node) AND login IN (SELECT decode(h, 'hex') FROM unnest(\(hex)::text[]) AS h)
                RETURNING login, node
            )
            SELECT count(pg_notify('achat_members', '-' || node || ' ' || encode(login, 'hex'))) FROM released
            """, logger: logger)
    }

    func announceCongestion(
        _ login: ByteBuffer, congested: Bool, node: Int64, on connection: GuardedConnection
    )
        async throws
    {
        let payload = "\(congested ? "c" : "u")\(node) \(MembershipChange.hex(login))"
        try await connection.run("SELECT pg_notify('achat_members', \(payload))", logger: logger)
    }

    /// Every node and where every login is, read in one snapshot.
    func readDirectory(on connection: GuardedConnection) async throws -> (
        peers: [ClusterPeer], logins: [ByteBuffer: Int64]
    ) {
        let rows = try await connection.run(
            "SELECT n.id, n.name, l.login FROM achat_nodes n LEFT JOIN achat_logins l ON l.node = n.id",
            logger: logger)
        var peers: [Int64: ClusterPeer] = [:]
        var logins: [ByteBuffer: Int64] = [:]
        for row in rows {
            let (id, name, login) = try row.decode((Int64, String, ByteBuffer?).self)
            peers[id] = ClusterPeer(id: id, name: name)
            if let login { logins[login] = id }
        }
        return (Array(peers.values), logins)
    }

    func notifyMarker(_ marker: String, on connection: GuardedConnection) async throws {
        try await connection.run("SELECT pg_notify('achat_members', \("m" + marker))", logger: logger)
    }

    // MARK: Batches

    /// Writes a batch and rings its peer's bell. Writing it again (after a connection broke with
    /// its fate unknown) does nothing: the key is the sender's sequence number. Nor does writing
    /// it once the node's lease has expired by the database's clock: the node dropped what it
    /// queued when it gave the lease up, and told its clients, so a statement that reaches the
    /// database late (a network that stalled) must not deliver it to whoever holds the login now.
    func write(_ batch: OutgoingBatch, from node: Int64, on connection: GuardedConnection) async throws {
        let channel = Self.nodeChannel(batch.peer)
        try await connection.run(
            """
            WITH written AS (
                INSERT INTO achat_batches (target, sender, sequence, payload)
                SELECT \(batch.peer), me.id, \(batch.sequence), \(batch.payload)
                FROM achat_nodes me WHERE me.id = \(node) AND me.lease_expires > now()
                ON CONFLICT DO NOTHING RETURNING target
            )
            SELECT pg_notify(\(channel), '') FROM written
            """, logger: logger)
    }

    /// A statement of no effect: its success means everything before it on `connection` was
    /// committed (see `ClusterNode.runFlusher`).
    func confirmCommitted(on connection: GuardedConnection) async throws {
        try await connection.run("SELECT 1", logger: logger)
    }

    /// What a fetch found: batches for this node's logins, and bounces for its senders.
    struct Fetched {
        var batches: [(sender: Int64, sequence: Int64, payload: ByteBuffer)] = []
        /// Deliveries this node's clients sent to a node that went before taking them, each
        /// with the number that confirms it on the next fetch.
        var bounces: [(arrival: Int64, payload: ByteBuffer)] = []
    }

    /// Takes every batch waiting for this node that it has not delivered yet, in the order they
    /// were inserted (each sender's in sequence, since a sender inserts one at a time); in the
    /// same statement, deletes those it has delivered (`delivered`: through which sequence
    /// number, per sender) and acknowledges them to their senders. A batch leaves the table
    /// only once delivered: deleted as it was taken, it was lost whenever the connection died
    /// with the answer on its way (`killedConnectionsAreReplacedAndNothingAcceptedIsLost`
    /// failed one run in six). Bounces are confirmed the same way: those numbered in `answered`
    /// are deleted, and taken again no more.
    func takeBatches(
        for node: Int64, delivered: [Int64: Int64], answered: [Int64], on connection: GuardedConnection
    ) async throws -> Fetched {
        // A dictionary's keys and values come in the same order.
        let (senders, lasts) = (Array(delivered.keys), Array(delivered.values))
        let rows = try await connection.run(
            """
            WITH done AS (
                SELECT * FROM unnest(\(senders)::bigint[], \(lasts)::bigint[]) AS done(sender, last)
            ), removed AS (
                DELETE FROM achat_batches b USING done
                WHERE b.target = \(node) AND b.sender = done.sender AND b.sequence <= done.last
                RETURNING b.sender, b.sequence
            ), acknowledged AS (
                SELECT count(pg_notify('achat_node_' || sender, 'a' || \(node) || ' ' || last)) AS count
                FROM (SELECT sender, max(sequence) AS last FROM removed GROUP BY sender) AS per_sender
            ), waiting AS (
                UPDATE achat_batches b SET taken = true
                WHERE b.target = \(node)
                    AND NOT EXISTS (SELECT FROM done WHERE done.sender = b.sender AND b.sequence <= done.last)
                RETURNING b.sender, b.sequence, b.payload, b.arrival
            ), answered AS (
                DELETE FROM achat_bounces WHERE target = \(node) AND arrival = ANY(\(answered)::bigint[])
            ), bounced AS (
                SELECT payload, arrival FROM achat_bounces
                WHERE target = \(node) AND NOT arrival = ANY(\(answered)::bigint[])
            )
            SELECT taken.sender, taken.sequence, taken.payload, taken.arrival
            FROM acknowledged LEFT JOIN (
                SELECT sender, sequence, payload, arrival FROM waiting
                UNION ALL SELECT NULL, NULL, payload, arrival FROM bounced
            ) AS taken ON true
            ORDER BY taken.sender IS NULL, taken.arrival
            """, logger: logger)
        // `acknowledged` drives the join, so its notifications go out even when nothing new
        // waits (a SELECT in a WITH runs only as far as the query reads it); it then gives one
        // row of NULLs. Batches come first, bounces (no sender) after, each in their order.
        var fetched = Fetched()
        for row in rows {
            let (sender, sequence, payload, arrival) = try row.decode(
                (Int64?, Int64?, ByteBuffer?, Int64?).self)
            guard let payload, let arrival else { continue }
            if let sender, let sequence {
                fetched.batches.append((sender, sequence, payload))
            } else {
                fetched.bounces.append((arrival, payload))
            }
        }
        return fetched
    }

    /// For each peer, the oldest batch from this node it has not taken yet.
    func oldestOutstanding(from node: Int64, on connection: GuardedConnection) async throws -> [Int64: Int64]
    {
        let rows = try await connection.run(
            "SELECT target, min(sequence) FROM achat_batches WHERE sender = \(node) GROUP BY target",
            logger: logger)
        var oldest: [Int64: Int64] = [:]
        for row in rows {
            let (target, sequence) = try row.decode((Int64, Int64).self)
            oldest[target] = sequence
        }
        return oldest
    }
}
