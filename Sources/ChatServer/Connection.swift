import ChatCluster
import ChatProtocol
import Logging
import NIOCore
import NIOSSL
import NIOTLS
import SystemPackage

/// One client: reads its lines and is the only writer to its socket. What happens when is decided
/// by `ConnectionLifecycle`; this class carries the decisions out on the channel
/// (`Connection+Lifecycle.swift`). This file holds its input: framing, the login, messages.
///
/// Input is framed right here, in the buffer NIO read into: the connection drives `LineFramer`
/// itself instead of putting a `ByteToMessageHandler` in front of it, which saves a generic
/// decode loop and a boxed message per line (about a tenth of the server's time, measured with
/// chat-bench). Output goes through the outbox (`Connection+Output.swift`), a buffer that
/// collects everything addressed to this client during one loop iteration; the broker writes it
/// out once at the end. The outbox plus what the channel has not yet handed to the kernel is
/// the client's queue. Flow control (in `Connection+FlowControl.swift`) keeps it near
/// `softQueueBytes`; `maximumQueueBytes` is its absolute bound.
final class Connection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let broker: Broker
    let admission: Admission
    /// The peer's IP address, for the per-address cap and the logs.
    var peerAddress: String?
    /// Active: counted by `admission` against the connection cap, in the statistics and logged
    /// as connected, so to be counted out and logged as disconnected when the channel closes.
    var isAdmitted = false
    /// Counted by `admission` against the address's cap, until the channel closes or the
    /// connection is turned away.
    var countsAgainstAddressCap = false
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
    /// Its place in the listener's accept queue, with several loops (`ArrivalOrder`).
    let arrivalTicket: UInt64?
    /// Counts its waits for earlier arrivals, so that only the latest wait's wake-up goes on.
    var arrivalWaits = 0
    /// Where the broker keeps this connection while it is logged in.
    var slot: Int?
    /// The recipient list this client used last, already looked up: clients tend to write to
    /// the same people again and again.
    var lastRecipients: ResolvedRecipients?

    // Output.
    var outbox: ByteBuffer
    var isOutboxScheduled = false
    /// An upper bound on the bytes the channel still holds: exact after each flush, and the
    /// channel only ever shrinks it in between.
    var bytesInChannel = 0
    /// Every byte ever written out, to the socket or to the channel: with what the channel still
    /// holds, how much the kernel took.
    var bytesFlushed = 0
    /// The socket: asked what the client has acknowledged (`bytesTaken`), and written to
    /// directly while the channel holds nothing, but never with TLS, whose bytes must go through
    /// the channel's handlers (as they would through any handler put in front of the connection).
    var socket: SystemPackage.FileDescriptor?
    /// With TLS, until the handshake completes: nothing can be said to the client meanwhile.
    var awaitsTLSHandshake = false
    /// The client's TLS stream ended with a bare FIN, not close_notify: its input is over, but an
    /// unfinished last line may have been cut short on the way, so it is not taken as a line.
    var endedWithoutCloseNotify = false
    /// Counted in `chat_cut_offs_total` already, under the first reason (`countCutOff`).
    var isCountedAsCutOff = false
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

    lazy var drainTimeout = broker.configuration.drainTimeout
    var loginTimer: Scheduled<Void>?
    var drainTimer: Scheduled<Void>?
    let closePromise: EventLoopPromise<Void>

    var closeFuture: EventLoopFuture<Void> { closePromise.futureResult }

    init(broker: Broker, admission: Admission, logger: Logger, arrivalTicket: UInt64? = nil) {
        self.broker = broker
        self.arrivalTicket = arrivalTicket
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

    /// A channel accepted just as the listener closed is closed by NIO before it is ever active,
    /// so `channelInactive`, where a connection lets go of everything, never comes. Holding its
    /// context then kept the connection, its pipeline and everything the connection reaches (its
    /// broker among them) alive in a cycle: the leak LeakSanitizer reported at a server's exit
    /// when it stopped while connections poured in.
    func handlerRemoved(context: ChannelHandlerContext) {
        // Nothing, if the channel was active: `channelInactive` comes first and has let go.
        perform(lifecycle.channelClosed())
    }

    func channelActive(context: ChannelHandlerContext) {
        peerAddress = context.remoteAddress?.ipAddress
        logger[metadataKey: "peer"] =
            "\(context.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "?")"
        socket = SocketDescriptor.of(context.channel).map(SystemPackage.FileDescriptor.init(rawValue:))
        awaitsTLSHandshake = broker.configuration.tls != nil
        broker.register(self)
        if let arrivalTicket { broker.arrivals?.attach(arrivalTicket, connection: ObjectIdentifier(self)) }
        broker.statistics.connectionOpened()
        logger.info("connected")
        var refusal: (Notice, reason: String)?
        isAdmitted = true
        countsAgainstAddressCap = true
        if case .refused(let notice, let reason) = admission.admit(from: peerAddress) {
            logger.notice("refused", metadata: ["reason": "\(reason)"])
            broker.statistics.connectionRefused(
                notice == .serverFull ? .maximumConnections : .maximumConnectionsPerAddress)
            refusal = (notice, reason)
        }
        perform(lifecycle.activated(serverIsShuttingDown: broker.isShuttingDown, refusal: refusal))
        context.fireChannelActive()
    }

    /// How long a connection turned away before its login has to take its notice and close.
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
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event { awaitsTLSHandshake = false }
        if let event = event as? ChannelEvent, event == .inputClosed { takeEndOfInput() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        updateCongestion()
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A client that ends its TLS stream with a bare FIN, as many do, has ended its input: the
        // end-of-input event follows, and what is queued for it still goes out, as without TLS.
        if case NIOSSLError.uncleanShutdown = error {
            endedWithoutCloseNotify = true
            return
        }
        perform(lifecycle.failed(reason: ServerTLS.reason(error)))
    }

    func channelInactive(context: ChannelHandlerContext) {
        perform(lifecycle.channelClosed())
        context.fireChannelInactive()
    }

    // MARK: Input

    func takeEndOfInput() {
        lifecycle.inputEnded()
        takePendingInput()
        perform(lifecycle.inputProcessed())
    }

    /// Takes the held line, if any, then every whole line of `pendingInput`, until flow control
    /// pauses the input or the connection stops taking it.
    func takePendingInput() {
        dropEveryoneIfTheLeaseIsGone()
        if let line = heldLine, lifecycle.takesInput, !lifecycle.isInputPaused {
            if isCongested { return wait(on: gate) }
            heldLine = nil
            handleLine(line)
        }
        guard heldLine == nil else { return }
        // Taken out while its lines are handled: a line can end the connection (a refused
        // login), and the drain that follows drops the pending input, which must not be the
        // buffer being read (an exclusivity violation: the debug build aborted on a refused
        // login that ended the input).
        var input = pendingInput
        pendingInput = ByteBuffer()
        takeLines(from: &input)
        guard input.readableBytes > 0 else { return }
        if !lifecycle.isInputPaused { input.discardReadBytes() }
        pendingInput = input
    }

    private func takeLines(from buffer: inout ByteBuffer) {
        dropEveryoneIfTheLeaseIsGone()
        while lifecycle.takesInput && !lifecycle.isInputPaused {
            // Every line may earn this client a notice, so a client that does not read what it
            // is sent is not read from either.
            if isCongested { return wait(on: gate) }
            // Whole lines only after a bare FIN over TLS: anyone on the path can forge one.
            let isEndOfLastLine = lifecycle.hasInputEnded && !endedWithoutCloseNotify
            guard let event = framer.nextEvent(&buffer, atEndOfInput: isEndOfLastLine) else { return }
            switch event {
            case .overlong
            where lifecycle.state == .awaitingLogin && framer.maximumLineBytes == Login.maximumLineBytes:
                // Longer than any login can be; the server's own line limit is not reached.
                refuseLogin(.loginRefused(.firstLineTooLong), because: "\(Login.Refusal.firstLineTooLong)")
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

    /// Cluster mode: a node frozen past its lease's deadline wakes with lines to take and its
    /// watchdog's tick due at once; no line may be served first (`ClusterNode.holdsLease`).
    private func dropEveryoneIfTheLeaseIsGone() {
        if lifecycle.state == .online, let cluster = broker.cluster, !cluster.node.holdsLease {
            broker.dropEveryoneForLostLease()
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
        // Flow control learns of a full queue when its outbox is written, so the outboxes go out
        // once enough waits, line by line: checked only after each read, a held-back sender's
        // pending lines, taken in one go when it resumed, all went into the outbox unwritten and
        // cut a reading recipient off at the hard limit.
        broker.flushIfOutboxesAreFull()
    }

    private func logIn(_ line: String) {
        switch Login.validate(line) {
        case .failure(let refusal):
            refuseLogin(.loginRefused(refusal), because: "\(refusal)")
        case .success(let name):
            claimInArrivalOrder(ByteBuffer(string: name), name: name)
        }
    }

    /// `looksTaken`: how often the name was found held here and its holder looked at
    /// (`Connection+TakenLogin.swift`).
    func claim(_ key: ByteBuffer, name: String, looksTaken: Int = 0) {
        if let cluster = broker.cluster {
            return claimInCluster(
                key, name: name, cluster: cluster, looksTaken: looksTaken, waitingUntil: nil)
        }
        guard broker.claim(key, for: self) else { return nameIsHeld(key, name: name, looksTaken: looksTaken) }
        grantLogin(key, name: name)
    }

    /// The name is this connection's, here (and in the cluster's registry, in cluster mode).
    private func grantLogin(_ key: ByteBuffer, name: String) {
        completeLogin(key, name: name)
        guard broker.inbox.hasMail else {
            perform(lifecycle.loggedIn())
            return settleArrivalOnceReadIsTaken()
        }
        // The name's last connection, on another loop, may have sent lines this loop has not
        // taken yet (see `Broker.releaseLogin`): this one's lines wait until the mail handed over
        // before now has been taken, which is queued ahead of this.
        perform(lifecycle.claimStarted())
        let connection = NIOLoopBound(self, eventLoop: broker.eventLoop)
        broker.eventLoop.execute {
            guard connection.value.lifecycle.state == .claiming else { return }
            connection.value.perform(connection.value.lifecycle.loggedIn())
            connection.value.settleArrivalOnceReadIsTaken()
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
    /// `deadline`: set once the registry has found the name held on another server.
    func claimInCluster(
        _ key: ByteBuffer, name: String, cluster: ClusterBridge, looksTaken: Int,
        waitingUntil deadline: NIODeadline?
    ) {
        guard !broker.isOnlineHere(key) else { return nameIsHeld(key, name: name, looksTaken: looksTaken) }
        perform(lifecycle.claimStarted())
        let claimed = ClaimInCluster(
            key: key, name: name, looksTaken: looksTaken, askedAt: cluster.node.membershipVersion,
            deadline: deadline)
        let connection = NIOLoopBound(self, eventLoop: broker.eventLoop)
        Task {
            let answer = await cluster.node.claim(key)
            connection.eventLoop.execute { connection.value.claimAnswered(answer, claimed, cluster: cluster) }
        }
    }

    private func claimAnswered(_ answer: ClaimResult, _ claimed: ClaimInCluster, cluster: ClusterBridge) {
        let (key, name) = (claimed.key, claimed.name)
        guard lifecycle.state == .claiming else {
            // Gone (or timed out) while the registry answered: give the name back.
            if answer == .claimed { cluster.node.release(key) }
            return
        }
        switch answer {
        case .claimed:
            guard broker.claim(key, for: self) else {
                cluster.node.release(key)
                return refuseAsOnline(name)
            }
            grantLogin(key, name: name)
        case .taken:
            nameIsHeldElsewhere(claimed, cluster: cluster)
        case .unavailable:
            refuseLogin(
                .loginUnavailable, because: "the cluster's login registry cannot be reached", login: name)
        }
    }

    func refuseLogin(_ notice: Notice, because reason: String, login: String? = nil) {
        var metadata: Logger.Metadata = ["reason": "\(reason)"]
        if let login { metadata["login"] = "\(login)" }
        logger.notice("login refused", metadata: metadata)
        // Settled by the drain this starts (`Connection+Lifecycle.swift`).
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
}
