import Logging
import PostgresNIO

/// The cluster's tables, created or upgraded when a node joins.
///
/// Every node runs this on start; a transaction-scoped advisory lock makes the nodes that start
/// together take turns, so exactly one of them creates each table and the others see it done.
enum Schema {
    /// The version this code writes and understands.
    static let version = 3

    /// Any constant works, as long as every node uses the same one: it names the lock.
    private static let lockKey: Int64 = 0x6163_6861_7401

    /// Each step takes the schema from its index to the next version.
    static let upgrades: [[String]] = [
        [
            """
            CREATE TABLE achat_nodes (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                name text NOT NULL UNIQUE,
                lease_expires timestamptz NOT NULL,
                joined timestamptz NOT NULL DEFAULT now()
            )
            """,
            // Logins as the bytes the server compares, not as text: nothing is normalised.
            """
            CREATE TABLE achat_logins (
                login bytea PRIMARY KEY,
                node bigint NOT NULL REFERENCES achat_nodes (id) ON DELETE CASCADE
            )
            """,
            "CREATE INDEX achat_logins_node ON achat_logins (node)",
            // Unlogged: a batch lives for milliseconds and is worthless after a database crash
            // (its recipients' connections are gone too), so it is not worth a WAL record.
            """
            CREATE UNLOGGED TABLE achat_batches (
                target bigint NOT NULL REFERENCES achat_nodes (id) ON DELETE CASCADE,
                sender bigint NOT NULL,
                sequence bigint NOT NULL,
                payload bytea NOT NULL,
                PRIMARY KEY (target, sender, sequence)
            )
            """,
            // Deliveries are mostly unique text: compressing them costs time and saves little.
            "ALTER TABLE achat_batches ALTER COLUMN payload SET STORAGE EXTERNAL",
        ],
        // The order batches were written in, whoever wrote them: a login that moves from one node
        // to another has batches from both, and a third node must deliver the old node's first.
        // Numbered at insert; a node writes its next batch only once the last one is in.
        ["ALTER TABLE achat_batches ADD COLUMN arrival bigint GENERATED ALWAYS AS IDENTITY"],
        // Whether the target took a batch: one a node that went never took reached nobody, and
        // moves to `achat_bounces` for its senders' node, to tell them; one it took may have been
        // delivered (`Statements+Freeing.swift`). A bounce's target has no foreign key: a node
        // freed by another statement at the same moment would fail the whole freeing; bounces
        // left for a node that is gone are swept instead.
        [
            "ALTER TABLE achat_batches ADD COLUMN taken boolean NOT NULL DEFAULT false",
            """
            CREATE UNLOGGED TABLE achat_bounces (
                arrival bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                target bigint NOT NULL,
                payload bytea NOT NULL
            )
            """,
            "CREATE INDEX achat_bounces_target ON achat_bounces (target)",
            "ALTER TABLE achat_bounces ALTER COLUMN payload SET STORAGE EXTERNAL",
        ],
    ]

    static func prepare(on connection: GuardedConnection, logger: Logger) async throws {
        try await connection.run("BEGIN", logger: logger)
        do {
            try await upgrade(on: connection, logger: logger)
            try await connection.run("COMMIT", logger: logger)
        } catch {
            _ = try? await connection.run("ROLLBACK", logger: logger)
            throw error
        }
    }

    private static func upgrade(on connection: GuardedConnection, logger: Logger) async throws {
        try await connection.run("SELECT pg_advisory_xact_lock(\(lockKey))", logger: logger)
        try await connection.run(
            "CREATE TABLE IF NOT EXISTS achat_schema (version integer NOT NULL)", logger: logger)
        var current = 0
        for row in try await connection.run("SELECT version FROM achat_schema", logger: logger) {
            current = try row.decode(Int.self)
        }
        guard current <= version else {
            throw ClusterError(
                "the cluster database has schema version \(current), newer than this server's \(version): upgrade this server"
            )
        }
        guard current < version else { return }
        for step in upgrades[current...] {
            for statement in step {
                try await connection.run(PostgresQuery(unsafeSQL: statement), logger: logger)
            }
        }
        if current == 0 {
            try await connection.run(
                "INSERT INTO achat_schema (version) VALUES (\(version))", logger: logger)
        } else {
            try await connection.run("UPDATE achat_schema SET version = \(version)", logger: logger)
        }
        if current == 0 {
            logger.info("cluster tables created", metadata: ["version": "\(version)"])
        } else {
            logger.info("cluster schema upgraded", metadata: ["from": "\(current)", "to": "\(version)"])
        }
    }
}
