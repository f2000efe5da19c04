import ChatProtocol
import NIOCore
import SystemPackage
import SystemSupport

/// The outbox and the queue it is part of: what is queued for the client, the absolute limit,
/// and the accounting the flow control and the queue budget go by.
extension Connection {
    /// Queues `bytes` for this client, or cuts the client off if its queue would pass the
    /// absolute limit. Deliveries from another loop are exempt: they were sent on that loop's
    /// view of this queue's congestion, which lags by up to one batch per loop, and a reader
    /// that reads must not pay for that lag (the lag bounds what they add).
    func enqueue(_ bytes: UnsafeRawBufferPointer, fromAnotherLoop: Bool = false) {
        guard lifecycle.takesInput else { return }
        if !fromAnotherLoop
            && outbox.readableBytes &+ bytesInChannel &+ bytes.count > broker.configuration.maximumQueueBytes
            && !hasRoomWhenRemeasured(for: bytes.count)
        {
            return cutOffAtTheLimit()
        }
        // Not `writeBytes`: the optimizer left that call to NIO's own compiled copy, which checks
        // exclusivity at run time (5% of the server's time at 5M deliveries/s, `perf record`);
        // this one it inlines, under this target's unchecked exclusivity.
        outbox.writeWithUnsafeMutableBytes(minimumWritableBytes: bytes.count) { space in
            space.baseAddress!.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
            return bytes.count
        }
        if accountedQueueBytes == 0 { broker.budget.queuedConnections &+= 1 }
        accountedQueueBytes &+= bytes.count
        broker.budget.total &+= bytes.count
        if broker.budget.total > broker.budget.limit { broker.budgetMayBeExceeded() }
        if !isOutboxScheduled {
            isOutboxScheduled = true
            broker.scheduleFlush(of: self)
        }
    }

    // Rare, and kept out of `enqueue`, which runs for every delivery.
    @inline(never)
    private func hasRoomWhenRemeasured(for count: Int) -> Bool {
        bytesInChannel = currentBytesInChannel()
        return outbox.readableBytes + bytesInChannel + count <= broker.configuration.maximumQueueBytes
    }

    @inline(never)
    private func cutOffAtTheLimit() {
        let limit = broker.configuration.maximumQueueBytes
        countCutOff(.tooSlow)
        logger.notice(
            "cut off",
            metadata: [
                "reason": "outgoing queue over \(limit) bytes",
                "queued": "outbox \(outbox.readableBytes), channel \(bytesInChannel)",
            ])
        perform(lifecycle.cutOff(.tooSlow, reason: "too slow: outgoing queue full"))
    }

    func send(_ notice: Notice) {
        send(notice, line: notice.line)
    }

    private func send(_ notice: Notice, line: String) {
        broker.statistics.noticeSent(notice)
        var line = line
        line.withUTF8 { enqueue(UnsafeRawBufferPointer($0)) }
        // Counted toward the early write as deliveries are: a client whose lines earn notices
        // learns of its own full queue line by line, and is no longer read from. Uncounted, one
        // read of 100,000 lines to nobody queued 1 MiB of notices unwritten, and the client,
        // reading as fast as it could, was cut off as too slow.
        broker.bytesSinceFlush &+= line.utf8.count
    }

    /// A notice for each recipient not online, while they fit under the queue's limit with room
    /// for one more, which counts the rest. One line of 64 KiB can name 16,000 people, and a
    /// name of control characters is quoted as code points: 780 KB of notices, 12 times the line
    /// (an audit's), and with `--max-queue-bytes 300000` a client reading as fast as it could was
    /// cut off as too slow by its own notices.
    func sendOfflineNotices(_ names: [String]) {
        bytesInChannel = currentBytesInChannel()
        var room = broker.configuration.maximumQueueBytes - outbox.readableBytes - bytesInChannel
        for (index, name) in names.enumerated() {
            let notice = Notice.recipientOffline(name)
            let line = notice.line
            room -= line.utf8.count
            let isLast = index == names.count - 1
            if room < (isLast ? 0 : Self.roomForTheLastNotice) {
                return send(.moreRecipientsOffline(names.count - index))
            }
            send(notice, line: line)
        }
    }

