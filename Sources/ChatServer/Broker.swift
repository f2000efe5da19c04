import ChatProtocol
import Logging
import NIOCore

/// Owns the peers map and decides, one event at a time, who is online and where a message goes.
///
/// Every connection lives on the broker's event loop, so the broker is a plain class confined
/// to that thread: a login, a logout and a delivery are method calls in the order the loop runs
/// them, which is the total order the protocol promises, with no locks and no hops. Deliveries
/// are copied into each recipient's outbox and written once per loop iteration (sooner if the
/// outboxes fill up), so a recipient flooded by many senders costs one write, not one per message.
final class Broker {
    let eventLoop: any EventLoop
    let configuration: ChatServerConfiguration
    let logger: Logger

    private var peers: [ByteBuffer: Connection] = [:]
    /// The logged-in connections by slot, so a resolved recipient list can name them by index
    /// without keeping a departed connection alive.
    private var online: [Connection?] = []
    private var freeSlots: [Int] = []
    /// Bumped by every login and logout: a resolved recipient list from another version is stale.
    private var membershipVersion = 0
    /// Every open connection, logged in or not, so that shutdown can reach them all.
    private(set) var connections: [ObjectIdentifier: Connection] = [:]
    private var outboxesToFlush: [Connection] = []
    private var isFlushScheduled = false
    /// Senders whose awaited queue drained, to be taken up again after the current event.
    private var sendersToResume: [Connection] = []
    private var isResumeScheduled = false
    /// How many connections are congested right now: while none is, a delivery need not look.
    var congestedCount = 0
    var budget: QueueBudget
    /// Bytes of deliveries put into outboxes since they were last written.
    private var bytesSinceFlush = 0
    private(set) var isShuttingDown = false
    /// Scratch space reused by every delivery, so the hot path does not allocate.
    private var formattedDelivery: ByteBuffer

    init(eventLoop: any EventLoop, configuration: ChatServerConfiguration, logger: Logger) {
        self.eventLoop = eventLoop
        self.configuration = configuration
        self.logger = logger
        self.formattedDelivery = ByteBufferAllocator().buffer(capacity: 256)
        self.budget = QueueBudget(limit: configuration.queueBudgetBytes)
    }

    var onlineCount: Int { peers.count }

    // MARK: Membership

    func register(_ connection: Connection) {
        connections[ObjectIdentifier(connection)] = connection
    }

    /// Claims `login` for `connection`; false if someone else holds it.
    func claim(_ login: ByteBuffer, for connection: Connection) -> Bool {
        guard peers[login] == nil else { return false }
        peers[login] = connection
        let slot = freeSlots.popLast() ?? online.count
        if slot == online.count { online.append(nil) }
        online[slot] = connection
        connection.slot = slot
        membershipVersion &+= 1
        return true
    }

    /// Frees `connection`'s login, if it holds one. Safe to call more than once.
    func releaseLogin(of connection: Connection) {
        guard let slot = connection.slot, let login = connection.login else { return }
        peers[login] = nil
        online[slot] = nil
        freeSlots.append(slot)
        connection.slot = nil
        connection.lastRecipients = nil
        membershipVersion &+= 1
    }

    /// Forgets a connection whose channel has closed.
    func unregister(_ connection: Connection) {
        releaseLogin(of: connection)
        connections[ObjectIdentifier(connection)] = nil
    }

    // MARK: Delivery

    /// Delivers `text` from `sender` to each distinct name in `list`; `line` holds the bytes both
    /// ranges point into. Returns, without delivering anything, the first recipient whose queue
    /// is congested: the sender waits for it and tries the line again.
    func deliver(
        from sender: Connection,
        login: ByteBuffer,
        line: ByteBuffer,
        bytes: UnsafeRawBufferPointer,
        recipients list: ByteRange,
        text: ByteRange
    ) -> Connection? {
        let listBytes = UnsafeRawBufferPointer(rebasing: bytes[list])
        let recipients: ResolvedRecipients
        if let last = sender.lastRecipients, last.isCurrent(for: listBytes, version: membershipVersion) {
            recipients = last
        } else {
            recipients = resolve(list, in: bytes, line: line)
            // A list of thousands of names would pin a copy of itself to every connection that
            // sent one; such lists are rare, so they are looked up each time instead.
            sender.lastRecipients = listBytes.count <= Self.cachedListBytes ? recipients : nil
        }
        if congestedCount > 0 {
            for slot in recipients.onlineSlots {
                if let recipient = online[slot], recipient.isCongested || budgetHoldsBack(recipient) {
                    return recipient
                }
            }
        }
        for name in recipients.offlineNames {
            sender.send(.recipientOffline(name))
        }
        formattedDelivery.clear()
        login.withUnsafeReadableBytes { login in
            Wire.writeDelivery(
                from: login,
                text: UnsafeRawBufferPointer(rebasing: bytes[text]),
                into: &formattedDelivery
            )
        }
        formattedDelivery.withUnsafeReadableBytes { delivery in
            // A slot empties mid-loop only if its owner was just cut off (the sender, say, by its
            // own notices); the rest still get the message.
            for slot in recipients.onlineSlots {
                online[slot]?.enqueue(delivery)
            }
            bytesSinceFlush &+= delivery.count &* recipients.onlineSlots.count
        }
        return nil
    }

