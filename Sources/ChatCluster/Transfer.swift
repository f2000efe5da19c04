import Logging
import NIOCore
import PostgresNIO

/// Moving deliveries: the flusher writes batches to peers, the fetcher takes the batches for this
/// node. Each is one task, so each does its work in order.
extension ClusterNode {
    /// Writes the outbox as batches, one statement per batch, as long as there is any. While a
    /// statement runs, deliveries pile up into the next batch: the busier the node, the bigger
    /// the batches, and an idle node sends a lone delivery at once.
    ///
    /// A batch counts as written only once a later statement on the same connection succeeded.
    /// The database commits a statement after it has answered it: stopped in between (`pg_ctl
    /// restart -m fast`), it sends the answer and then the error, and the batch is not in the
    /// table though its statement succeeded. A later statement succeeds only after that commit,
    /// so the last batch waits for the next one, or for a `SELECT 1` once the outbox is empty;
    /// if the connection fails first, it is written again (the database keeps one copy, the peer
    /// takes each sequence number once).
    func runFlusher() async {
        var retry: (lease: Int64, batches: [OutgoingBatch])? = nil
        var unconfirmed = UnconfirmedBatches()
        for await _ in flushRequests {
            while !Task.isCancelled {
                guard let lease = lifecycle.withLockedValue({ $0.leaseToWriteUnder(now: .now) }),
                    let session = currentSession.withLockedValue({ $0 })
                else { break }
                // Batches whose fate is unknown go first, under the same sequence numbers.
                var batches = unconfirmed.takeUnless(connection: session.sender, lease: lease)
                if let (retryLease, earlier) = retry {
                    if retryLease == lease { batches = earlier + batches }
                    retry = nil
                }
                batches += outbox.takeBatches()
                if batches.isEmpty {
                    if await confirm(&unconfirmed, on: session) {
                        ringIfReleasesWait()
                    } else {
                        retry = (lease, unconfirmed.takeAll())
                    }
                    break
                }
                let failed = await write(batches, from: lease, on: session, unconfirmed: &unconfirmed)
                ringIfReleasesWait()
                if let failed {
                    retry = (lease, unconfirmed.takeAll() + batches[failed...])
                    break
                }
            }
        }
    }

    /// Writes `batches` in order; returns the index of the first that failed, if any did. Each
    /// success confirms the batches before it; the last is left in `unconfirmed`.
    private func write(
        _ batches: [OutgoingBatch], from lease: Int64, on session: Session,
        unconfirmed: inout UnconfirmedBatches
    ) async -> Int? {
        let (sender, statements, timeout) = (session.sender, self.statements, configuration.queryTimeout)
        for (index, batch) in batches.enumerated() {
            do {
                try await withTimeout(timeout, closing: sender) {
                    try await statements.write(batch, from: lease, on: sender)
                }
                markWritten(unconfirmed.takeAll())
                unconfirmed.append(batch, connection: sender, lease: lease)
            } catch  where DatabaseErrors.sqlState(error) == DatabaseErrors.foreignKeyViolation {
                // The peer's row is gone: its clients went with it, and these deliveries' senders
                // are told.
                markWritten(unconfirmed.takeAll())
                giveUp([batch.payload])
                if giveUpUnwritten(to: batch.peer) {
                    emit([.peerReady(directory.peer(batch.peer) ?? ClusterPeer(id: batch.peer, name: "?"))])
                }
            } catch {
                logger.debug(
                    "writing a batch failed", metadata: ["reason": "\(DatabaseErrors.reason(error))"])
                closeAfterFailure(sender)
                return index
            }
        }
        return nil
    }

    /// Confirms the last batches written with a statement of no effect; true if it succeeded (or
    /// there was nothing to confirm).
    private func confirm(_ unconfirmed: inout UnconfirmedBatches, on session: Session) async -> Bool {
        guard !unconfirmed.isEmpty else { return true }
        let (sender, statements) = (session.sender, self.statements)
        do {
            try await withTimeout(configuration.queryTimeout, closing: sender) {
                try await statements.confirmCommitted(on: sender)
            }
        } catch {
            logger.debug(
                "confirming a batch failed", metadata: ["reason": "\(DatabaseErrors.reason(error))"])
            closeAfterFailure(sender)
            return false
        }
        markWritten(unconfirmed.takeAll())
        return true
    }

    /// The batches that failed wait for the next flush, which only a new session asks for once
    /// the outbox has asked (`Outbox.takeBatches`): a statement that failed on a connection that
    /// stays open (an error of the database's own) left them, and every release behind them,
    /// waiting for good. Closing it makes the supervisor connect anew.
    private func closeAfterFailure(_ sender: GuardedConnection) {
        sender.close()
    }

    private func markWritten(_ batches: [OutgoingBatch]) {
        for batch in batches {
            outbox.markWritten(batch)
            counters.withLockedValue {
                $0.batchesSent += 1
                $0.deliveriesSent += batch.records
                $0.bytesSent += batch.payload.readableBytes
            }
        }
    }

