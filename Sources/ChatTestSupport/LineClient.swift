import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

public struct TestTimeout: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// A raw TCP client for tests: it sends exactly the bytes it is given and splits what it
/// receives on `\n` itself, so tests see the server's bytes unchanged, line endings included.
public final class LineClient: Sendable {
    private let channel: any Channel
    private let state: NIOLockedValueBox<ReceiveState>

    struct ReceiveState {
        /// Bytes received and not yet taken, from `readIndex` on; compacted now and then so
        /// taking a line is not a copy of everything behind it.
        var received: [UInt8] = []
        var readIndex = 0
        var receivedBytes = 0
        var isClosed = false
        var wasReset = false
        var failure: String?

        var pending: ArraySlice<UInt8> { received[readIndex...] }

        mutating func take(upTo end: Int) -> [UInt8] {
            let taken = Array(received[readIndex..<end])
            readIndex = end
            if readIndex > 64 * 1024 && readIndex * 2 > received.count {
                received.removeSubrange(..<readIndex)
                readIndex = 0
            }
            return taken
        }
    }

    /// `receiveBufferBytes` pins the kernel's receive buffer (Linux otherwise grows it to tens of
    /// MiB), so a test that stops reading fills it quickly and the same way on every machine.
    /// `readBytesPerSecond` makes a slow reader: the client takes at most that much off the
    /// socket per second, so the server sees a reader that reads, just slowly.
    /// With `tls`, the client speaks TLS, checking the server's certificate for `host`.
    public static func connect(
        port: Int,
        host: String = "127.0.0.1",
        receiveBufferBytes: Int? = nil,
        readBytesPerSecond: Int? = nil,
        sourceAddress: String? = nil,
        tls: TLSConfiguration? = nil
    ) async throws -> LineClient {
        let tlsContext = try tls.map(NIOSSLContext.init)
        let state = NIOLockedValueBox(ReceiveState())
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        if let sourceAddress {
            // Any address in 127.0.0.0/8 is this machine: a second "peer" for per-address caps.
            bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: sourceAddress, port: 0))
        }
        if let receiveBufferBytes {
            bootstrap = bootstrap.channelOption(
                .socketOption(.so_rcvbuf), value: SocketOptionValue(receiveBufferBytes))
        }
        if readBytesPerSecond != nil {
            // One read of at most `throttledReadBytes` per read() call, so the pace is ours.
            bootstrap = bootstrap.channelOption(.autoRead, value: false)
                .channelOption(.maxMessagesPerRead, value: 1)
                .channelOption(
                    .recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: throttledReadBytes))
        }
        let channel =
            try await bootstrap
            // Over TLS the server's close_notify is its end of output; with half-closure allowed,
            // NIOSSL (2.37) would then wait its 5-second shutdown timeout on every close we start.
            .channelOption(.allowRemoteHalfClosure, value: tls == nil)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tlsContext {
                        // An address is checked against the certificate's IP names; only a name
                        // goes into SNI.
                        let isAddress = (try? SocketAddress(ipAddress: host, port: 0)) != nil
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: tlsContext, serverHostname: isAddress ? nil : host))
                    }
                    try channel.pipeline.syncOperations.addHandler(Collector(state: state))
                }
            }
            .connect(host: host, port: port)
            .get()
        if let readBytesPerSecond { throttle(channel, state: state, bytesPerSecond: readBytesPerSecond) }
        return LineClient(channel: channel, state: state)
    }

    private static let throttledReadBytes = 16 * 1024

    /// At most this much reading saved up while nothing came: a reader idle through a test's
    /// set-up would otherwise take what then comes at full speed until it caught up with its
    /// rate (2 MB for each second of set-up at 2 MB/s).
    private static let throttleSavedUpBytes = 64 * 1024

    /// Asks for one read whenever the bytes taken so far are behind `bytesPerSecond`.
    private static func throttle(
        _ channel: any Channel,
        state: NIOLockedValueBox<ReceiveState>,
        bytesPerSecond: Int
    ) {
        let rate = Double(bytesPerSecond)
        // Set on the first tick, on the channel's loop.
        let origin = NIOLoopBoundBox.makeEmptyBox(valueType: NIODeadline.self, eventLoop: channel.eventLoop)
        let ticks = channel.eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(1)) {
            _ in
            let now = NIODeadline.now()
            let start = origin.value ?? now
            let received = state.withLockedValue { $0.receivedBytes }
            let allowed = Int(Double((now - start).nanoseconds) / 1e9 * rate)
            // Allowance beyond what may be saved up is forgotten, by starting the clock later.
            let unused = allowed - received - throttleSavedUpBytes
            origin.value = unused > 0 ? start + .nanoseconds(Int64(Double(unused) / rate * 1e9)) : start
            if received < allowed { channel.read() }
        }
        channel.closeFuture.whenComplete { _ in ticks.cancel() }
    }

    private init(channel: any Channel, state: NIOLockedValueBox<ReceiveState>) {
        self.channel = channel
        self.state = state
    }

    /// Sends `line` followed by `\n`.
    public func send(_ line: String) async throws {
        try await sendRaw(Array((line + "\n").utf8))
    }

    /// Sending after the server has closed is not an error here: the server would have thrown
    /// the bytes away, and tests that check that it ignores them race its close.
    public func sendRaw(_ bytes: [UInt8]) async throws {
        do {
            try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
        } catch  where isClosedByServer {
        }
    }

    public func sendRaw(_ text: String) async throws {
        try await sendRaw(Array(text.utf8))
    }

    /// The next line with its `\n` stripped, nil once the server has closed and nothing is left.
    /// The default waits here are long: they wait for what will come, and waiting longer costs
    /// nothing when it does, while the CI's loaded sanitizer run has held a test up for over 5 s.
    public func readLine(timeout: Duration = .seconds(30)) async throws -> String? {
        try await readRawLine(timeout: timeout).map { String(decoding: $0.dropLast(), as: UTF8.self) }
    }

    /// The next line exactly as received, `\n` included; nil at end of stream.
    public func readRawLine(timeout: Duration = .seconds(30)) async throws -> [UInt8]? {
        try await poll(timeout: timeout, waitingFor: "a line") { state in
            if let newline = state.pending.firstIndex(of: UInt8(ascii: "\n")) {
                return .some(state.take(upTo: newline + 1))
            }
            if state.isClosed {
                // A final unterminated fragment is returned as is, so a test can see it.
                if state.pending.isEmpty { return .some(nil) }
                return .some(state.take(upTo: state.received.count))
            }
            return nil
        }
    }

    /// Waits until the server closes the connection and returns every line that came before.
    public func readToEnd(timeout: Duration = .seconds(30)) async throws -> [String] {
        var lines: [String] = []
        let deadline = ContinuousClock.now + timeout
        while let line = try await readLine(timeout: deadline - ContinuousClock.now) {
            lines.append(line)
        }
        return lines
    }

    /// Fails if any byte arrives within `window`.
    public func expectSilence(for window: Duration) async throws {
        try await Task.sleep(for: window)
        let pending = state.withLockedValue { $0.pending }
        if !pending.isEmpty {
            throw TestTimeout(
                "expected silence, got \(String(decoding: pending, as: UTF8.self).debugDescription)")
        }
    }

    /// True once the server has closed its side (EOF or reset).
    public var isClosedByServer: Bool { state.withLockedValue { $0.isClosed } }

    public func waitUntilClosedByServer(timeout: Duration = .seconds(30)) async throws {
        _ = try await poll(timeout: timeout, waitingFor: "the server to close") { state -> Bool? in
            _ = state.take(upTo: state.received.count)
            return state.isClosed ? true : nil
        }
    }

    /// True if the connection ended in a reset rather than an orderly close: a reset may have
    /// destroyed bytes the server sent.
    public var wasReset: Bool { state.withLockedValue { $0.wasReset } }

    public var receivedByteCount: Int { state.withLockedValue { $0.receivedBytes } }

    /// The error that ended the connection, if one did (a TLS handshake that failed, say).
    public var failure: String? { state.withLockedValue { $0.failure } }

    /// Stops taking bytes off the socket, so the kernel buffers fill and the server sees a slow
    /// reader.
    public func stopReading() async throws {
        try await channel.setOption(.autoRead, value: false).get()
    }

    /// A no-op once the connection is gone: what arrived before is still there to read. It may
    /// be gone although this client stopped reading: NIO reads a connection the server has
    /// closed to its end at once, whatever `autoRead` says.
    public func resumeReading() async throws {
        do {
            try await channel.setOption(.autoRead, value: true).get()
        } catch ChannelError.ioOnClosedChannel {
            return
        }
        channel.read()
    }

    /// Closes the sending side only: the server sees end of input.
    public func closeOutput() async throws {
        try await channel.close(mode: .output)
    }

    public func close() async {
        try? await channel.close()
    }

    private func poll<T>(
        timeout: Duration,
        waitingFor what: String,
        _ check: @Sendable (inout ReceiveState) -> T?
    ) async throws -> T {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let result = state.withLockedValue(check) { return result }
            if ContinuousClock.now >= deadline {
                let pending = state.withLockedValue {
                    String(decoding: $0.pending.prefix(200), as: UTF8.self)
                }
                throw TestTimeout("timed out waiting for \(what); unread: \(pending.debugDescription)")
            }
            try await Task.sleep(for: .milliseconds(1))
        }
    }
}

private final class Collector: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let state: NIOLockedValueBox<LineClient.ReceiveState>

    init(state: NIOLockedValueBox<LineClient.ReceiveState>) {
        self.state = state
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        state.withLockedValue {
            $0.received.append(contentsOf: buffer.readableBytesView)
            $0.receivedBytes += buffer.readableBytes
        }
    }

    /// Like most clients, this one closes once the server has: a server that waits for its
    /// clients' side of the close is then not kept waiting by the tests.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            state.withLockedValue { $0.isClosed = true }
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        state.withLockedValue { $0.isClosed = true }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let reset = (error as? IOError)?.errnoCode == ECONNRESET
        state.withLockedValue {
            $0.isClosed = true
            $0.wasReset = $0.wasReset || reset
            $0.failure = $0.failure ?? "\(error)"
        }
        context.close(promise: nil)
    }
}
