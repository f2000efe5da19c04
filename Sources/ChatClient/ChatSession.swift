import ChatProtocol
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import TLSTrust

/// One connection to a chat server, from connect to close, shared by both front ends: plain
/// mode feeds it stdin and drains the server at the end; the full screen feeds it what the user
/// types and stops when the user quits.
public enum ChatSession {
    /// Far above the server's default limit: the client should show whatever a server sends,
    /// yet one endless line must not take all memory.
    public static let maximumLineBytes = 1024 * 1024

    /// How a session that did not fail ended.
    public struct Ending: Equatable, Sendable {
        /// Which side ended first.
        public var end: SessionEnd
        /// The text of the server's last line (without `error: `) if that line was a notice: the
        /// server's own word on why it closed, as when it refuses a login, shuts down or cuts
        /// a slow reader off.
        public var finalNotice: String?
        /// The last notice the server sent at any point of the session.
        public var lastNotice: String?

        public init(end: SessionEnd, finalNotice: String?, lastNotice: String?) {
            self.end = end
            self.finalNotice = finalNotice
            self.lastNotice = lastNotice
        }
    }

    /// Connects, sends `login` first if there is one, then races the server's lines against
    /// `input` (each element one line, without its `\n`) until one side ends.
    ///
    /// Throws `ClientError` when the connection cannot be made or breaks; errors thrown by the
    /// handlers propagate unchanged.
    public static func run<Input: AsyncSequence & Sendable>(
        endpoint: ServerEndpoint,
        tls: ClientTLS? = nil,
        login: String?,
        input: Input,
        afterInputEnds: AfterInputEnds,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        onConnected: @Sendable () async -> Void = {},
        onServerLine: @escaping @Sendable (FramedLine) async throws -> Void
    ) async throws -> Ending where Input.Element == ByteBuffer {
        let channel = try await connect(to: endpoint, tls: tls, group: group)
        await onConnected()
        let notices = Mutex<(final: String?, last: String?)>((nil, nil))
        do {
            let end = try await channel.executeThenClose { inbound, outbound in
                let newline = ByteBuffer(integer: UInt8(ascii: "\n"))
                @Sendable func send(_ line: ByteBuffer) async throws {
                    do {
                        try await outbound.write(contentsOf: [line, newline])
                    } catch ChannelError.ioOnClosedChannel {
                        // The server closed the connection as this line was on its way (the
                        // login too, turned away at once by a full server). Its stream ends as
                        // well and tells how (closed, or reset); the race between the two must
                        // not turn a refusal into "connection lost".
                    }
                }
                if let login { try await send(ByteBuffer(string: login)) }
                return try await selectLines(
                    server: inbound,
                    input: input,
                    afterInputEnds: afterInputEnds,
                    onServerLine: { framed in
                        var notice: String?
                        if case .line(let line) = framed, line.readableBytesView.starts(with: noticePrefix) {
                            notice = String(
                                decoding: line.readableBytesView.dropFirst(noticePrefix.count), as: UTF8.self)
                        }
                        notices.withLock { notices in
                            notices.final = notice
                            if notice != nil { notices.last = notice }
                        }
                        try await onServerLine(framed)
                    },
                    onInputLine: { line in try await send(line) },
                    onInputEnd: { outbound.finish() }
                )
            }
            let (final, last) = notices.withLock { $0 }
            return Ending(end: end, finalNotice: final, lastNotice: last)
        } catch let error as InputFailure {
            throw ClientError.cannotReadInput(reason: ClientError.reason(error.underlying))
        } catch let error as IOError {
            throw ClientError.connectionLost(endpoint, reason: ClientError.reason(error))
        } catch let error as ChannelError {
            throw ClientError.connectionLost(endpoint, reason: ClientError.reason(error))
        }
    }

    private static let noticePrefix = Array(Wire.noticePrefix.utf8)

