import Logging
import NIOCore

/// A statement a node stopped waiting for (its query timeout, a lost connection) may still run
/// in the database and commit later: PostgreSQL goes on with a statement whose client has gone.
/// A claim that commits after its asker was told "unavailable" would hold the login for nobody,
/// and the release the node queues for it (`Registry.swift`) could reach the database first.
/// So before a new session does anything, the database processes of the sessions before it are
/// ended and gone: whatever they ran has committed or aborted by then.
extension ClusterNode {
    /// Looks up the database's processes serving `session`.
    func identifyBackends(of session: Session) async throws -> [Session.Backend] {
        let (statements, timeout) = (self.statements, configuration.queryTimeout)
        var found: [Session.Backend] = []
        for connection in session.guardedConnections {
            let backend = try await withTimeout(timeout, closing: connection) {
                try await statements.backend(on: connection)
            }
            if let backend { found.append(backend) }
        }
        return found
    }

    /// Ends the processes of earlier sessions still running, and waits until they are gone (up
    /// to the query timeout; the next session tries again).
    func endAbandonedBackends(on control: GuardedConnection) async throws {
        let abandoned = abandonedBackends.withLockedValue { $0 }
        guard !abandoned.isEmpty else { return }
        let (statements, timeout) = (self.statements, configuration.queryTimeout)
        let deadline = ContinuousClock.now + timeout
        while true {
            let running = try await withTimeout(timeout, closing: control) {
                try await statements.endBackends(abandoned, on: control)
            }
            if running == 0 { break }
            guard ContinuousClock.now < deadline else {
                throw ClusterError(
                    "\(running) database processes of this node's earlier connections did not end")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        abandonedBackends.withLockedValue { $0.removeAll { abandoned.contains($0) } }
    }

    /// Closes `session`; the next session ends its processes before anything else.
    func abandon(_ session: Session) {
        session.close()
        abandonedBackends.withLockedValue { $0 += session.backends }
    }
}
