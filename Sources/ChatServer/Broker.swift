import ChatProtocol
import Logging
import NIOCore

/// Owns the peers map and decides, one event at a time, who is online and where a message goes.
///
/// Every connection lives on the broker's event loop, so the broker is a plain class confined
/// to that thread: a login, a logout and a delivery are method calls in the order the loop runs
/// them, which is the total order the protocol promises, with no locks and no hops. Deliveries
/// are copied into each recipient's outbox and written once per loop iteration, so a recipient
/// flooded by many senders costs one write, not one per message.
final class Broker {
    let eventLoop: any EventLoop
    let configuration: ChatServerConfiguration
    let logger: Logger

    private var peers: [ByteBuffer: Connection] = [:]
    /// Every open connection, logged in or not, so that shutdown can reach them all.
    private var connections: [ObjectIdentifier: Connection] = [:]
    private var outboxesToFlush: [Connection] = []
    private var isFlushScheduled = false
    private(set) var isShuttingDown = false
    /// Scratch space reused by every delivery, so the hot path does not allocate.
    private var formattedDelivery: ByteBuffer
    private var recipientsSeen: [ByteRange] = []
    private var recipientsSeenLarge: Set<ByteBuffer> = []

    init(eventLoop: any EventLoop, configuration: ChatServerConfiguration, logger: Logger) {
        self.eventLoop = eventLoop
        self.configuration = configuration
        self.logger = logger
        self.formattedDelivery = ByteBufferAllocator().buffer(capacity: 256)
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
        return true
    }

    /// Frees `connection`'s login, if it holds one. Safe to call more than once.
    func releaseLogin(of connection: Connection) {
        if let login = connection.login, peers[login] === connection {
            peers[login] = nil
        }
    }

    /// Forgets a connection whose channel has closed.
    func unregister(_ connection: Connection) {
        releaseLogin(of: connection)
        connections[ObjectIdentifier(connection)] = nil
    }

    // MARK: Delivery

    /// Delivers `text` from `sender` to each distinct name in `list`; `line` holds the bytes both
    /// ranges point into.
    func deliver(
        from sender: Connection,
        login: ByteBuffer,
        line: ByteBuffer,
        bytes: UnsafeRawBufferPointer,
        recipients list: ByteRange,
        text: ByteRange
    ) {
        formattedDelivery.clear()
        Wire.writeDelivery(
            from: login,
            text: UnsafeRawBufferPointer(rebasing: bytes[text]),
            into: &formattedDelivery
        )
        recipientsSeen.removeAll(keepingCapacity: true)
        // Clearing a set costs its capacity even when empty; only a long list ever filled it.
        if !recipientsSeenLarge.isEmpty { recipientsSeenLarge.removeAll(keepingCapacity: true) }

        for name in RecipientNames(bytes, list) {
            guard isFirstMention(of: name, in: bytes, line: line) else { continue }
            let key = line.getSlice(at: line.readerIndex + name.lowerBound, length: name.count)!
            if let recipient = peers[key] {
                recipient.enqueue(formattedDelivery)
            } else {
                let offline = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[name]), as: UTF8.self)
                sender.send(.recipientOffline(offline))
            }
        }
    }

    /// Dedupes a recipient list. Short lists, the usual case, compare in place; a long one
    /// switches to a set so that a line of thousands of names stays linear.
    private func isFirstMention(of name: ByteRange, in bytes: UnsafeRawBufferPointer, line: ByteBuffer)
        -> Bool
    {
        let linearLimit = 16
        if recipientsSeen.count < linearLimit {
            for seen in recipientsSeen where seen.count == name.count {
                if memcmp(
                    bytes.baseAddress! + seen.lowerBound, bytes.baseAddress! + name.lowerBound, name.count)
                    == 0
                {
                    return false
                }
            }
            recipientsSeen.append(name)
            return true
        }
        if recipientsSeenLarge.isEmpty {
            for seen in recipientsSeen {
                recipientsSeenLarge.insert(
                    line.getSlice(at: line.readerIndex + seen.lowerBound, length: seen.count)!)
            }
        }
        let key = line.getSlice(at: line.readerIndex + name.lowerBound, length: name.count)!
        return recipientsSeenLarge.insert(key).inserted
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

    private func flushOutboxes() {
        isFlushScheduled = false
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
        let open = Array(connections.values)
        logger.info("shutting down", metadata: ["connections": "\(open.count)"])
        let closed = open.map { $0.closeFuture }
        for connection in open {
            connection.drainAndClose(notice: .shuttingDown, reason: "server shutdown")
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

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
