import ChatProtocol
import Logging
import NIOCore

/// One client: reads its lines and is the only writer to its socket.
///
/// Input is framed right here, in the buffer NIO read into: the connection drives `LineFramer`
/// itself instead of putting a `ByteToMessageHandler` in front of it, which saves a generic
/// decode loop and a boxed message per line (about a tenth of the server's time, measured with
/// chat-bench). Output goes through `outbox`, a buffer that collects everything addressed to
/// this client during one loop iteration; the broker writes it out once at the end. The outbox
/// plus what the channel has not yet handed to the kernel is the client's queue, and it is
/// bounded.
final class Connection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        case awaitingLogin
        case online
        /// No more input is taken; output drains, then the socket closes.
        case closing
        case closed
    }

    private let broker: Broker
    private var logger: Logger
    private var context: ChannelHandlerContext!
    private var state = State.awaitingLogin
    private var framer: LineFramer
    /// The start of a line that the last read did not finish; empty between lines.
    private var partialLine = ByteBuffer()
    private(set) var login: ByteBuffer?
    /// Where the broker keeps this connection while it is logged in.
    var slot: Int?
    /// The recipient list this client used last, already looked up: clients tend to write to
    /// the same people again and again.
    var lastRecipients: ResolvedRecipients?
    private var outbox: ByteBuffer
    private var isOutboxScheduled = false
    /// An upper bound on the bytes the channel still holds: exact after each flush, and the
    /// channel only ever shrinks it in between.
    private var bytesInChannel = 0
    private var closeReason = "connection closed by peer"
    private var drainDeadline: Scheduled<Void>?
    private let closePromise: EventLoopPromise<Void>

    var closeFuture: EventLoopFuture<Void> { closePromise.futureResult }

    init(broker: Broker, logger: Logger) {
        self.broker = broker
        self.logger = logger
        // Until it has logged in, a client gets no more room than a login needs.
        self.framer = LineFramer(
            maximumLineBytes: min(broker.configuration.maximumLineBytes, Login.maximumLineBytes))
        self.outbox = ByteBuffer()
        self.closePromise = broker.eventLoop.makePromise()
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelActive(context: ChannelHandlerContext) {
        logger[metadataKey: "peer"] =
            "\(context.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "?")"
        broker.register(self)
        logger.info("connected")
        // Accepted just as the listener closed: it gets the same goodbye as everyone else.
        if broker.isShuttingDown { drainAndClose(notice: .shuttingDown, reason: "server shutdown") }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var input = unwrapInboundIn(data)
        if partialLine.readableBytes == 0 {
            frameLines(in: &input, atEndOfInput: false)
            // Keep only the unfinished line, not the whole read buffer it sits in.
            if input.readableBytes > 0 {
                partialLine = context.channel.allocator.buffer(capacity: input.readableBytes)
                partialLine.writeBuffer(&input)
            }
        } else {
            partialLine.writeBuffer(&input)
            frameLines(in: &partialLine, atEndOfInput: false)
            if partialLine.readableBytes == 0 {
                partialLine = ByteBuffer()
            } else {
                partialLine.discardReadBytes()
            }
        }
        broker.flushIfOutboxesAreFull()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            frameLines(in: &partialLine, atEndOfInput: true)
            partialLine = ByteBuffer()
            drainAndClose(notice: nil, reason: "end of input")
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func frameLines(in buffer: inout ByteBuffer, atEndOfInput: Bool) {
        while state == .awaitingLogin || state == .online {
            guard let event = framer.nextEvent(&buffer, atEndOfInput: atEndOfInput) else { return }
            switch event {
            case .overlong where state == .awaitingLogin && framer.maximumLineBytes == Login.maximumLineBytes:
                // Longer than any login can be; the server's own line limit is not reached.
                refuseLogin(.loginRefused(.tooLong), because: "\(Login.Refusal.tooLong)")
            case .overlong:
                send(.lineTooLong(limit: framer.maximumLineBytes))
            case .line(let line):
                handleLine(line)
            }
        }
        // Closing: whatever else the client sends is read only to be dropped.
        buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
    }

    private func handleLine(_ line: ByteBuffer) {
        line.withUnsafeReadableBytes { bytes in
            guard Bytes.isValidUTF8(bytes) else { return send(.invalidUTF8) }
            if state == .online {
                handleMessage(line, bytes)
            } else {
                logIn(String(decoding: bytes, as: UTF8.self))
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        closeNow(reason: Wording.reason(error))
    }

    func channelInactive(context: ChannelHandlerContext) {
        state = .closed
        drainDeadline?.cancel()
        broker.unregister(self)
        outbox = ByteBuffer()
        logger.info("disconnected", metadata: ["reason": "\(closeReason)"])
        closePromise.succeed(())
        context.fireChannelInactive()
    }

    // MARK: Input

    private func logIn(_ line: String) {
        switch Login.validate(line) {
        case .failure(let refusal):
            refuseLogin(.loginRefused(refusal), because: "\(refusal)")
        case .success(let name):
            let key = ByteBuffer(string: name)
            guard broker.claim(key, for: self) else {
                return refuseLogin(.loginTaken(name), because: "already online", login: name)
            }
            login = key
            state = .online
            framer.maximumLineBytes = broker.configuration.maximumLineBytes
            // From here on every line about this connection says whose it is.
            logger[metadataKey: "login"] = "\(name)"
            logger.info("logged in")
        }
    }

    private func refuseLogin(_ notice: Notice, because reason: String, login: String? = nil) {
        var metadata: Logger.Metadata = ["reason": "\(reason)"]
        if let login { metadata["login"] = "\(login)" }
        logger.notice("login refused", metadata: metadata)
        drainAndClose(notice: notice, reason: "login refused: \(reason)")
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
            broker.deliver(
                from: self, login: login!, line: line, bytes: bytes, recipients: recipients, text: text)
        }
    }

    // MARK: Output

    /// Queues `bytes` for this client, or cuts the client off if its queue would pass the limit.
    func enqueue(_ bytes: UnsafeRawBufferPointer) {
        guard state == .online || state == .awaitingLogin else { return }
        let limit = broker.configuration.maximumQueueBytes
        if outbox.readableBytes + bytesInChannel + bytes.count > limit {
            bytesInChannel = currentBytesInChannel()
            if outbox.readableBytes + bytesInChannel + bytes.count > limit {
                return cutOff()
            }
        }
        outbox.writeBytes(bytes)
        if !isOutboxScheduled {
            isOutboxScheduled = true
            broker.scheduleFlush(of: self)
        }
    }

    func send(_ notice: Notice) {
        var line = notice.line
        line.withUTF8 { enqueue(UnsafeRawBufferPointer($0)) }
    }

    func flushOutbox() {
        isOutboxScheduled = false
        guard state != .closed, outbox.readableBytes > 0 else { return }
        context.writeAndFlush(wrapOutboundOut(outbox), promise: nil)
        bytesInChannel = currentBytesInChannel()
        // Keep a small outbox's memory for the next round; give back what a burst grew.
        if outbox.capacity > 4 * 1024 {
            outbox = ByteBuffer()
        } else {
            outbox.clear()
        }
    }

    private func currentBytesInChannel() -> Int {
        (try? context.channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
    }

    /// The client lets its queue fill. It is logged out at once and takes no more deliveries,
    /// but what was queued for it before still goes out, then the notice, then the end of the
    /// stream: a client that catches up sees whole lines and learns why it was dropped, where
    /// closing at once would end its stream in the middle of a line. One that never reads is
    /// closed after the drain timeout, and its queue stays within the limit meanwhile.
    private func cutOff() {
        logger.notice(
            "cut off",
            metadata: ["reason": "outgoing queue over \(broker.configuration.maximumQueueBytes) bytes"])
        drainAndClose(notice: .tooSlow, reason: "too slow: outgoing queue full")
    }

    /// Frees the login and stops taking input at once, delivers what is already queued (and
    /// `notice`, if any), then ends the output. Input is still read, and thrown away, until the
    /// client closes its side too: closing a socket that has unread input sends a reset, and a
    /// reset can destroy the lines just delivered before the client reads them.
    func drainAndClose(notice: Notice?, reason: String) {
        guard state == .awaitingLogin || state == .online else { return }
        // Past the queue limit if need be: a last notice is small, and it says why.
        if let notice { outbox.writeString(notice.line) }
        closeReason = reason
        broker.releaseLogin(of: self)
        state = .closing
        let context = self.context!
        let drained = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(outbox), promise: drained)
        outbox = ByteBuffer()
        drained.futureResult.assumeIsolatedUnsafeUnchecked().whenComplete { _ in
            // NIO makes this a full close as soon as the input has ended as well.
            context.close(mode: .output, promise: nil)
        }
        // A client that never reads, or never closes, would otherwise hold its slot forever.
        let timeout = broker.configuration.drainTimeout
        drainDeadline = context.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: timeout) {
            self.closeReason = "\(reason), then did not finish within \(timeout)"
            context.close(promise: nil)
        }
    }

    func closeNow(reason: String) {
        guard state != .closed else { return }
        if state != .closing { closeReason = reason }
        state = .closing
        broker.releaseLogin(of: self)
        context.close(promise: nil)
    }
}
