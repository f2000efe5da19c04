import Logging
import NIOConcurrencyHelpers
import NIOCore
import PostgresNIO

/// A node's three connections to the database, made and lost together.
///
/// Three, so that a big batch being written does not hold up a heartbeat or a login, and the
/// notifications arrive on a connection that only listens and fetches.
struct Session: Sendable {
    let generation: Int
    /// Leases, logins, the directory.
    let control: GuardedConnection
    /// Batches to peers.
    let sender: GuardedConnection
    /// LISTEN, and fetching the batches for this node.
    let listener: GuardedConnection

    var guardedConnections: [GuardedConnection] { [control, sender, listener] }
    var connections: [PostgresConnection] { guardedConnections.map(\.connection) }

    /// The database's processes serving this session, once looked up (`ClusterNode.establish`).
    var backends: [Backend] = []

    /// A process of the database, as `pg_stat_activity` shows it: its start and its application
    /// name tell it apart from a later process with the same pid (and, behind a pooler that sets
    /// the application name per client, from the same process serving someone else; it may
    /// serve this node's next session, which the fence then spares).
    struct Backend: Sendable, Equatable {
        let pid: Int32
        let started: String
        let applicationName: String
    }

    /// Whether the database sees the control connection encrypted, or nil if it does not say:
    /// with `sslmode=prefer` only the database knows whether TLS was offered.
    func isEncrypted(timeout: Duration, logger: Logger) async throws -> Bool? {
        let control = self.control
        return try await withTimeout(timeout, closing: control) {
            let rows = try await control.run(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", logger: logger)
            return try rows.first?.decode(Bool.self)
        }
    }

    static func connect(
        generation: Int,
        to url: DatabaseURL,
        nodeName: String,
        configuration: ClusterConfiguration,
        logger: Logger
    ) async throws -> Session {
        let eventLoop = configuration.eventLoopGroup.next()
        var connections: [PostgresConnection] = []
        do {
            for (index, role) in ["control", "sender", "listener"].enumerated() {
                var options = url.connectionConfiguration(timeout: configuration.queryTimeout)
                // What `pg_stat_activity` shows, so an operator (or a test) can tell them apart.
                options.options.additionalStartupParameters = [
                    ("application_name", "achat \(nodeName) \(role)")
                ]
                connections.append(
                    try await PostgresConnection.connect(
                        on: eventLoop, configuration: options, id: generation * 3 + index, logger: logger))
            }
        } catch {
            for connection in connections { connection.closeInBackground() }
            throw error
        }
        return Session(
            generation: generation, control: GuardedConnection(connections[0]),
            sender: GuardedConnection(connections[1]), listener: GuardedConnection(connections[2]))
    }

    func close() {
        for connection in connections { connection.closeInBackground() }
    }

    /// Returns when any of the connections has closed. Closing the session ends the wait.
    func anyClosed() async {
        let resumed = NIOLockedValueBox(false)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            for connection in connections {
                connection.closeFuture.whenComplete { _ in
                    let first = resumed.withLockedValue { resumed in
                        defer { resumed = true }
                        return !resumed
                    }
                    if first { continuation.resume() }
                }
            }
        }
    }
}
