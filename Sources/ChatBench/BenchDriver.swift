import ChatProtocol
import NIOCore
import NIOPosix
import SystemSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Nanoseconds on the monotonic clock, the one both ends of a delivery share on one machine.
func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
}

/// Runs every client of one benchmark on one event loop.
///
/// All clients share the loop on purpose: the checker, the flow-control counters and the
/// histogram are then plain memory touched by one thread, so a delivery costs no lock, atomic or
/// task hop, and the bench stays cheaper than the server it loads. One thread is also all the
/// bench may take on a two-core machine without taking the server's core.
final class BenchDriver {
    let loop: any EventLoop
    let configuration: BenchConfiguration
    let checker: DeliveryChecker
    let format: MessageFormat
    /// The ring's clients first, then the slow readers.
    private(set) var clients: [BenchClient] = []
    private let bootstrap: ClientBootstrap
    private let address: SocketAddress
    private let probe: ProcessProbe?
    /// Times in message bodies count from here, so they fit the body's 12 hex digits.
    let epoch = monotonicNanoseconds()

    /// In deliveries (messages times recipients), the flow-control window of one sender and the
    /// level it must drain to before it sends again; refilling at half keeps writes batched.
    let windowDeliveries: Int
    let refillLevel: Int

    private var nextToConnect = 0
    private var loggedInCount = 0
    private var loginPromise: EventLoopPromise<Void>?
    private var runPromise: EventLoopPromise<Void>?
    private var isRunning = false
    private var isClosed = false
    private(set) var stalled = false
    /// Why the run ended before everything arrived, if not a stall.
    private(set) var endReason: String?
    /// Ring clients whose connection the server closed.
    private var closedByServer = 0
    private(set) var startTime: UInt64 = 0
    var lastDeliveryTime: UInt64 { Swift.max(checker.lastDeliveryTime, startTime) }
    let expectedDeliveries: Int
    /// Paced clients send on the clock, never because their window drained.
    let isPaced: Bool
    private(set) var peakSampleKiB = 0

    /// Senders whose window has drained enough to send again.
    private var refills: [Int] = []
    private var isRefillScheduled = false
    private var paceCursor = 0
    private var paceTask: Scheduled<Void>?
    private var paced: [BenchClient] = []

    private var watchdog: Scheduled<Void>?
    private var lastProgressMark = -1
    private var lastProgressTime: UInt64 = 0

    init(loop: any EventLoop, address: SocketAddress, configuration: BenchConfiguration) {
        self.loop = loop
        self.address = address
        self.configuration = configuration
        self.format = MessageFormat(bodyBytes: configuration.payloadBytes)
        let names = ClientNames(tag: configuration.tag)
        self.checker = DeliveryChecker(
            clients: configuration.clients,
            recipients: configuration.recipients,
            messages: configuration.messages,
            format: format,
            names: names
        )
        self.probe = configuration.serverPID.map(ProcessProbe.init(pid:))
        self.expectedDeliveries = checker.expected
        self.isPaced = configuration.rate != nil
        let recipients = Swift.max(1, configuration.recipients)
        self.windowDeliveries = configuration.effectiveWindow * recipients
        self.refillLevel = windowDeliveries / 2
        self.bootstrap = ClientBootstrap(group: loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(30))

        let slowLogins = (0..<configuration.slowReaders).map { names.slowReader($0) }
        for index in 0..<configuration.clients {
            var recipientList = (1...Swift.max(1, configuration.recipients)).map {
                names.sender((index + $0) % configuration.clients)
            }
            if configuration.recipients == 0 { recipientList = [] }
            recipientList += slowLogins
            let prefix = Array((recipientList.joined(separator: ",") + ": ").utf8)
            clients.append(
                BenchClient(
                    index: index, login: names.sender(index), isSlow: false, prefix: prefix, driver: self))
        }
        for (offset, login) in slowLogins.enumerated() {
            clients.append(
                BenchClient(
                    index: configuration.clients + offset, login: login, isSlow: true, prefix: [],
                    driver: self))
        }
    }

    func now() -> UInt64 { monotonicNanoseconds() &- epoch }

    // MARK: Login

    /// Connects and logs in every client; completes when each has seen its own hello.
    func connectAll() -> EventLoopFuture<Void> {
        let promise = loop.makePromise(of: Void.self)
        loginPromise = promise
        startWatchdog()
        for _ in 0..<Swift.min(configuration.connectConcurrency, clients.count) { connectNext() }
        return promise.futureResult
    }

