import ChatProtocol
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

public struct ChatServerError: Error, CustomStringConvertible {
    public let description: String
}

/// A running chat server. `start` returns once it accepts connections; `shutdown` stops it the
/// graceful way. Tests and other programs embed it directly; `ChatService` runs it under
/// swift-service-lifecycle.
public final class ChatServer: Sendable {
    public let localAddress: SocketAddress
    /// The port actually bound, useful after asking for port 0.
    public var port: Int { localAddress.port ?? 0 }

    private let group: MultiThreadedEventLoopGroup
    private let listener: any Channel
    private let broker: NIOLoopBound<Broker>
    private let metrics: MetricsEndpoint?
    /// Where `/metrics` is served, if it is.
    public var metricsAddress: SocketAddress? { metrics?.localAddress }

    private init(
        group: MultiThreadedEventLoopGroup,
        listener: any Channel,
        broker: NIOLoopBound<Broker>,
        metrics: MetricsEndpoint?
    ) {
        self.group = group
        self.listener = listener
        self.broker = broker
        self.metrics = metrics
        self.localAddress = listener.localAddress!
    }

    public static func start(
        configuration: ChatServerConfiguration = ChatServerConfiguration(),
        logger: Logger = Logger(label: "a-chat.server")
    ) async throws -> ChatServer {
        let tls = try configuration.tls.map(ServerTLS.init)
        // One loop carries the broker and every connection: delivery is then a method call on
        // one thread. On a small machine the other cores are left to the kernel's TCP work.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let statistics = ServerStatistics(group: group)
        let broker = try await loop.submit {
            NIOLoopBound(
                Broker(eventLoop: loop, configuration: configuration, logger: logger), eventLoop: loop)
        }.get()
        let admission = Admission(
            maximumConnections: configuration.maximumConnections,
            maximumPerAddress: configuration.maximumConnectionsPerAddress)
        let bootstrap = ServerBootstrap(group: loop)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(AcceptBackoff(logger: logger))
                }
            }
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            // Flow control reads congestion off the channel's writability.
            .childChannelOption(
                .writeBufferWaterMark,
                value: .init(low: configuration.lowWaterQueueBytes, high: configuration.softQueueBytes)
            )
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try tls?.addHandlers(to: channel, statistics: statistics, logger: logger)
                    try channel.pipeline.syncOperations.addHandler(
                        Connection(broker: broker.value, admission: admission, logger: logger))
                }
            }
        do {
            let listener = try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
            let metrics = try await MetricsEndpoint.start(
                configuration.metrics, statistics: statistics, group: group, logger: logger)
            let server = ChatServer(group: group, listener: listener, broker: broker, metrics: metrics)
            logger.info(
                "listening",
                metadata: ["address": "\(Wording.address(host: configuration.host, port: server.port))"])
            return server
        } catch {
            try? await group.shutdownGracefully()
            if let error = error as? ChatServerError { throw error }
            throw ChatServerError(
                description:
                    "cannot listen on \(Wording.address(host: configuration.host, port: configuration.port)): \(Wording.reason(error))"
            )
        }
    }

    /// Stops accepting, lets every connection take what was accepted for it, closes them all
    /// (forcibly after the grace period) and stops the event loop.
    public func shutdown() async {
        try? await listener.close()
        await metrics?.close()
        let broker = self.broker
        try? await listener.eventLoop.flatSubmit { broker.value.shutDown() }.get()
        try? await group.shutdownGracefully()
    }

    /// How many logins are online right now.
    public func onlineCount() async throws -> Int {
        let broker = self.broker
        return try await listener.eventLoop.submit { broker.value.onlineCount }.get()
    }

    /// How many connections flow control holds back right now.
    public func pausedSenderCount() async throws -> Int {
        let broker = self.broker
        return try await listener.eventLoop.submit {
            broker.value.connections.values.count { $0.lifecycle.isInputPaused }
        }.get()
    }

}

/// The server as a swift-service-lifecycle service: runs until a graceful shutdown (SIGINT or
/// SIGTERM, as the service group is configured) or cancellation, then shuts down cleanly.
public struct ChatService: Service, CustomStringConvertible {
    let configuration: ChatServerConfiguration
    let logger: Logger
    let onListening: @Sendable (SocketAddress) -> Void

    /// What service-lifecycle's debug lines show: not a dump of the fields.
    public var description: String {
        "ChatService(\(Wording.address(host: configuration.host, port: configuration.port)))"
    }

    public init(
        configuration: ChatServerConfiguration,
        logger: Logger,
        onListening: @escaping @Sendable (SocketAddress) -> Void
    ) {
        self.configuration = configuration
        self.logger = logger
        self.onListening = onListening
    }

    public func run() async throws {
        let server = try await ChatServer.start(configuration: configuration, logger: logger)
        onListening(server.localAddress)
        try? await gracefulShutdown()
        await server.shutdown()
        logger.info("stopped")
    }
}
