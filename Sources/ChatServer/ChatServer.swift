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
    private let brokers: [NIOLoopBound<Broker>]
    private let directory: Directory
    private let metrics: MetricsEndpoint?
    private let cluster: ClusterBridge?
    private let logger: Logger
    /// Where `/metrics` is served, if it is.
    public var metricsAddress: SocketAddress? { metrics?.localAddress }
    /// This server's name in its cluster, if it is in one.
    public var nodeName: String? { cluster?.node.name }

    private init(
        group: MultiThreadedEventLoopGroup,
        listener: any Channel,
        brokers: [NIOLoopBound<Broker>],
        directory: Directory,
        metrics: MetricsEndpoint?,
        cluster: ClusterBridge?,
        logger: Logger
    ) {
        self.group = group
        self.listener = listener
        self.brokers = brokers
        self.directory = directory
        self.metrics = metrics
        self.cluster = cluster
        self.logger = logger
        self.localAddress = listener.localAddress!
    }

    public static func start(
        configuration: ChatServerConfiguration = ChatServerConfiguration(),
        logger: Logger = Logger(label: "a-chat.server")
    ) async throws -> ChatServer {
        let tls = try configuration.tls.map(ServerTLS.init)
        // Each loop has its own broker and the connections accepted onto it; the peers map is
        // shared. With one loop every delivery is a method call on one thread.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.eventLoops)
        let statistics = ServerStatistics(group: group)
        let directory = Directory()
        var brokers: [NIOLoopBound<Broker>] = []
        for (index, loop) in group.makeIterator().enumerated() {
            brokers.append(
                try await loop.submit {
                    NIOLoopBound(
                        Broker(
                            eventLoop: loop, loopIndex: index, directory: directory,
                            statistics: statistics.onLoop(loop), configuration: configuration, logger: logger),
                        eventLoop: loop)
                }.get())
        }
        // In a cluster, nobody is let in before this server has joined it.
        let cluster: ClusterBridge?
        do {
            cluster = try await joinCluster(configuration.cluster, directory: directory, logger: logger)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        // One loop reads its sockets in the order they became readable, which keeps it already.
        let arrivals = brokers.count > 1 ? ArrivalOrder(loops: brokers.map(\.eventLoop)) : nil
        let shared = try await brokers.shared(arrivals: arrivals)
        for broker in brokers {
            try await broker.eventLoop.submit { [brokers] in
                broker.value.meet(brokers, shared: shared, cluster: cluster)
            }.get()
        }
        cluster?.connect(brokers)
        let brokerOfLoop = Dictionary(
            uniqueKeysWithValues: brokers.map { (ObjectIdentifier($0.eventLoop), $0) })
        let admission = Admission(
            maximumConnections: configuration.maximumConnections,
            maximumPerAddress: configuration.maximumConnectionsPerAddress)
        let bootstrap = ServerBootstrap(group: brokers[0].eventLoop, childGroup: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(AcceptBackoff(logger: logger))
                    if let arrivals { try channel.pipeline.syncOperations.addHandler(ArrivalStamp(arrivals)) }
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
                    let broker = brokerOfLoop[ObjectIdentifier(channel.eventLoop)]!.value
                    try tls?.addHandlers(to: channel, statistics: statistics, logger: logger)
                    try channel.pipeline.syncOperations.addHandler(
                        Connection(
                            broker: broker, admission: admission, logger: logger,
                            arrivalTicket: arrivals?.ticket(of: channel)))
                }
            }
        do {
            let listener = try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
            let metrics = try await MetricsEndpoint.start(
                configuration.metrics, statistics: statistics, group: group, logger: logger)
            let server = ChatServer(
                group: group, listener: listener, brokers: brokers, directory: directory, metrics: metrics,
                cluster: cluster, logger: logger)
            var metadata: Logger.Metadata = [
                "address": "\(Wording.address(host: configuration.host, port: server.port))",
                "loops": "\(configuration.eventLoops)",
            ]
            // With `--metrics-port 0` this is the only place the chosen port shows.
            if let metricsPort = server.metricsAddress?.port, let metricsHost = configuration.metrics?.host {
                metadata["metrics"] = "\(Wording.address(host: metricsHost, port: metricsPort))"
            }
            logger.info("listening", metadata: metadata)
            return server
        } catch {
            await Self.separate(brokers)
            await cluster?.leave()
            try? await group.shutdownGracefully()
            if let error = error as? ChatServerError { throw error }
            throw ChatServerError(
                description:
                    "cannot listen on \(Wording.address(host: configuration.host, port: configuration.port)): \(Wording.reason(error))"
            )
        }
    }

    private static func joinCluster(_ settings: ClusterSettings?, directory: Directory, logger: Logger)
        async throws -> ClusterBridge?
    {
        guard let settings else { return nil }
        return try await ClusterBridge.join(settings, directory: directory, logger: logger)
    }

    /// Stops accepting, lets every connection take what was accepted for it, closes them all
    /// (forcibly after the grace period) and stops the event loops.
    public func shutdown() async {
        try? await listener.close()
        await metrics?.close()
        // Every loop stops taking lines before any says goodbye: the mail between loops is then
        // in each loop's task queue ahead of its goodbyes.
        var open = 0
        for broker in brokers {
            open += (try? await broker.eventLoop.submit { broker.value.stopTakingInput() }.get()) ?? 0
        }
        logger.info("shutting down", metadata: ["connections": "\(open)"])
        await withTaskGroup(of: Void.self) { group in
            for broker in brokers {
                group.addTask { try? await broker.eventLoop.flatSubmit { broker.value.shutDown() }.get() }
            }
        }
        await Self.separate(brokers)
        // Frees this server's logins for the others at once.
        await cluster?.leave()
        try? await group.shutdownGracefully()
    }

    /// Undoes `meet`: each broker holds every broker, itself included, and would never be freed.
    private static func separate(_ brokers: [NIOLoopBound<Broker>]) async {
        for broker in brokers {
            try? await broker.eventLoop.submit {
                broker.value.meet([], shared: SharedByLoops(), cluster: nil)
            }.get()
        }
    }

    /// How many logins are online right now.
    public func onlineCount() async throws -> Int {
        directory.count
    }

    /// How many connections flow control holds back right now.
    public func pausedSenderCount() async throws -> Int {
        var paused = 0
        for broker in brokers {
            paused += try await broker.eventLoop.submit {
                broker.value.connections.values.count { $0.lifecycle.isInputPaused }
            }.get()
        }
        return paused
    }

    /// Which event loop (counted from 0) holds the connection logged in as `name`, if one does.
    public func loopIndex(ofLogin name: String) async throws -> Int? {
        for (index, broker) in brokers.enumerated() {
            let holds = try await broker.eventLoop.submit {
                broker.value.connections.values.contains { $0.login.map { String(buffer: $0) } == name }
            }.get()
            if holds { return index }
        }
        return nil
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

extension [NIOLoopBound<Broker>] {
    /// Each broker's budget gate and inbox, read on its loop.
    fileprivate func shared(arrivals: ArrivalOrder?) async throws -> SharedByLoops {
        var shared = SharedByLoops(arrivals: arrivals)
        for broker in self {
            let (gate, inbox) = try await broker.eventLoop.submit {
                (broker.value.budgetGate, broker.value.inbox)
            }.get()
            shared.budgetGates.append(gate)
            shared.inboxes.append(inbox)
        }
        return shared
    }
}
