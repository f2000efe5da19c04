import ChatServer
import ChatTestSupport
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// A relay in front of a plain chat server, with TLS or without: accepts connections on a port
/// of its own and passes each one's bytes to and from the server, end of input included. It can
/// also cut its clients off while keeping their connections to the server open, the way a lost
/// network leaves a server holding a connection whose client is gone.
final class Front: Sendable {
    let port: Int
    private let listener: any Channel
    private let relays = Relays()

    private final class Relays: Sendable {
        let list = Mutex<[Relay]>([])
    }

    /// TLS with `certificate` and `key` (PEM files), or plain TCP when they are nil.
    init(certificate: String? = nil, key: String? = nil, backendPort: Int) async throws {
        var context: NIOSSLContext?
        if let certificate, let key {
            let configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
            context = try NIOSSLContext(configuration: configuration)
        }
        let relays = self.relays
        listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { [context] channel in
                channel.eventLoop.makeCompletedFuture {
                    if let context {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    }
                    let relay = Relay(backendPort: backendPort)
                    relays.list.withLock { $0.append(relay) }
                    try channel.pipeline.syncOperations.addHandler(relay)
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = listener.localAddress!.port!
    }

    /// Closes every client's connection and keeps its server side open, as a dead network would;
    /// returns what closes the server sides later.
    func cutClientsKeepingServerSides() -> @Sendable () -> Void {
        let cut = relays.list.withLock { relays in
            defer { relays = [] }
            return relays
        }
        for relay in cut { relay.cutClientKeepingBackend() }
        return { for relay in cut { relay.closeBackend() } }
    }

    func close() async {
        try? await listener.close()
    }
}

/// Connects to the backend once the client is there, then passes bytes both ways; the end of
/// one side's input becomes the end of the other side's output.
final class Relay: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    let backendPort: Int
    private let backend = Mutex<(any Channel)?>(nil)
    private let pending = Mutex<[ByteBuffer]>([])
    private let client = Mutex<(any Channel)?>(nil)
    private let keepsBackend = Mutex(false)

    init(backendPort: Int) {
        self.backendPort = backendPort
    }

    func cutClientKeepingBackend() {
        keepsBackend.withLock { $0 = true }
        client.withLock { $0 }?.close(promise: nil)
    }

    func closeBackend() {
        backend.withLock { $0 }?.close(promise: nil)
    }

    func channelActive(context: ChannelHandlerContext) {
        let client = context.channel
        self.client.withLock { $0 = client }
        ClientBootstrap(group: context.eventLoop)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { backend in
                backend.eventLoop.makeCompletedFuture {
                    try backend.pipeline.syncOperations.addHandler(Pipe(to: client))
                }
            }
            .connect(host: "127.0.0.1", port: backendPort)
            .whenComplete { [self] result in
                guard case .success(let backend) = result else {
                    client.close(promise: nil)
                    return
                }
                self.backend.withLock { $0 = backend }
                for buffer in pending.withLock({ pending in
                    defer { pending = [] }
                    return pending
                }) {
                    backend.writeAndFlush(buffer, promise: nil)
                }
            }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        guard let backend = backend.withLock({ $0 }) else {
            pending.withLock { $0.append(buffer) }
            return
        }
        backend.writeAndFlush(buffer, promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            backend.withLock { $0 }?.close(mode: .output, promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !keepsBackend.withLock({ $0 }) { closeBackend() }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// The backend's side of a relay: its bytes to the client, its end to the client's end.
private final class Pipe: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let client: any Channel

    init(to client: any Channel) {
        self.client = client
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        client.writeAndFlush(unwrapInboundIn(data), promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event { client.close(promise: nil) }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        client.close(promise: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