    /// Looks up each distinct name in `list`.
    private func resolve(_ list: ByteRange, in bytes: UnsafeRawBufferPointer, line: ByteBuffer)
        -> ResolvedRecipients
    {
        var resolved = ResolvedRecipients(
            list: Array(UnsafeRawBufferPointer(rebasing: bytes[list])),
            version: membershipVersion
        )
        var seen = DistinctNames(bytes: bytes, line: line)
        for name in RecipientNames(bytes, list) where seen.insert(name) {
            let key = line.getSlice(at: line.readerIndex + name.lowerBound, length: name.count)!
            if let slot = peers[key]?.slot {
                resolved.onlineSlots.append(slot)
            } else {
                resolved.offlineNames.append(String(buffer: key))
            }
        }
        return resolved
    }

    /// Asks for `connection`'s outbox to be written at the end of this loop iteration. NIO runs
    /// submitted tasks after it has handled every ready socket, so all the reads of one iteration
    /// feed one write per recipient.
    func scheduleFlush(of connection: Connection) {
        outboxesToFlush.append(connection)
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

    /// Takes `sender`'s input up again once the current event is over.
    func scheduleResume(of sender: Connection) {
        sendersToResume.append(sender)
        guard !isResumeScheduled else { return }
        isResumeScheduled = true
        eventLoop.assumeIsolatedUnsafeUnchecked().execute { self.resumeSenders() }
    }

    private func resumeSenders() {
        isResumeScheduled = false
        let due = sendersToResume
        sendersToResume.removeAll(keepingCapacity: true)
        for sender in due {
            sender.resumeInput()
        }
    }

    static let cachedListBytes = 1024

    /// Large enough that a recipient fed by several senders in a row still gets them in one
    /// write; small enough that the deliveries waiting for a write stay a few hundred KiB.
    static let earlyFlushBytes = 256 * 1024

    private func flushOutboxes() {
        isFlushScheduled = false
        bytesSinceFlush = 0
        // A flush can close a channel, and closing can schedule more flushes: work on a copy.
        let due = outboxesToFlush
        outboxesToFlush.removeAll(keepingCapacity: true)
        for connection in due {
            connection.flushOutbox()
        }
    }

    // MARK: Shutdown

    /// Stops every connection from reading, lets each take what is queued for it, and closes it;
    /// whatever is still open after the grace period is closed regardless. The future completes
    /// when every connection is closed.
    func shutDown() -> EventLoopFuture<Void> {
        isShuttingDown = true
        cancelBudgetSweep()
        let open = Array(connections.values)
        logger.info("shutting down", metadata: ["connections": "\(open.count)"])
        let closed = open.map { $0.closeFuture }
        for connection in open {
            connection.shutDown()
        }
        let deadline = eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(
            in: configuration.shutdownGracePeriod
        ) {
            for connection in self.connections.values {
                connection.closeNow(reason: "shutdown grace period over")
            }
        }
        return EventLoopFuture.andAllComplete(closed, on: eventLoop).always { _ in deadline.cancel() }
    }
}

/// The names of one recipient list seen so far. Short lists, the usual case, compare in place; a
/// long one switches to a set so that a line of thousands of names stays linear.
private struct DistinctNames {
    let bytes: UnsafeRawBufferPointer
    let line: ByteBuffer
    private var few: [ByteRange] = []
    private var many: Set<ByteBuffer> = []

    init(bytes: UnsafeRawBufferPointer, line: ByteBuffer) {
        self.bytes = bytes
        self.line = line
    }

    /// True if `name` was not seen before.
    mutating func insert(_ name: ByteRange) -> Bool {
        let linearLimit = 16
        if few.count < linearLimit {
            for seen in few where seen.count == name.count {
                if memcmp(
                    bytes.baseAddress! + seen.lowerBound, bytes.baseAddress! + name.lowerBound, name.count)
                    == 0
                {
                    return false
                }
            }
            few.append(name)
            return true
        }
        if many.isEmpty {
            for seen in few { many.insert(slice(seen)) }
        }
        return many.insert(slice(name)).inserted
    }

    private func slice(_ range: ByteRange) -> ByteBuffer {
        line.getSlice(at: line.readerIndex + range.lowerBound, length: range.count)!
    }
}

/// A recipient list as the broker last looked it up for one sender.
struct ResolvedRecipients {
    /// The raw bytes before the `:`, compared byte for byte with the next line's.
    let list: [UInt8]
    let version: Int
    var onlineSlots: [Int] = []
    var offlineNames: [String] = []

    init(list: [UInt8], version: Int) {
        self.list = list
        self.version = version
    }

    func isCurrent(for list: UnsafeRawBufferPointer, version: Int) -> Bool {
        version == self.version && self.list.count == list.count
            && self.list.withUnsafeBytes { memcmp($0.baseAddress!, list.baseAddress!, list.count) == 0 }
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