    private func connectNext() {
        guard nextToConnect < clients.count else { return }
        let client = clients[nextToConnect]
        nextToConnect += 1
        bootstrap.connect(to: address)
            .assumeIsolatedUnsafeUnchecked()
            .whenComplete { result in
                switch result {
                case .success(let channel) where self.isClosed:
                    channel.close(promise: nil)
                case .success(let channel):
                    do {
                        try channel.pipeline.syncOperations.addHandler(client)
                    } catch {
                        self.fail(error)
                    }
                case .failure(let error):
                    self.fail(
                        BenchError(
                            description:
                                "cannot connect to "
                                + Wording.address(
                                    host: self.configuration.host, port: self.configuration.port)
                                + ": " + Wording.reason(error)
                        ))
                }
            }
    }

    func loggedIn(_ client: BenchClient) {
        loggedInCount += 1
        if loggedInCount == clients.count {
            loginPromise?.succeed(())
            loginPromise = nil
        } else {
            connectNext()
        }
    }

    /// Ends the phase under way with `error`.
    func fail(_ error: any Error) {
        if let loginPromise {
            self.loginPromise = nil
            loginPromise.fail(error)
        } else if let runPromise {
            self.runPromise = nil
            stopTimers()
            runPromise.fail(error)
        }
    }

    // MARK: Messages

    /// Starts sending; completes when every delivery has arrived or the run stalled.
    func run() -> EventLoopFuture<Void> {
        let promise = loop.makePromise(of: Void.self)
        runPromise = promise
        for client in clients where client.isSlow { client.stopReading() }
        isRunning = true
        startTime = now()
        lastProgressTime = startTime
        if checker.expected == 0 {
            finish()
        } else if configuration.rate != nil {
            paceTick()
        } else {
            for client in clients where !client.isSlow { client.fill() }
        }
        return promise.futureResult
    }

    /// A delivery from `sender` arrived (the checker has already taken it off the sender's
    /// in-flight count). A sender that fills its window has more than `refillLevel` in flight,
    /// so reaching exactly that level is the one moment to wake it.
    func delivered(from sender: Int) {
        if checker.inFlight[sender] == refillLevel && !isPaced {
            refills.append(sender)
            if !isRefillScheduled {
                isRefillScheduled = true
                // Submitted tasks run after the loop has read every ready socket, so each sender
                // refills once per loop iteration with everything the window allows: one write.
                loop.assumeIsolatedUnsafeUnchecked().execute { self.runRefills() }
            }
        }
        if checker.received >= expectedDeliveries { finish() }
    }

    private func runRefills() {
        isRefillScheduled = false
        let due = refills
        refills.removeAll(keepingCapacity: true)
        for sender in due { clients[sender].fill() }
    }

