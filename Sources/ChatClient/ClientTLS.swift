import ChatProtocol
import NIOCore
import NIOSSL
import NIOTLS

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `--tls`: the client's side of TLS (swift-nio-ssl). The server's certificate must chain to the
/// system's trusted roots, or to the one CA given with `--tls-ca`, and be for the host the client
/// was told to connect to. There is no way to skip either check, and a connection whose
/// handshake fails is never used in plain text instead.
public struct ClientTLS: Sendable {
    private let context: NIOSSLContext
    /// How long the handshake may take: a server that does not speak TLS may wait for a line
    /// forever rather than answer the client's hello.
    public let handshakeTimeout: Duration

    /// A CA file that cannot be used, in words.
    public struct SetupFailure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Trusts the system's roots, or only the certificates in the PEM file `trustedCAFile`.
    public init(trustedCAFile: String?, handshakeTimeout: Duration = .seconds(10)) throws {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .fullVerification
        if let path = trustedCAFile {
            configuration.trustRoots = .certificates(try Self.certificates(in: path))
        } else {
            configuration.trustRoots = .default
        }
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw SetupFailure(description: "cannot set up TLS: \(error)")
        }
        self.handshakeTimeout = handshakeTimeout
    }

    private static func certificates(in path: String) throws -> [NIOSSLCertificate] {
        // NIOSSL says only that loading failed; the system says why a file cannot be read.
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw SetupFailure(description: "cannot read --tls-ca \(path): \(Wording.reason(errno: errno))")
        }
        close(descriptor)
        let certificates = try? NIOSSLCertificate.fromPEMFile(path)
        guard let certificates, !certificates.isEmpty else {
            throw SetupFailure(description: "--tls-ca \(path) holds no PEM certificate")
        }
        return certificates
    }

    /// The handler that secures a connection to `host`. A name goes in SNI and is checked
    /// against the certificate's DNS names; an address cannot go in SNI, and NIOSSL then checks
    /// the address connected to against the certificate's IP addresses.
    func makeHandler(host: String) throws -> NIOSSLClientHandler {
        let isAddress = (try? SocketAddress(ipAddress: host, port: 0)) != nil
        return try NIOSSLClientHandler(context: context, serverHostname: isAddress ? nil : host)
    }

    /// Why a handshake with `host` failed, in words a person can act on.
    static func reason(_ error: any Error, host: String, timeout: Duration) -> String {
        switch error {
        case is HandshakeTimedOut:
            return "no TLS answer within \(timeout.components.seconds) s; the server may not speak TLS"
        case is ClosedDuringHandshake, NIOSSLError.uncleanShutdown:
            return "the server closed the connection during the TLS handshake; it may not speak TLS"
        case let error as NIOSSLExtraError where error == .failedToValidateHostname:
            return "the server's certificate is not for \(host)"
        case NIOSSLError.handshakeFailed(let failure):
            let details = "\(failure)"
            if details.contains("CERTIFICATE_VERIFY_FAILED") {
                return "the server's certificate is not trusted (unknown authority, expired or not yet valid)"
            }
            for marker in [
                "WRONG_VERSION_NUMBER", "PACKET_LENGTH_TOO_LONG", "UNKNOWN_PROTOCOL", "HTTP_REQUEST",
            ]
            where details.contains(marker) {
                return "the server does not speak TLS"
            }
            return "the TLS handshake failed (\(details))"
        default:
            return Wording.reason(error)
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
