import ChatCluster
import ChatProtocol
import Logging
import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One client: reads its lines and is the only writer to its socket. What happens when is decided
/// by `ConnectionLifecycle`; this class carries the decisions out on the channel.
///
/// Input is framed right here, in the buffer NIO read into: the connection drives `LineFramer`
/// itself instead of putting a `ByteToMessageHandler` in front of it, which saves a generic
/// decode loop and a boxed message per line (about a tenth of the server's time, measured with
/// chat-bench). Output goes through the outbox, a buffer that collects everything addressed to
/// this client during one loop iteration; the broker writes it out once at the end. The outbox
/// plus what the channel has not yet handed to the kernel is the client's queue. Flow control
/// (in `Connection+FlowControl.swift`) keeps it near `softQueueBytes`; `maximumQueueBytes` is
/// its absolute bound.
final class Connection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let broker: Broker
    private let admission: Admission
    /// The peer's IP address, for the per-address cap and the logs.
    private var peerAddress: String?
    /// Counted by `admission`, so to be counted out when the channel closes.
    private var isAdmitted = false
    var logger: Logger
    /// Cleared when the channel closes, so nothing the connection left behind (a stale waiter
    /// entry, a late callback) keeps the pipeline alive.
    var context: ChannelHandlerContext?
    var lifecycle = ConnectionLifecycle()
    private var framer: LineFramer
    /// Bytes read and not yet taken: the start of an unfinished line, and, while flow control
    /// holds the input back, the lines behind `heldLine`.
    var pendingInput = ByteBuffer()
    /// A message that could not be delivered yet because a queue it feeds is congested.
    var heldLine: ByteBuffer?
    private(set) var login: ByteBuffer?
    /// Where the broker keeps this connection while it is logged in.
    var slot: Int?
    /// The recipient list this client used last, already looked up: clients tend to write to
    /// the same people again and again.
    var lastRecipients: ResolvedRecipients?

    // Output.
    var outbox: ByteBuffer
    private var isOutboxScheduled = false
    /// An upper bound on the bytes the channel still holds: exact after each flush, and the
    /// channel only ever shrinks it in between.
    var bytesInChannel = 0
    /// Every byte ever handed to the channel: with what it still holds, how much the kernel took.
    var bytesFlushed = 0
    /// What this connection's queue counts for in the broker's queue budget.
    var accountedQueueBytes = 0

    // Flow control (see Connection+FlowControl.swift).
    /// The queue is over the soft limit: senders that would feed it wait. Mirrored in `gate`
    /// for senders on other loops, and where they all wait.
    var isCongested = false
    let gate: CongestionGate
    /// The gate of the queue this connection waits on, while its input is paused.
    var awaitedGate: CongestionGate?
    var stallMonitor: StallMonitor?
    var stallCheck: Scheduled<Void>?
    /// Watches the queue for progress while the queue budget is exceeded.
    var budgetStallMonitor: StallMonitor?
    /// Listed in the budget's recipients that hold senders back.
    var isHoldingBackForBudget = false

    private lazy var drainTimeout = broker.configuration.drainTimeout
    private var loginTimer: Scheduled<Void>?
    private var drainTimer: Scheduled<Void>?
    private let closePromise: EventLoopPromise<Void>

    var closeFuture: EventLoopFuture<Void> { closePromise.futureResult }

    init(broker: Broker, admission: Admission, logger: Logger) {
        self.broker = broker
        self.admission = admission
        self.logger = logger
        // Until it has logged in, a client gets no more room than a login needs.
        self.framer = LineFramer(
            maximumLineBytes: min(broker.configuration.maximumLineBytes, Login.maximumLineBytes))
        self.outbox = ByteBuffer()
        self.closePromise = broker.eventLoop.makePromise()
        self.gate = CongestionGate(census: broker.directory)
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelActive(context: ChannelHandlerContext) {
        peerAddress = context.remoteAddress?.ipAddress
        logger[metadataKey: "peer"] =
            "\(context.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "?")"
        broker.register(self)
        broker.statistics.connectionOpened()
        logger.info("connected")
        var refusal: (Notice, reason: String)?
        isAdmitted = true
        if case .refused(let notice, let reason) = admission.admit(from: peerAddress) {
            logger.notice("refused", metadata: ["reason": "\(reason)"])
            broker.statistics.connectionRefused(
                notice == .serverFull ? .maximumConnections : .maximumConnectionsPerAddress)
            refusal = (notice, reason)
            // It gets its notice, and little time to take it: others are waiting for the room.
            drainTimeout = min(drainTimeout, Self.refusalDrainTimeout)
        }
        perform(lifecycle.activated(serverIsShuttingDown: broker.isShuttingDown, refusal: refusal))
        context.fireChannelActive()
    }

    static let refusalDrainTimeout = TimeAmount.seconds(1)

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var input = unwrapInboundIn(data)
        broker.statistics.received(bytes: input.readableBytes)
        if pendingInput.readableBytes == 0 && heldLine == nil && !lifecycle.isInputPaused {
            takeLines(from: &input)
            // Keep only what is left, not the whole read buffer it sits in.
            if input.readableBytes > 0 {
                pendingInput = context.channel.allocator.buffer(capacity: input.readableBytes)
                pendingInput.writeBuffer(&input)
            }
        } else {
            pendingInput.writeBuffer(&input)
            takePendingInput()
        }
        broker.flushIfOutboxesAreFull()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            lifecycle.inputEnded()
            takePendingInput()
            perform(lifecycle.inputProcessed())
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        updateCongestion()
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        perform(lifecycle.failed(reason: Wording.reason(error)))
    }

    func channelInactive(context: ChannelHandlerContext) {
        perform(lifecycle.channelClosed())
        context.fireChannelInactive()
    }

    // MARK: Input

    /// Takes the held line, if any, then every whole line of `pendingInput`, until flow control
    /// pauses the input or the connection stops taking it.
    func takePendingInput() {
        if let line = heldLine, lifecycle.takesInput, !lifecycle.isInputPaused {
            if isCongested { return wait(on: gate) }
            heldLine = nil
            handleLine(line)
        }
        guard heldLine == nil else { return }
        takeLines(from: &pendingInput)
        if pendingInput.readableBytes == 0 {
            pendingInput = ByteBuffer()
        } else if !lifecycle.isInputPaused {
            pendingInput.discardReadBytes()
        }
    }

    private func takeLines(from buffer: inout ByteBuffer) {
        while lifecycle.takesInput && !lifecycle.isInputPaused {
            // Every line may earn this client a notice, so a client that does not read what it
            // is sent is not read from either.
            if isCongested { return wait(on: gate) }
            guard let event = framer.nextEvent(&buffer, atEndOfInput: lifecycle.hasInputEnded) else { return }
            switch event {
            case .overlong
            where lifecycle.state == .awaitingLogin && framer.maximumLineBytes == Login.maximumLineBytes:
                // Longer than any login can be; the server's own line limit is not reached.
                refuseLogin(.loginRefused(.tooLong), because: "\(Login.Refusal.tooLong)")
            case .overlong:
                send(.lineTooLong(limit: framer.maximumLineBytes))
            case .line(let line):
                handleLine(line)
            }
        }
        if !lifecycle.takesInput {
            // Closing: whatever else the client sends is read only to be dropped.
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
        }
    }

    private func handleLine(_ line: ByteBuffer) {
        line.withUnsafeReadableBytes { bytes in
            guard Bytes.isValidUTF8(bytes) else { return send(.invalidUTF8) }
            if lifecycle.state == .online {
                handleMessage(line, bytes)
            } else {
                logIn(String(decoding: bytes, as: UTF8.self))
            }
        }
    }

    private func logIn(_ line: String) {
        switch Login.validate(line) {
        case .failure(let refusal):
            refuseLogin(.loginRefused(refusal), because: "\(refusal)")
        case .success(let name):
            let key = ByteBuffer(string: name)
            if let cluster = broker.cluster { return claimInCluster(key, name: name, cluster: cluster) }
            guard broker.claim(key, for: self) else {
                return refuseLogin(.loginTaken(name), because: "already online", login: name)
            }
            completeLogin(key, name: name)
            perform(lifecycle.loggedIn())
        }
    }

    private func completeLogin(_ key: ByteBuffer, name: String) {
        login = key
        framer.maximumLineBytes = broker.configuration.maximumLineBytes
        // From here on every line about this connection says whose it is.
        logger[metadataKey: "login"] = "\(name)"
        logger.info("logged in")
    }

    /// Cluster mode: only the cluster's registry can grant a name (it may be online on another
    /// server). Input waits meanwhile; the answer comes back on this connection's loop.
    private func claimInCluster(_ key: ByteBuffer, name: String, cluster: ClusterBridge) {
        guard !broker.isOnlineHere(key) else {
            return refuseLogin(.loginTaken(name), because: "already online", login: name)
        }
        perform(lifecycle.claimStarted())
        let connection = NIOLoopBound(self, eventLoop: broker.eventLoop)
        Task {
            let answer = await cluster.node.claim(key)
            connection.eventLoop.execute { connection.value.claimAnswered(answer, key: key, name: name) }
        }
    }

    private func claimAnswered(_ answer: ClaimResult, key: ByteBuffer, name: String) {
        guard lifecycle.state == .claiming else {
            // Gone (or timed out) while the registry answered: give the name back.
            if answer == .claimed { broker.cluster?.node.release(key) }
            return
        }
        switch answer {
        case .claimed:
            guard broker.claim(key, for: self) else {
                broker.cluster?.node.release(key)
                return refuseLogin(.loginTaken(name), because: "already online", login: name)
            }
            completeLogin(key, name: name)
            perform(lifecycle.claimed())
        case .taken:
            refuseLogin(.loginTaken(name), because: "already online", login: name)
        case .unavailable:
            refuseLogin(
                .loginUnavailable, because: "the cluster's login registry cannot be reached", login: name)
        }
    }

    private func refuseLogin(_ notice: Notice, because reason: String, login: String? = nil) {
        var metadata: Logger.Metadata = ["reason": "\(reason)"]
        if let login { metadata["login"] = "\(login)" }
        logger.notice("login refused", metadata: metadata)
        perform(lifecycle.loginRefused(notice, reason: reason))
    }

    private func handleMessage(_ line: ByteBuffer, _ bytes: UnsafeRawBufferPointer) {
        switch MessageLine.parse(bytes) {
        case .blank:
            return
        case .missingColon:
            send(.missingColon)
        case .noRecipients:
            send(.noRecipients)
        case .message(let recipients, let text):
            switch broker.deliver(
                from: self, login: login!, line: line, bytes: bytes, recipients: recipients, text: text)
            {
            case .delivered:
                break
            case .heldBack(let congested):
                heldLine = line
                wait(on: congested)
            case .deliveredThenWait(let congested):
                wait(on: congested)
            }
        }
    }

    // MARK: Output

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
        broker.statistics.cutOff(.tooSlow)
        logger.notice(
            "cut off",
            metadata: [
                "reason": "outgoing queue over \(limit) bytes",
                "queued": "outbox \(outbox.readableBytes), channel \(bytesInChannel)",
            ])
        perform(lifecycle.cutOff(.tooSlow, reason: "too slow: outgoing queue full"))
    }

    func send(_ notice: Notice) {
        broker.statistics.noticeSent(notice)
        var line = notice.line
        line.withUTF8 { enqueue(UnsafeRawBufferPointer($0)) }
    }

    func flushOutbox() {
        isOutboxScheduled = false
        guard lifecycle.takesInput, let context, outbox.readableBytes > 0 else { return }
        bytesFlushed &+= outbox.readableBytes
        broker.statistics.sent(bytes: outbox.readableBytes)
        context.writeAndFlush(wrapOutboundOut(outbox), promise: nil)
        // Keep a small outbox's memory for the next round; give back what a burst grew.
        if outbox.capacity > 4 * 1024 {
            outbox = ByteBuffer()
        } else {
            outbox.clear()
        }
        remeasureQueue()
    }

    func currentBytesInChannel() -> Int {
        (try? context?.channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
    }

    /// Asks the channel what it still holds and accounts the queue anew.
    func remeasureQueue() {
        bytesInChannel = currentBytesInChannel()
        let queued = outbox.readableBytes + bytesInChannel
        guard queued != accountedQueueBytes else { return }
        broker.accountQueue(from: accountedQueueBytes, to: queued)
        accountedQueueBytes = queued
    }

    // MARK: Lifecycle

    func shutDown() {
        perform(lifecycle.shutdown())
    }

    func closeNow(reason: String) {
        perform(lifecycle.failed(reason: reason))
    }

    func perform(_ action: ConnectionLifecycle.Action) {
        switch action {
        case .none:
            return
        case .armLoginTimer:
            let timeout = broker.configuration.loginTimeout
            loginTimer = broker.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: timeout) {
                let action = self.lifecycle.loginTimerFired(after: Wording.duration(timeout))
                if action != .none { self.broker.statistics.loginTimedOut() }
                self.perform(action)
            }
        case .disarmLoginTimer:
            loginTimer?.cancel()
            loginTimer = nil
        case .finishLogin:
            perform(.disarmLoginTimer)
            perform(.resumeInput)
        case .pauseInput:
            setReading(false)
        case .resumeInput:
            takePendingInput()
            if lifecycle.takesInput && !lifecycle.isInputPaused { setReading(true) }
            perform(lifecycle.inputProcessed())
        case .drain(let notice):
            drain(notice: notice)
        case .endOutput:
            context?.close(mode: .output, promise: nil)
        case .close:
            context?.close(promise: nil)
        case .abandon:
            // On the loop, so the option is set before the close.
            _ = (context?.channel as? any SocketOptionProvider)?.setSoLinger(linger(l_onoff: 1, l_linger: 0))
            context?.close(promise: nil)
        case .release:
            release()
        }
    }

    /// Frees the login and stops taking input at once, delivers what is already queued (and
    /// `notice`, if any), then ends the output. Input is still read, and thrown away, until the
    /// client closes its side too: closing a socket that has unread input sends a reset, and a
    /// reset can destroy the lines just delivered before the client reads them.
    private func drain(notice: Notice?) {
        logger.debug("draining", metadata: ["reason": "\(lifecycle.closeReason)"])
        perform(.disarmLoginTimer)
        stopStallMonitor()
        broker.releaseLogin(of: self)
        leaveFlowControl()
        heldLine = nil
        pendingInput = ByteBuffer()
        guard let context else { return }
        // Read again, to drop what arrives: see above.
        setReading(true)
        // Past the queue limit if need be: a last notice is small, and it says why.
        if let notice {
            broker.statistics.noticeSent(notice)
            outbox.writeString(notice.line)
        }
        // Armed before the write, whose completion may close the channel at once.
        let timeout = drainTimeout
        drainTimer = context.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: timeout) {
            let action = self.lifecycle.drainTimerFired(after: Wording.duration(timeout))
            if action != .none { self.broker.statistics.cutOff(.drainTimeout) }
            self.perform(action)
        }
        let written = context.eventLoop.makePromise(of: Void.self)
        broker.statistics.sent(bytes: outbox.readableBytes)
        context.writeAndFlush(wrapOutboundOut(outbox), promise: written)
        outbox = ByteBuffer()
        remeasureQueue()
        written.futureResult.assumeIsolatedUnsafeUnchecked().whenComplete { _ in
            // NIO makes this a full close as soon as the input has ended as well.
            self.perform(self.lifecycle.outputWritten())
        }
    }

    /// The channel is gone: let go of everything, so a closed connection costs nothing.
    private func release() {
        loginTimer?.cancel()
        loginTimer = nil
        drainTimer?.cancel()
        drainTimer = nil
        stopStallMonitor()
        broker.unregister(self)
        if isAdmitted {
            admission.leave(from: peerAddress)
            broker.statistics.connectionClosed()
        }
        isAdmitted = false
        leaveFlowControl()
        heldLine = nil
        pendingInput = ByteBuffer()
        outbox = ByteBuffer()
        broker.accountQueue(from: accountedQueueBytes, to: 0)
        accountedQueueBytes = 0
        bytesInChannel = 0
        budgetStallMonitor = nil
        lastRecipients = nil
        logger.info("disconnected", metadata: ["reason": "\(lifecycle.closeReason)"])
        context = nil
        closePromise.succeed(())
    }

    private func setReading(_ reading: Bool) {
        _ = try? context?.channel.syncOptions?.setOption(.autoRead, value: reading)
    }
}
