import ChatCluster
import ChatProtocol
import NIOCore

/// What became of a message line.
enum DeliveryOutcome {
    /// Delivered (or noticed as undeliverable) to everyone it names.
    case delivered
    /// Not delivered at all: a queue it would feed is congested. The sender waits on the gate
    /// and tries the line again.
    case heldBack(CongestionGate)
    /// Delivered, but the way to another server is full: the sender waits on the gate before
    /// its next line.
    case deliveredThenWait(CongestionGate)
}

extension Broker {
    /// A list of thousands of names would pin a copy of itself to every connection that sent
    /// one; longer lists are kept in the broker's own small cache instead (`largeLists`).
    static let cachedListBytes = 1024

    /// Long lists (a group of a thousand) kept per loop, so that a group's messages do not look
    /// up a thousand names each: that was 8% of the server's time sending one message to 1,000
    /// (`perf record`). Bounded to this many lists, at most 64 KiB each with their lookups.
    static let largeListCacheEntries = 32

    /// Large enough that a recipient fed by several senders in a row still gets them in one
    /// write; small enough that the deliveries waiting for a write stay a few hundred KiB.
    static let earlyFlushBytes = 256 * 1024

    /// Delivers `text` from `sender` to each distinct name in `list`; `line` holds the bytes both
    /// ranges point into. Nothing is delivered while a recipient's queue is congested (see
    /// `DeliveryOutcome`).
    func deliver(
        from sender: Connection,
        login: ByteBuffer,
        line: ByteBuffer,
        bytes: UnsafeRawBufferPointer,
        recipients list: ByteRange,
        text: ByteRange
    ) -> DeliveryOutcome {
        let listBytes = UnsafeRawBufferPointer(rebasing: bytes[list])
        let recipients: ResolvedRecipients
        let version = directory.version
        let clusterVersion = cluster?.node.membershipVersion ?? 0
        if let last = sender.lastRecipients,
            last.isCurrent(for: listBytes, version: version, clusterVersion: clusterVersion)
        {
            recipients = last
        } else if listBytes.count > Self.cachedListBytes,
            let cached = largeLists[
                line.getSlice(at: line.readerIndex + list.lowerBound, length: list.count)!],
            cached.version == version && cached.clusterVersion == clusterVersion
        {
            recipients = cached
        } else {
            recipients = ResolvedRecipients.resolve(
                list, in: bytes, line: line, directory: directory, cluster: cluster, fromLoop: loopIndex)
            sender.lastRecipients = nil
            if listBytes.count <= Self.cachedListBytes {
                sender.lastRecipients = recipients
            } else {
                if largeLists.count >= Self.largeListCacheEntries {
                    largeLists.removeAll(keepingCapacity: true)
                }
                // A copy: a slice would pin the whole read buffer the line sits in.
                largeLists[ByteBuffer(bytes: listBytes)] = recipients
            }
        }
        if let congested = firstCongestedGate(of: recipients) { return .heldBack(congested) }
        if !recipients.offlineNames.isEmpty { sender.sendOfflineNotices(recipients.offlineNames) }
        formattedDelivery.clear()
        login.withUnsafeReadableBytes { login in
            Wire.writeDelivery(
                from: login,
                text: UnsafeRawBufferPointer(rebasing: bytes[text]),
                into: &formattedDelivery
            )
        }
        var outcome = DeliveryOutcome.delivered
        formattedDelivery.withUnsafeReadableBytes { delivery in
            // A slot empties mid-loop only if its owner was just cut off (the sender, say, by its
            // own copy); the rest still get the message.
            for slot in recipients.localSlots {
                online[slot]?.enqueue(delivery)
            }
            noteFanOut(recipients.localSlots.count)
            for run in recipients.remoteRuns {
                outgoingMail[run.loop].add(delivery, to: run.addresses)
                outgoingMailBytes[run.loop] &+= delivery.count &* run.count
                scheduleFlushTask()
            }
            let deliveries = recipients.localSlots.count &+ recipients.remoteCount
            bytesSinceFlush &+= delivery.count &* deliveries
            statistics.messageReceived()
            statistics.delivered(deliveries)
            if !recipients.elsewhere.isEmpty {
                outcome = route(delivery, to: recipients.elsewhere, from: sender)
            }
        }
        return outcome
    }

    /// Cluster mode: hands the delivery to the cluster for each recipient on another server.
    /// Whoever cannot be reached earns the sender a notice; a full way there holds the sender
    /// back after this line.
    private func route(
        _ delivery: UnsafeRawBufferPointer,
        to recipients: [(login: ByteBuffer, peer: ClusterPeer)],
        from sender: Connection
    ) -> DeliveryOutcome {
        guard let cluster else { return .delivered }
        var outcome = DeliveryOutcome.delivered
        for (login, peer) in recipients {
            var wait: CongestionGate?
            switch cluster.node.route(delivery, to: login, on: peer) {
            case .queued:
                statistics.delivered()
            case .queuedPeerBusy:
                statistics.delivered()
                wait = cluster.gate(forPeer: peer)
            case .queuedRecipientBusy:
                statistics.delivered()
                wait = cluster.gate(forRecipient: login)
            case .peerFull:
                sender.send(.serverBusy(String(buffer: login)))
                wait = cluster.gate(forPeer: peer)
            case .unavailable:
                sender.send(.serverUnreachable(String(buffer: login)))
            }
            if let wait {
                wait.setCongested(true)
                outcome = .deliveredThenWait(wait)
            }
        }
        return outcome
    }

