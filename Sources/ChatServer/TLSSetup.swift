import ChatProtocol
import Logging
import NIOCore
import NIOSSL
import NIOTLS
import TLSTrust

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The server's certificate chain and private key, as PEM files: with them it serves TLS only.
public struct TLSFiles: Sendable, Equatable {
    public var certificateChainPath: String
    public var privateKeyPath: String

    public init(certificateChainPath: String, privateKeyPath: String) {
        self.certificateChainPath = certificateChainPath
        self.privateKeyPath = privateKeyPath
    }
}

/// TLS for every connection: one context, built once at start from the files, so a bad file is
/// one clear error before the server listens; and the handlers each connection's pipeline starts
/// with.
struct ServerTLS: Sendable {
    private let context: NIOSSLContext

    init(_ files: TLSFiles) throws {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(files.certificateChainPath)
        } catch {
            throw Self.unusable(files.certificateChainPath, "the certificate", error)
        }
        guard !chain.isEmpty else {
            throw ChatServerError(description: "no PEM certificate in \(files.certificateChainPath)")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: files.privateKeyPath, format: .pem)
        } catch {
            throw Self.unusable(files.privateKeyPath, "the private key", error)
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) },
            privateKey: .privateKey(key))
        // NIOSSL's default still takes TLS 1.0 and 1.1 (RFC 8996 retired them).
        configuration.minimumTLSVersion = .tlsv12
        // Every close the server starts comes after its own wait for the client (the drain, the
        // login timeout, the shutdown's grace); NIOSSL would wait up to 5 s more for a
        // close_notify from a client that has not sent one by then, which held a refused
        // connection's place for 6 s instead of 1 and made a shutdown take 8 s instead of 3.
        configuration.shutdownTimeout = .zero
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch NIOSSLError.failedToLoadPrivateKey {
            throw ChatServerError(
                description:
                    "the private key in \(files.privateKeyPath) does not belong to the certificate in \(files.certificateChainPath)"
            )
        } catch {
            throw ChatServerError(
                description:
                    "cannot use the certificate in \(files.certificateChainPath) with the key in \(files.privateKeyPath): \(Self.reason(error))"
            )
        }
    }

    /// The TLS handler, so everything after it sees plain lines, between a watcher for the client's
    /// first bytes and one that counts and logs a failed handshake; both step aside once done.
    func addHandlers(to channel: any Channel, statistics: ServerStatistics, logger: Logger) throws {
        let watcher = HandshakeWatcher(statistics: statistics.onLoop(channel.eventLoop), logger: logger)
        try channel.pipeline.syncOperations.addHandlers(
            FirstBytesWatcher(handshake: watcher), NIOSSLServerHandler(context: context), watcher)
    }

    /// NIOSSL says only that it could not load a file; the system says why, if it cannot be read.
    private static func unusable(_ path: String, _ what: String, _ error: any Error) -> ChatServerError {
        let why = access(path, R_OK) == 0 ? reason(error) : Wording.reason(errno: errno)
        return ChatServerError(description: "cannot read \(what) from \(path): \(why)")
    }

    /// A connection's error in words: NIOSSL's and BoringSSL's here, the rest as `Wording` says
    /// them.
    static func reason(_ error: any Error) -> String {
        switch error {
        case NIOSSLError.noSuchFilesystemObject: return "no such file"
        case NIOSSLError.failedToLoadCertificate: return "not a readable PEM certificate"
        case NIOSSLError.failedToLoadPrivateKey: return "not a readable PEM private key"
        case NIOSSLError.handshakeFailed(let error):
            return "TLS handshake failed: \(TLSTrust.reasons(error) ?? "\(error)")"
        default: return TLSTrust.reasons(error).map { "TLS error: \($0)" } ?? Wording.reason(error)
        }
    }
}

/// A handshake that failed, passed on to the connection so that it leaves with the reason.
struct TLSHandshakeFailure: Error, CustomStringConvertible {
    let description: String
}

/// Sits right after the TLS handler until the handshake completes. A handshake that fails (a
/// client speaking plain text, or one that does not trust our certificate) is counted and logged
/// at debug level (it never reached the chat, so it is not the chat's error), and its reason goes
/// on to the connection, which closes with it. A client gone before its first byte tried no
/// handshake and is not counted. After the handshake this handler removes itself and costs
/// nothing.
private final class HandshakeWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let statistics: LoopStatistics
    private let logger: Logger
    /// Whether the client sent anything (`FirstBytesWatcher`).
    var clientSentBytes = false

    init(statistics: LoopStatistics, logger: Logger) {
        self.statistics = statistics
        self.logger = logger
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        context.fireUserInboundEventTriggered(event)
        if case TLSUserEvent.handshakeCompleted = event {
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Connected and gone without a byte (a port scan, a load balancer's health check): no
        // handshake was tried, so none failed.
        guard clientSentBytes else {
            return context.fireErrorCaught(
                TLSHandshakeFailure(description: "closed before any TLS handshake"))
        }
        statistics.tlsHandshakeFailed()
        let reason = ServerTLS.reason(error)
        logger.debug(
            "TLS handshake failed",
            metadata: [
                "peer":
                    "\(context.remoteAddress.map { Wording.address(host: $0.ipAddress ?? "?", port: $0.port ?? 0) } ?? "?")",
                "reason": "\(reason)",
            ])
        // The connection closes with the reason, so its `disconnected` line says what happened
        // rather than that the client closed.
        context.fireErrorCaught(TLSHandshakeFailure(description: reason))
    }
}

/// Ahead of the TLS handler until the client's first bytes, to tell a connection that never tried
/// a handshake from one whose handshake failed.
private final class FirstBytesWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let handshake: HandshakeWatcher

    init(handshake: HandshakeWatcher) {
        self.handshake = handshake
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        handshake.clientSentBytes = true
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
