import Logging
import NIOCore
import PostgresNIO

/// Freeing nodes: their rows go, their logins with them (the cascade), and what was on its way
/// to them is answered.
///
/// A node that goes takes its clients with it, so a batch it never took (a node marks each batch
/// `taken` as it reads it) reached nobody. Each such batch moves to `achat_bounces`, for the node
/// its senders are on, which tells them (`ClusterNode+Undeliverable.swift`). One the node took may
/// have been delivered: it goes with the cascade, unsaid. Every way a node is freed goes through
/// here: another node's heartbeat after its lease expired, a restarted run of it taking its name
/// back, the node itself leaving or dropping a lease it gave up.
///
/// Each freeing is one statement, as everything here. One race is left: a batch whose write has
/// passed its foreign-key check when the freeing statement starts, and commits while it runs,
/// is not in its snapshot and goes with the cascade, unanswered. Closing it takes a lock before
/// the snapshot, so a transaction of two statements, and a node that lost the network between
/// them would hold that lock, and its row, until the database noticed: no other node could free
/// it. (Tried: `aBatchThatReachesTheDatabaseAfterTheLeaseExpiredIsDropped`, whose node's
/// connection freezes, then failed on a loaded machine: the other node never freed it.)
extension Statements {
    /// What a heartbeat found: whether the lease was still this node's, and the names of the
    /// nodes whose expired leases it ended.
    struct Reaping {
        var renewed = false
        var freed: [String] = []
    }

    /// Renews this node's lease and frees the nodes whose leases have expired. A node whose own
    /// lease is refused frees nobody: it is about to be freed itself, and may be late.
    func renewAndReap(node: Int64, lease: Duration, on connection: GuardedConnection) async throws
        -> Reaping
    {
        try await free(.expired(except: node, named: nil), renewing: node, lease: lease, on: connection)
    }

    /// Frees an earlier run of this node, crashed, if its lease has expired.
    func freeExpired(named name: String, on connection: GuardedConnection) async throws {
        _ = try await free(.expired(except: 0, named: name), renewing: 0, lease: .zero, on: connection)
    }

    /// Deletes a node's row, whatever its lease: this node leaving, or an earlier lease of it.
    func removeNode(_ node: Int64, on connection: GuardedConnection) async throws {
        _ = try await free(.exactly(node), renewing: 0, lease: .zero, on: connection)
    }

    private enum Freed {
        case expired(except: Int64, named: String?)
        case exactly(Int64)
    }

    /// `renewing`: this node's lease, or 0 (identities start at 1) to renew none.
    private func free(_ freed: Freed, renewing node: Int64, lease: Duration, on connection: GuardedConnection)
        async throws -> Reaping
    {
        let ms = milliseconds(lease)
        let (exactly, except, name): (Int64, Int64, String?) =
            switch freed {
            case .expired(let except, let name): (0, except, name)
            case .exactly(let id): (id, 0, nil)
            }
        // Bounces go to senders on nodes that stay; the snapshot still shows the nodes `gone`
        // deletes. A sender's node freed by another statement meanwhile gets its bounce all the
        // same (no foreign key, so that this statement does not fail), and a later sweep takes
        // it: bounces for nodes gone, with nobody left to tell.
        let rows = try await connection.run(
            """
            WITH renewed AS (
                UPDATE achat_nodes SET lease_expires = now() + \(ms) * interval '1 millisecond'
                WHERE id = \(node) AND lease_expires > now() RETURNING id
            ), gone AS (
                DELETE FROM achat_nodes
                WHERE CASE WHEN \(exactly) <> 0 THEN id = \(exactly)
                    ELSE lease_expires < now() AND id <> \(except) AND (\(name)::text IS NULL OR name = \(name)) END
                    AND (\(node) = 0 OR EXISTS (SELECT FROM renewed))
                RETURNING id, name
            ), untaken AS (
                DELETE FROM achat_batches b USING gone WHERE b.target = gone.id AND NOT b.taken
                RETURNING b.sender, b.payload, b.arrival
            ), bounced AS (
                INSERT INTO achat_bounces (target, payload)
                SELECT u.sender, u.payload FROM untaken u
                WHERE EXISTS (SELECT FROM achat_nodes n WHERE n.id = u.sender)
                    AND NOT EXISTS (SELECT FROM gone WHERE gone.id = u.sender)
                ORDER BY u.arrival
                RETURNING target
            ), swept AS (
                DELETE FROM achat_bounces b
                WHERE NOT EXISTS (SELECT FROM achat_nodes n WHERE n.id = b.target)
                    OR EXISTS (SELECT FROM gone WHERE gone.id = b.target)
            )
            SELECT (SELECT count(*) FROM renewed), (SELECT array_agg(name) FROM gone),
                (SELECT count(pg_notify('achat_members', 'x' || id)) FROM gone),
                (SELECT count(pg_notify('achat_node_' || target, '')) FROM (SELECT DISTINCT target FROM bounced) t)
            """, logger: logger)
        var reaping = Reaping()
        for row in rows {
            let (count, names, _, _) = try row.decode((Int64, [String]?, Int64, Int64).self)
            reaping.renewed = count == 1
            reaping.freed = names ?? []
        }
        return reaping
    }
}