    private func firstCongestedGate(of recipients: ResolvedRecipients) -> CongestionGate? {
        if congestedCount > 0 {
            for slot in recipients.localSlots {
                if let recipient = online[slot], recipient.isCongested || budgetHoldsBack(recipient) {
                    return recipient.gate
                }
            }
        }
        // Another loop's congestion is only seen through its gates: its inbox's, while it has
        // mail it has not taken; the loop's own, while its queue budget is exceeded (mail would
        // otherwise pour in before it could hold anyone back: a 2 MB fan-out per line, several
        // lines per read); and each recipient's.
        if !recipients.remoteRuns.isEmpty {
            let anyGateShut = directory.shutGates.load(ordering: .relaxed) > 0
            for run in recipients.remoteRuns {
                let loop = run.loop
                if inboxes[loop].shutIfFull(unsent: outgoingMailBytes[loop]) { return inboxes[loop].gate }
                if anyGateShut && budgetGates[loop].isCongested { return budgetGates[loop] }
            }
            if anyGateShut {
                for gate in recipients.remoteGates where gate.isCongested { return gate }
            }
        }
        // Another server's, through what its node last said.
        if let cluster {
            for (login, _) in recipients.elsewhere where cluster.node.isCongested(login) {
                let gate = cluster.gate(forRecipient: login)
                gate.setCongested(true)
                return gate
            }
        }
        return nil
    }

    /// Takes mail from another loop (or the cluster): each delivery goes to its recipients'
    /// outboxes, if the slot still holds the connection it was meant for. `counted` is what the
    /// mail counts for in this loop's inbox. `undelivered` hears of each delivery that found its
    /// slot left, by its place among the mail's (delivery, recipient) pairs.
    func receive(
        _ mail: ByteBuffer, counted: Int = 0,
        undelivered: ((_ place: Int, UnsafeRawBufferPointer) -> Void)? = nil
    ) {
        var place = -1
        LoopMail.open(mail) { delivery, slot, generation in
            place += 1
            guard slot < online.count, generations[slot] == generation, let recipient = online[slot] else {
                undelivered?(place, delivery)
                return
            }
            recipient.enqueue(delivery, fromAnotherLoop: true)
            bytesSinceFlush &+= delivery.count
        }
        flushIfOutboxesAreFull()
        if counted > 0 && inbox.taken(counted) {
            open(inbox.gate)
        }
    }

    // MARK: Writing

    /// Asks for `connection`'s outbox to be written at the end of this loop iteration. NIO runs
    /// submitted tasks after it has handled every ready socket, so all the reads of one iteration
    /// feed one write per recipient.
    func scheduleFlush(of connection: Connection) {
        outboxesToFlush.append(connection)
        scheduleFlushTask()
    }

    private func scheduleFlushTask() {
        guard !isFlushScheduled else { return }
        isFlushScheduled = true
        eventLoop.assumeIsolatedUnsafeUnchecked().execute { self.flushOutboxes() }
    }

    /// Writes the outboxes before the loop iteration ends if they already hold a lot. With
    /// thousands of busy clients one iteration reads thousands of sockets; holding every delivery
    /// until the end of it would stall the recipients meanwhile and pile up memory.
    func flushIfOutboxesAreFull() {
        if bytesSinceFlush >= Self.earlyFlushBytes { flushOutboxes() }
    }

    func flushOutboxes() {
        isFlushScheduled = false
        bytesSinceFlush = 0
        // Mail first, so that the other loops write their share while this one writes its own:
        // a message to a group of 1,000 was otherwise 500 writes here and then 500 there
        // (`group-1000` with two loops: 14.8 ms until all had a message, 11.7 ms mail first).
        sendMail()
        // A flush can close a channel, and closing can schedule more flushes: work on a copy.
        let due = outboxesToFlush
        outboxesToFlush.removeAll(keepingCapacity: true)
        if isBurstPending {
            isBurstPending = false
            return flushSharingTheBurst(due)
        }
        for connection in due {
            connection.flushOutbox()
        }
    }

    /// Hands each other loop the deliveries gathered for it.
    func sendMail() {
        for loop in outgoingMail.indices where !outgoingMail[loop].isEmpty {
            let mail = outgoingMail[loop].take()
            let counted = outgoingMailBytes[loop]
            outgoingMailBytes[loop] = 0
            inboxes[loop].mailed(counted)
            let recipient = brokers[loop]
            recipient.eventLoop.execute { recipient.value.receive(mail, counted: counted) }
        }
    }

    // MARK: Flow control

    /// Opens `gate` and lets every sender waiting on it go on, in the order they stopped, once
    /// the current event is over (so a sender's lines are never taken inside another
    /// connection's event), each on its own loop. The flag is cleared before the waiters are
    /// taken, the order `CongestionGate` relies on so that no wake-up is lost.
    func open(_ gate: CongestionGate) {
        gate.setCongested(false)
        for sender in gate.release() {
            if sender.eventLoop.inEventLoop {
                scheduleResume(of: sender.value, waitingOn: gate)
            } else {
                sender.eventLoop.execute { sender.value.resumeInput(waitingOn: gate) }
            }
        }
    }

    /// Takes `sender`'s input up again once the current event is over, if it still waits on `gate`.
    func scheduleResume(of sender: Connection, waitingOn gate: CongestionGate) {
        sendersToResume.append((sender, gate))
        guard !isResumeScheduled else { return }
        isResumeScheduled = true
        eventLoop.assumeIsolatedUnsafeUnchecked().execute { self.resumeSenders() }
    }

    private func resumeSenders() {
        isResumeScheduled = false
        let due = sendersToResume
        sendersToResume.removeAll(keepingCapacity: true)
        for (sender, gate) in due {
            sender.resumeInput(waitingOn: gate)
        }
    }
}
