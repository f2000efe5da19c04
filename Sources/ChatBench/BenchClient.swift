import ChatProtocol
import NIOCore
import TLSTrust

/// One benchmark client: a channel handler that logs in, sends its share, and checks what it
/// receives straight out of NIO's read buffers.
final class BenchClient: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let index: Int
    let isSlow: Bool
    let loginText: String
    /// `to1,to2,...: `, the same for every message this client sends.
    private let prefix: [UInt8]
    private let hello: [UInt8]
    /// The driver owns every client and outlives it; `unowned(unsafe)` spares the per-delivery
    /// reference-count check that plain `unowned` costs.
    private unowned(unsafe) let driver: BenchDriver
    /// The same driver for the rare events that may come after a run: a TLS connection the
    /// server closes at the end finishes closing up to seconds later, when the driver may be
    /// gone (`unowned(unsafe)` then crashed the bench).
    private weak var driverAfterTheRun: BenchDriver?
    private var context: ChannelHandlerContext?
    /// The start of a line that the last read cut in two.
    private var carry: ByteBuffer?
    private(set) var isLoggedIn = false
    private(set) var wasClosedByServer = false
    private var isClosing = false

    /// Set while the run reads at a limited rate.
    private var throttle: ReadThrottle?
    private var throttleWait: Scheduled<Void>?

    private(set) var sent = 0
    /// The messages that came due in this pacing tick.
    private(set) var pacedBatch: ByteBuffer?

    init(index: Int, login: String, isSlow: Bool, prefix: [UInt8], driver: BenchDriver) {
        self.index = index
        self.loginText = login
        self.isSlow = isSlow
        self.prefix = prefix
        self.hello = Array("from \(login): hello".utf8)
        self.driver = driver
        self.driverAfterTheRun = driver
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        var buffer = context.channel.allocator.buffer(capacity: 2 * loginText.utf8.count + 10)
        buffer.writeString("\(loginText)\n\(loginText): hello\n")
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if isSlow && isLoggedIn { return }
        if !isLoggedIn && carry == nil && TLSTrust.beginsARecord(buffer) {
            return driver.serverSpeaksTLS(self)
        }
        let time = driver.now()
        throttle?.spend(buffer.readableBytes, now: time)
        if var pending = carry, pending.readableBytes > 0 {
            carry = nil
            pending.writeBuffer(&buffer)
            consumeLines(&pending, time: time)
            keep(pending)
        } else {
            consumeLines(&buffer, time: time)
            if buffer.readableBytes > 0 { keep(buffer) }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard throttle != nil, throttleWait == nil else { return }
        let pause = throttle!.pause(now: driver.now())
        guard pause > 0 else { return context.read() }
        throttleWait = context.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(
            in: .nanoseconds(Int64(pause))
        ) {
            self.throttleWait = nil
            self.context?.read()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        throttleWait?.cancel()
        throttleWait = nil
        if !isClosing { wasClosedByServer = true }
        self.context = nil
        driverAfterTheRun?.clientClosed(self)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        driverAfterTheRun?.errorCaught(self, error)
        context.close(promise: nil)
    }

    // MARK: Receiving

    /// Handles every complete line in `buffer` in place and leaves the incomplete rest.
    private func consumeLines(_ buffer: inout ByteBuffer, time: UInt64) {
        // The protocol framer guards a server against endless lines and hands out each line as
        // a ByteBuffer slice; the bench trusts its peer's line lengths and only needs where each
        // line ends, so a memchr over the read buffer is all it does.
        let consumed = buffer.withUnsafeReadableBytes { bytes -> Int in
            var start = 0
            while let newline = Bytes.firstIndex(of: UInt8(ascii: "\n"), in: bytes, start..<bytes.count) {
                handleLine(UnsafeRawBufferPointer(rebasing: bytes[start..<newline]), time: time)
                start = newline + 1
            }
            return start
        }
        buffer.moveReaderIndex(forwardBy: consumed)
    }

    private func keep(_ rest: ByteBuffer) {
        guard rest.readableBytes > 0 else { return }
        var rest = rest
        rest.discardReadBytes()
        carry = rest
    }

    private func handleLine(_ line: UnsafeRawBufferPointer, time: UInt64) {
        if isLoggedIn {
            if isSlow { return }
            if case .delivery(let sender) = driver.checker.check(line, recipient: index, now: time) {
                driver.delivered(from: sender)
            }
        } else if line.elementsEqual(hello) {
            isLoggedIn = true
            driver.loggedIn(self)
        } else {
            driver.loginRefused(self, answer: String(decoding: line, as: UTF8.self))
        }
    }

    func stopReading() {
        try? context?.channel.syncOptions?.setOption(.autoRead, value: false)
    }

    /// From now on reads at most `bytesPerSecond`: one read at a time (a single read(2) of at
    /// most NIO's buffer size), each only once the bucket allows it.
    func throttle(to bytesPerSecond: Double) {
        guard let context else { return }
        try? context.channel.syncOptions?.setOption(.autoRead, value: false)
        try? context.channel.syncOptions?.setOption(.maxMessagesPerRead, value: 1)
        let throttle = ReadThrottle(bytesPerSecond: bytesPerSecond, now: driver.now())
        // No read larger than a burst: the adaptive allocator grows to 64 KiB, and a reader
        // allowed to take 64 KiB at once, after waiting, finishes a 400 kB run at 400 kB/s in 0.82 s.
        // (No read larger than 64 KiB either, for fast rates' large bursts.)
        let readBytes = min(Int(throttle.burstBytes), 64 * 1024)
        try? context.channel.syncOptions?.setOption(
            .recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: readBytes))
        self.throttle = throttle
        context.read()
    }

    func resumeReading() {
        try? context?.channel.syncOptions?.setOption(.autoRead, value: true)
        context?.read()
    }

    // MARK: Sending

    /// Sends as many messages as the window allows, in one flush.
    func fill() {
        guard let context, sent < driver.configuration.messages else { return }
        let recipients = Swift.max(1, driver.configuration.recipients)
        let room = (driver.windowDeliveries - driver.checker.inFlight[index]) / recipients
        var count = Swift.min(room, driver.configuration.messages - sent)
        guard count > 0 else { return }
        let time = driver.now()
        // A flood goes out in buffers of about a mebibyte; NIO queues what the kernel does not
        // take yet. A window is smaller than that and stays one write.
        let perBuffer = Swift.max(1, (1 << 20) / lineBytes)
        while count > 0 {
            let piece = Swift.min(count, perBuffer)
            var batch = context.channel.allocator.buffer(capacity: piece * lineBytes)
            append(piece, to: &batch, time: time)
            context.write(wrapOutboundOut(batch), promise: nil)
            count -= piece
        }
        context.flush()
    }

    /// Adds one message to this pacing tick's batch.
    func appendMessage(time: UInt64) {
        if pacedBatch == nil { pacedBatch = context?.channel.allocator.buffer(capacity: 4 * lineBytes) }
        guard pacedBatch != nil else { return }
        append(1, to: &pacedBatch!, time: time)
    }

    func flushPacedBatch() {
        if let batch = pacedBatch, let context { context.writeAndFlush(wrapOutboundOut(batch), promise: nil) }
        pacedBatch = nil
    }

    private var lineBytes: Int { prefix.count + driver.format.bodyBytes + 1 }

    private func append(_ count: Int, to batch: inout ByteBuffer, time: UInt64) {
        let lineBytes = self.lineBytes
        let format = driver.format
        let first = sent
        prefix.withUnsafeBytes { prefix in
            _ = batch.writeWithUnsafeMutableBytes(minimumWritableBytes: count * lineBytes) { output in
                var cursor = output.baseAddress!
                for sequence in first..<first + count {
                    cursor.copyMemory(from: prefix.baseAddress!, byteCount: prefix.count)
                    format.writeBody(sender: index, sequence: sequence, time: time, to: cursor + prefix.count)
                    cursor.storeBytes(of: UInt8(ascii: "\n"), toByteOffset: lineBytes - 1, as: UInt8.self)
                    cursor += lineBytes
                }
                return count * lineBytes
            }
        }
        sent += count
        driver.checker.inFlight[index] += count * driver.configuration.recipients
    }

    /// Closes the connection from this side; nil if it is already closed.
    func close() -> EventLoopFuture<Void>? {
        guard let context else { return nil }
        isClosing = true
        return context.close()
    }
}