    /// Takes the batches waiting for this node whenever the bell rings. Rings during a fetch make
    /// one more fetch, not one each.
    func runFetcher() async {
        var lastSequence: [Int64: Int64] = [:]
        // Bounces answered here and not yet confirmed: a fetch whose reply is lost with its
        // connection (the query timeout closes it) has them again on the next.
        var answered: [Int64] = []
        var lastSequenceLease: Int64? = nil
        for await _ in fetchRequests {
            // Every catch-up asked for before this fetch began is answered when it ends.
            let serving = fetchTickets.withLockedValue { $0.requested }
            defer { answerCatchUps(through: serving) }
            guard let lease = lifecycle.withLockedValue({ $0.lease?.id }),
                let session = currentSession.withLockedValue({ $0 })
            else { continue }
            if lastSequenceLease != lease {
                lastSequence = [:]
                answered = []
                lastSequenceLease = lease
            }
            let (listener, statements) = (session.listener, self.statements)
            let fetched: Statements.Fetched
            do {
                let (delivered, confirming) = (lastSequence, answered)
                fetched = try await withTimeout(configuration.queryTimeout, closing: listener) {
                    try await statements.takeBatches(
                        for: lease, delivered: delivered, answered: confirming, on: listener)
                }
            } catch {
                logger.debug(
                    "fetching batches failed", metadata: ["reason": "\(DatabaseErrors.reason(error))"])
                continue
            }
            giveUp(fetched.bounces.map(\.payload))
            answered = fetched.bounces.map(\.arrival)
            // Once more, to confirm them even if no batch comes.
            if !answered.isEmpty { fetchBell.yield() }
            var batches: [InboundBatch] = []
            var deliveries = 0
            for row in fetched.batches {
                let last = lastSequence[row.sender] ?? 0
                // Written twice by a sender that could not tell whether its first write counted.
                guard row.sequence > last else { continue }
                if last > 0 && row.sequence != last + 1 {
                    logger.warning(
                        "batches from a peer are missing",
                        metadata: ["peer": "\(row.sender)", "missing": "\(row.sequence - last - 1)"])
                }
                lastSequence[row.sender] = row.sequence
                let peer =
                    directory.peer(row.sender) ?? ClusterPeer(id: row.sender, name: "node \(row.sender)")
                let batch = InboundBatch(from: peer, payload: row.payload)
                deliveries += batch.reduce(0) { count, _ in count + 1 }
                batches.append(batch)
            }
            counters.withLockedValue {
                $0.fetches += 1
                $0.batchesReceived += batches.count
                $0.deliveriesReceived += deliveries
            }
            guard !batches.isEmpty else { continue }
            let (onDeliveries, ready) = (self.onDeliveries, batches)
            // The next fetch waits until the server has taken these: a server that falls behind
            // leaves batches in the table, where they count against their senders' queues and
            // pause them, instead of piling up here.
            try? await callbackLoop.submit {
                for batch in ready { onDeliveries(batch) }
            }.get()
            // Once more, to delete and acknowledge these even if no other batch comes.
            fetchBell.yield()
        }
    }

    /// Returns once a fetch that began after this call has handed its deliveries to the server
    /// (or could not be made): what the database held for this node's logins before is then
    /// on its way to their loops, ahead of anything sent after.
    func catchUp() async {
        await withCheckedContinuation { resume in
            let closed = fetchTickets.withLockedValue { tickets in
                guard !tickets.isClosed else { return true }
                tickets.requested += 1
                tickets.waiting.append((tickets.requested, resume))
                return false
            }
            if closed { resume.resume() } else { fetchBell.yield() }
        }
    }

    private func answerCatchUps(through served: Int) {
        let ready = fetchTickets.withLockedValue { tickets in
            let ready = tickets.waiting.filter { $0.ticket <= served }
            tickets.waiting.removeAll { $0.ticket <= served }
            return ready
        }
        for waiter in ready { waiter.resume.resume() }
    }

    /// The fetcher has stopped: nobody will answer what still waits.
    func closeCatchUps() {
        let left = fetchTickets.withLockedValue { tickets in
            tickets.isClosed = true
            defer { tickets.waiting = [] }
            return tickets.waiting
        }
        for waiter in left { waiter.resume.resume() }
    }
}

/// Catch-ups (`ClusterNode.catchUp`) waiting for a fetch to begin and end.
struct FetchTickets {
    var requested = 0
    var waiting: [(ticket: Int, resume: CheckedContinuation<Void, Never>)] = []
    var isClosed = false
}

/// Batches whose statements succeeded on `connection`, not yet followed by another success
/// there (see `ClusterNode.runFlusher`).
struct UnconfirmedBatches {
    private var batches: [OutgoingBatch] = []
    private var connection: GuardedConnection?
    private var lease: Int64?

    var isEmpty: Bool { batches.isEmpty }

    mutating func append(_ batch: OutgoingBatch, connection: GuardedConnection, lease: Int64) {
        batches.append(batch)
        self.connection = connection
        self.lease = lease
    }

    mutating func takeAll() -> [OutgoingBatch] {
        defer { batches = [] }
        return batches
    }

    /// The batches, to be written again, if the connection they were written on has been
    /// replaced (nothing can confirm them now); none if it is still `connection`. Batches of
    /// an earlier lease are dropped: the node dropped what it queued when it gave that lease up.
    mutating func takeUnless(connection currentConnection: GuardedConnection, lease currentLease: Int64)
        -> [OutgoingBatch]
    {
        guard !batches.isEmpty, connection !== currentConnection else { return [] }
        let batches = takeAll()
        return lease == currentLease ? batches : []
    }
}
