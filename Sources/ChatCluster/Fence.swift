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
    func endAbandonedBackends(before session: Session) async throws {
        // Behind a pooler an earlier session's process may be serving this one now: it is not
        // to be ended.
        var abandoned = abandonedBackends.withLockedValue { list in
            list.removeAll { session.backends.contains($0) }
            return list
        }
        guard !abandoned.isEmpty else { return }
        let (statements, control) = (self.statements, session.control)
        let deadline = ContinuousClock.now + configuration.queryTimeout
        while true {
            let ending = abandoned
            let running = try await withTimeout(max(deadline - .now, .milliseconds(100)), closing: control) {
                try await statements.endBackends(ending, on: control)
            }
            abandonedBackends.withLockedValue { list in
                list.removeAll { ending.contains($0) && !running.contains($0) }
            }
            if running.isEmpty { return }
            guard ContinuousClock.now < deadline else {
                throw ClusterError(
                    "\(running.count) database processes of this node's earlier connections did not end")
            }
            abandoned = running
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Closes `session`; the next session ends its processes before anything else.
    func abandon(_ session: Session) {
        session.close()
        abandonedBackends.withLockedValue { list in
            for backend in session.backends where !list.contains(backend) { list.append(backend) }
        }
    }
}