    /// Fixed rate: message `g` of the whole run (client `g % clients`, its message `g / clients`)
    /// is due at `g / (clients * rate)` seconds, which spreads the clients evenly over each period
    /// instead of sending in bursts. Every tick sends what has come due, one write per client.
    private func paceTick() {
        guard isRunning, let rate = configuration.rate else { return }
        let total = configuration.clients * configuration.messages
        let elapsed = Double(now() &- startTime) / 1e9
        // Compared as a Double before converting: late in a long run at a high rate the product
        // exceeds what an Int holds.
        let dueNow = (elapsed * rate * Double(configuration.clients)).rounded(.down) + 1
        let due = dueNow < Double(total) ? Int(dueNow) : total
        let time = now()
        while paceCursor < due {
            let client = clients[paceCursor % configuration.clients]
            if client.pacedBatch == nil { paced.append(client) }
            client.appendMessage(time: time)
            paceCursor += 1
        }
        for client in paced { client.flushPacedBatch() }
        paced.removeAll(keepingCapacity: true)
        guard paceCursor < total else { return }
        paceTask = loop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: .milliseconds(1)) { self.paceTick() }
    }

    /// Ends the run at once: nothing more can arrive.
    private func end(because reason: String) {
        guard isRunning else { return }
        endReason = reason
        finish()
    }

    private func finish() {
        guard isRunning else { return }
        isRunning = false
        stopTimers()
        sampleServerMemory()
        runPromise?.succeed(())
        runPromise = nil
    }

    private func stopTimers() {
        paceTask?.cancel()
        paceTask = nil
        watchdog?.cancel()
        watchdog = nil
    }

    // MARK: Watchdog

    /// Samples the server's memory and ends a phase that has stopped moving.
    private func startWatchdog() {
        lastProgressTime = now()
        watchdog = loop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: .milliseconds(50)) {
            self.watch()
        }
    }

    private func watch() {
        sampleServerMemory()
        if let probe, !probe.isAlive {
            let reason = "the server (pid \(probe.pid)) exited"
            if loginPromise != nil { return fail(BenchError(description: reason + " during login")) }
            if isRunning { return end(because: reason) }
        }
        let mark = loggedInCount &+ checker.received &+ checker.notices &+ paceCursor
        let time = now()
        if mark != lastProgressMark {
            lastProgressMark = mark
            lastProgressTime = time
        } else if isRunning && isPaced
            && paceCursor * Swift.max(1, configuration.recipients) <= checker.received
        {
            // Everything sent has arrived and the next message is not due yet: a slow rate
            // waiting for its clock is not a stall.
            lastProgressTime = time
        } else if Double(time &- lastProgressTime) / 1e9 > configuration.stallTimeoutSeconds {
            if loginPromise != nil {
                return fail(
                    BenchError(
                        description:
                            "login stalled: \(loggedInCount) of \(clients.count) clients logged in after "
                            + "\(nextToConnect) connects"))
            }
            if isRunning {
                stalled = true
                return finish()
            }
        }
        watchdog = loop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: .milliseconds(50)) {
            self.watch()
        }
    }

    func sampleServerMemory() {
        if let resident = probe?.memory()?.residentKiB { peakSampleKiB = Swift.max(peakSampleKiB, resident) }
    }

    // MARK: After the run

    /// Lets the slow readers read again and waits for the server to close them (or for the
    /// drain period to pass); counts those it closed.
    func drainSlowReaders() -> EventLoopFuture<Int> {
        let slow = clients.filter(\.isSlow)
        guard !slow.isEmpty else { return loop.makeSucceededFuture(0) }
        for client in slow { client.resumeReading() }
        let promise = loop.makePromise(of: Int.self)
        let deadline = now() &+ UInt64(configuration.slowReaderDrainSeconds * 1e9)
        func poll() {
            let closed = slow.filter(\.wasClosedByServer).count
            if closed == slow.count || now() >= deadline { return promise.succeed(closed) }
            loop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: .milliseconds(20)) { poll() }
        }
        poll()
        return promise.futureResult
    }

    func closeAll() -> EventLoopFuture<Void> {
        // A connect still under way keeps the driver alive through its callback, which sees this
        // and closes its channel instead of handing it a client.
        isClosed = true
        stopTimers()
        let closed = clients.compactMap { $0.close() }
        return EventLoopFuture.andAllComplete(closed, on: loop)
    }

    func clientClosed(_ client: BenchClient) {
        if loginPromise != nil, !client.isLoggedIn {
            fail(BenchError(description: "the server closed \(client.loginText) before it logged in"))
        }
        // Slow readers are meant to be cut off; without any ring client nothing more can arrive,
        // and waiting for the stall timeout would only delay the report.
        guard client.wasClosedByServer, !client.isSlow else { return }
        closedByServer += 1
        if closedByServer == configuration.clients {
            end(because: "the server closed every connection mid-run")
        }
    }
}

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
    private var context: ChannelHandlerContext?
    /// The start of a line that the last read cut in two.
    private var carry: ByteBuffer?
    private(set) var isLoggedIn = false
    private(set) var wasClosedByServer = false
    private var isClosing = false

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
        let time = driver.now()
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

    func channelInactive(context: ChannelHandlerContext) {
        if !isClosing { wasClosedByServer = true }
        self.context = nil
        driver.clientClosed(self)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
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
            let text = String(decoding: line, as: UTF8.self)
            driver.fail(BenchError(description: "\(loginText) could not log in: \(text)"))
        }
    }

    func stopReading() {
        try? context?.channel.syncOptions?.setOption(.autoRead, value: false)
    }

    func resumeReading() {
        try? context?.channel.syncOptions?.setOption(.autoRead, value: true)
        context?.read()
    }

    // MARK: Sending

    /// Sends as many messages as the window allows, in one write.
    func fill() {
        guard let context, sent < driver.configuration.messages else { return }
        let recipients = Swift.max(1, driver.configuration.recipients)
        let room = (driver.windowDeliveries - driver.checker.inFlight[index]) / recipients
        let count = Swift.min(room, driver.configuration.messages - sent)
        guard count > 0 else { return }
        var batch = context.channel.allocator.buffer(capacity: count * lineBytes)
        append(count, to: &batch, time: driver.now())
        context.writeAndFlush(wrapOutboundOut(batch), promise: nil)
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
