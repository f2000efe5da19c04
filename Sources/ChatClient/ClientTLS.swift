import ChatProtocol
import NIOCore
import NIOSSL
import NIOTLS
import TLSTrust

/// `--tls`: the client's side of TLS (swift-nio-ssl). The server's certificate must chain to the
/// system's trusted roots, or to the one CA given with `--tls-ca`, and be for the host the client
/// was told to connect to. There is no way to skip either check, and a connection whose
/// handshake fails is never used in plain text instead.
public struct ClientTLS: Sendable {
    private let context: NIOSSLContext
    /// How long the handshake may take: a server that does not speak TLS may wait for a line
    /// forever rather than answer the client's hello.
    public let handshakeTimeout: Duration

    /// Trusts the system's roots, or only the certificates in the PEM file `trustedCAFile`.
    public init(trustedCAFile: String?, handshakeTimeout: Duration = .seconds(10)) throws {
        context = try TLSTrust.clientContext(trusting: trustedCAFile, option: "--tls-ca")
        self.handshakeTimeout = handshakeTimeout
    }

    /// The handler that secures a connection to `host`.
    func makeHandler(host: String) throws -> NIOSSLClientHandler {
        try NIOSSLClientHandler(context: context, serverHostname: TLSTrust.serverHostname(for: host))
    }

    /// Why a handshake with `host` failed, in words a person can act on.
    static func reason(_ error: any Error, host: String, timeout: Duration) -> String {
        switch error {
        case is HandshakeTimedOut:
            return "no TLS answer within \(timeout.components.seconds) s; the server may not speak TLS"
        case is ClosedDuringHandshake, NIOSSLError.uncleanShutdown:
            return "the server closed the connection during the TLS handshake; it may not speak TLS"
        default:
            return TLSTrust.handshakeFailure(error, host: host) ?? Wording.reason(error)
        }
    }
}

/// The handshake took longer than `ClientTLS.handshakeTimeout`.
struct HandshakeTimedOut: Error {}

/// The connection closed before the handshake was done.
struct ClosedDuringHandshake: Error {}

/// Completes `done` once the TLS handshake has succeeded, and fails it when the handshake
/// fails, the connection closes first, or `timeout` passes; only then does the session use the
/// connection.
final class HandshakeWatch: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    let done: EventLoopPromise<Void>
    private let timeout: Duration
    private var timer: Scheduled<Void>?
    private var isOver = false

    init(done: EventLoopPromise<Void>, timeout: Duration) {
        self.done = done
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loop = context.eventLoop.assumeIsolated()
        timer = loop.scheduleTask(in: .nanoseconds(Int64(timeout / .nanoseconds(1)))) { [self] in
            finish(.failure(HandshakeTimedOut()))
            context.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent { finish(.success(())) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(.failure(error))
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.failure(ClosedDuringHandshake()))
        context.fireChannelInactive()
    }

    private func finish(_ result: Result<Void, any Error>) {
        guard !isOver else { return }
        isOver = true
        timer?.cancel()
        done.completeWith(result)
    }
}