    static func connect(
        to endpoint: ServerEndpoint,
        tls: ClientTLS?,
        group: any EventLoopGroup
    ) async throws -> NIOAsyncChannel<FramedLine, ByteBuffer> {
        // NIO's connect does not watch for task cancellation; without this, a user who quits
        // while an unreachable host is being tried would wait out the whole connect timeout.
        let attempts = ConnectAttempts()
        let (channel, handshake): (NIOAsyncChannel<FramedLine, ByteBuffer>, EventLoopFuture<Void>?)
        do {
            (channel, handshake) = try await withTaskCancellationHandler {
                try await ClientBootstrap(group: group)
                    .connectTimeout(.nanoseconds(Int64(endpoint.connectTimeout / .nanoseconds(1))))
                    .channelOption(.socketOption(.tcp_nodelay), value: 1)
                    .connect(host: endpoint.host, port: endpoint.port) { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try attempts.register(channel)
                            let pipeline = channel.pipeline.syncOperations
                            var handshake: EventLoopFuture<Void>?
                            if let tls {
                                let done = channel.eventLoop.makePromise(of: Void.self)
                                try pipeline.addHandler(tls.makeHandler(host: endpoint.host))
                                try pipeline.addHandler(
                                    HandshakeWatch(done: done, timeout: tls.handshakeTimeout))
                                handshake = done.futureResult
                            }
                            if tls == nil { try pipeline.addHandler(TLSAnswerCheck(endpoint: endpoint)) }
                            let framer = LineFramer(maximumLineBytes: maximumLineBytes)
                            try pipeline.addHandler(
                                ByteToMessageHandler(framer, maximumBufferSize: framer.handlerBufferLimit))
                            // Half-closure: finishing the writer sends end of input but keeps reading.
                            let wrapped = try NIOAsyncChannel<FramedLine, ByteBuffer>(
                                wrappingChannelSynchronously: channel,
                                configuration: .init(isOutboundHalfClosureEnabled: true)
                            )
                            return (wrapped, handshake)
                        }
                    }
            } onCancel: {
                attempts.cancel()
            }
        } catch {
            if attempts.isCancelled { throw CancellationError() }
            throw ClientError.cannotConnect(endpoint, reason: ClientError.reason(error))
        }
        guard let handshake, let tls else { return channel }
        do {
            // Nothing is sent, not even the login, before the server has proven who it is.
            try await withTaskCancellationHandler {
                try await handshake.get()
            } onCancel: {
                channel.channel.close(promise: nil)
            }
        } catch {
            // The channel's writer must be finished before it goes, as `executeThenClose` does.
            try? await channel.executeThenClose { _, _ in }
            if Task.isCancelled { throw CancellationError() }
            let reason = ClientTLS.reason(error, host: endpoint.host, timeout: tls.handshakeTimeout)
            // No answer may be a busy server, worth another try; a certificate that does not
            // verify, or a server that answers in plain text, is not.
            switch error {
            case is HandshakeTimedOut, is ClosedDuringHandshake, NIOSSLError.uncleanShutdown:
                throw ClientError.cannotConnect(endpoint, reason: reason)
            default:
                throw ClientError.cannotSecure(endpoint, reason: reason)
            }
        }
        return channel
    }
}

/// The channels a connect has opened so far, so that cancelling the task can close them: closing
/// a channel is what ends its pending connect.
private final class ConnectAttempts: Sendable {
    private let state = Mutex<(channels: [any Channel], isCancelled: Bool)>(([], false))

    var isCancelled: Bool { state.withLock { $0.isCancelled } }

    func register(_ channel: any Channel) throws {
        let isCancelled = state.withLock { state in
            if !state.isCancelled { state.channels.append(channel) }
            return state.isCancelled
        }
        if isCancelled { throw CancellationError() }
    }

    func cancel() {
        let channels = state.withLock { state in
            state.isCancelled = true
            return state.channels
        }
        for channel in channels { channel.close(promise: nil) }
    }
}

/// Without TLS, looks at the server's first bytes once: a TLS record there is said as such, where
/// the framer would pass on its bytes as a line of the chat (and exit with status 0).
private final class TLSAnswerCheck: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let endpoint: ServerEndpoint

    init(endpoint: ServerEndpoint) {
        self.endpoint = endpoint
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if TLSTrust.beginsARecord(unwrapInboundIn(data)) {
            context.fireErrorCaught(ClientError.speaksTLS(endpoint))
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
