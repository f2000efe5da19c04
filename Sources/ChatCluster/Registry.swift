import Logging
import NIOCore

/// The registry worker: claims, releases and congestion notices, in the order they were made.
///
/// Everything that waits when the worker wakes goes in one round: first the releases and notices
/// (one statement for all releases), then the claims (one statement for all of them). A login
/// storm of a thousand claims costs a few statements, not a thousand round trips, and a release
/// always reaches the database before a later claim of the same login. A release waits for the
/// deliveries routed before it to be written (the flusher rings when they are), and so does a
/// claim of its login, and every change after it.
extension ClusterNode {
    func runRegistry() async {
        for await _ in registryRequests {
            while !Task.isCancelled {
                let taken = pendingClaims.withLockedValue { pending in
                    defer { pending.claims = [] }
                    return pending.claims
                }
                let announced = await announceChanges()
                let waiting = Set(
                    controlQueue.withLockedValue { queue in
                        queue.compactMap { operation -> ByteBuffer? in
                            guard case .release = operation.kind else { return nil }
                            return operation.login
                        }
                    })
                // With the database out of reach every claim is answered now, as unavailable.
                let claims = announced ? taken.filter { !waiting.contains($0.login) } : taken
                let held = announced ? taken.filter { waiting.contains($0.login) } : []
                if !held.isEmpty {
                    pendingClaims.withLockedValue { $0.claims.insert(contentsOf: held, at: 0) }
                }
                if claims.isEmpty { break }
                var results = announced ? await claimTogether(claims.map(\.login)) : [:]
                for claim in claims {
                    let result = results[claim.login] ?? .unavailable
                    claim.answer.resume(returning: result)
                    if result == .claimed { results[claim.login] = .taken }
                }
            }
        }
        // Stopped: nobody will answer what still waits.
        let left = pendingClaims.withLockedValue { pending in
            pending.isClosed = true
            return pending.claims
        }
        for claim in left { claim.answer.resume(returning: .unavailable) }
    }

    /// Sends the releases and congestion notices that wait, but a release whose deliveries are
    /// not all written yet, and what comes after it for the same login; false if the database is
    /// out of reach (they stay queued for the next connection).
    private func announceChanges() async -> Bool {
        guard let session = currentSession.withLockedValue({ $0 }),
            let lease = lifecycle.withLockedValue({ $0.lease?.id })
        else { return false }
        let outbox = self.outbox
        let operations = controlQueue.withLockedValue { queue in
            var held = Set<ByteBuffer>()
            return queue.filter { operation in
                // A given-up lease's operations are done with below, whatever their marks.
                guard operation.lease == lease else { return true }
                guard !held.contains(operation.login), outbox.isWritten(operation.afterWrites) else {
                    held.insert(operation.login)
                    return false
                }
                return true
            }
        }
        guard !operations.isEmpty else { return true }
        let (control, statements) = (session.control, self.statements)
        // Those of a lease given up went with its row.
        let current = operations.filter { $0.lease == lease }
        let releases = current.compactMap { operation -> ByteBuffer? in
            if case .release = operation.kind { return operation.login }
            return nil
        }
        do {
            try await withTimeout(configuration.queryTimeout, closing: control) {
                if !releases.isEmpty { try await statements.release(releases, node: lease, on: control) }
                for operation in current {
                    guard case .congestion(let congested) = operation.kind else { continue }
                    try await statements.announceCongestion(
                        operation.login, congested: congested, node: lease, on: control)
                }
            }
        } catch {
            logger.debug("announcing changes failed", metadata: ["reason": "\(DatabaseErrors.reason(error))"])
            return false
        }
        let done = Set(operations.map(\.serial))
        controlQueue.withLockedValue { $0.removeAll { done.contains($0.serial) } }
        return true
    }

    /// Queues a release of `logins`, claimed under `lease` or perhaps claimed, whose askers were
    /// told "unavailable". It deletes only rows of this node, goes out on the next connection,
    /// and before any later claim of the same login here (see `runRegistry`); if the lease is
    /// given up first, it goes with the lease's row. A login granted in an earlier round (and
    /// asked for again from another connection before the first took its place) is someone's:
    /// it stays.
    private func freeUnanswered(_ logins: [ByteBuffer], lease: Int64) {
        let granted = grantedLogins.withLockedValue { $0 }
        for login in logins where !granted.contains(login) {
            enqueueControl(.release, login: login, lease: lease)
        }
    }

    /// The answer for each distinct login: a login asked for twice in one round is claimed once,
    /// and the second asker finds it taken.
    private func claimTogether(_ logins: [ByteBuffer]) async -> [ByteBuffer: ClaimResult] {
        guard let lease = lifecycle.withLockedValue({ $0.usableLease(now: .now) }),
            let session = currentSession.withLockedValue({ $0 })
        else { return [:] }
        let distinct = Array(Set(logins))
        let (control, statements) = (session.control, self.statements)
        let claimed: Set<ByteBuffer>?
        do {
            claimed = try await withTimeout(configuration.queryTimeout, closing: control) {
                try await statements.claim(distinct, node: lease, on: control)
            }
        } catch {
            logger.debug("claiming failed", metadata: ["reason": "\(DatabaseErrors.reason(error))"])
            // The statement may have committed before its answer was lost: these logins may now
            // be held by this node with nobody on it, for everyone, until the node stops. (One
            // still running is ended before the next session does anything: `Fence.swift`.)
            freeUnanswered(distinct, lease: lease)
            return [:]
        }
        // The lease may have been given up while the statement ran: then these logins are about
        // to be freed, and the server has been told to drop its clients. Or the connection was
        // lost just after the answer, and they are held for nobody.
        guard let claimed, lifecycle.withLockedValue({ $0.usableLease(now: .now) }) == lease else {
            freeUnanswered(Array(claimed ?? []), lease: lease)
            return [:]
        }
        var results: [ByteBuffer: ClaimResult] = [:]
        for login in distinct {
            if claimed.contains(login) {
                _ = directory.apply(.claimed(login, node: lease))
                grantedLogins.withLockedValue { _ = $0.insert(login) }
                results[login] = .claimed
            } else {
                results[login] = .taken
            }
        }
        return results
    }
}