    /// The count of the rest is 90 bytes at most.
    private static let roomForTheLastNotice = 256

    /// Writes the outbox: straight to the socket while the channel holds nothing, and whatever
    /// the socket does not take (all of it, if the channel still holds some) through the
    /// channel, which waits for room, keeps the order and handles the errors.
    ///
    /// Hand-written because NIO's write path (the pipeline, the pending-writes queue, the
    /// channel's state, and asking it afterwards what it holds) was 21% of the server's time in
    /// `group-1000`, where every delivery is its own write (`perf record`), and `write(2)` costs
    /// the kernel more than `send(2)`: server CPU per delivery went from 9.4 to 7.6 µs there, and
    /// from 1.66 to 1.52 µs at a steady 100k deliveries/s.
    func flushOutbox() {
        guard beginFlush() else { return }
        var sent = 0
        if let socket = directSocket() {
            sent = outbox.withUnsafeReadableBytes { socket.sendWithoutWaiting($0) }
        }
        finishFlush(sent: sent)
    }

    /// Starts writing the outbox; false if there is nothing to write.
    func beginFlush() -> Bool {
        isOutboxScheduled = false
        return lifecycle.takesInput && context != nil && outbox.readableBytes > 0
    }

    /// Counts `count` bytes as written out, to the socket or to the channel (for the statistics
    /// and the stall checks), when they leave the outbox.
    func noteWritten(_ count: Int) {
        bytesFlushed &+= count
        broker.statistics.sent(bytes: count)
    }

    /// The socket to send the outbox to directly, if the channel holds nothing. While the channel
    /// is active its descriptor is open: NIO closes the socket and marks the channel inactive in
    /// one step on this loop's thread.
    func directSocket() -> SystemPackage.FileDescriptor? {
        guard bytesInChannel == 0, broker.configuration.tls == nil, let socket,
            context?.channel.isActive == true
        else {
            return nil
        }
        return socket
    }

    /// Hands the channel what is left of the outbox once `sent` bytes of it went to the socket.
    func finishFlush(sent: Int) {
        // Gone meanwhile (a burst shared with a helper finishes its connections one by one).
        guard lifecycle.takesInput, let context else { return }
        outbox.moveReaderIndex(forwardBy: sent)
        noteWritten(sent)
        if outbox.readableBytes == 0 {
            emptyOutbox()
            // The channel holds something only if a flush nested in a shared burst's (see
            // `flushSharingTheBurst`) wrote to it meanwhile.
            if bytesInChannel == 0 { account(queued: 0) } else { remeasureQueue() }
            return
        }
        // The outbox reads as empty before the write: the channel can report a change of
        // writability from inside it, and the queue measured then must not count these bytes
        // twice, in the outbox and in the channel.
        let rest = outbox
        outbox.moveReaderIndex(forwardBy: outbox.readableBytes)
        noteWritten(rest.readableBytes)
        context.writeAndFlush(wrapOutboundOut(rest), promise: nil)
        emptyOutbox()
        remeasureQueue()
    }

    /// Keeps a small outbox's memory for the next round; gives back what a burst grew.
    private func emptyOutbox() {
        if outbox.capacity > 4 * 1024 {
            outbox = ByteBuffer()
        } else {
            outbox.clear()
        }
    }

    func currentBytesInChannel() -> Int {
        (try? context?.channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
    }

    /// Asks the channel what it still holds and accounts the queue anew.
    func remeasureQueue() {
        bytesInChannel = currentBytesInChannel()
        account(queued: outbox.readableBytes + bytesInChannel)
    }

    private func account(queued: Int) {
        guard queued != accountedQueueBytes else { return }
        broker.accountQueue(from: accountedQueueBytes, to: queued)
        accountedQueueBytes = queued
    }
}
