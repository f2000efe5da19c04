import ChatProtocol
import NIOCore
import SystemSupport

public struct ChatServerConfiguration: Sendable {
    /// Event loops (threads) the connections are spread over. One is fastest per core on a
    /// small machine; more let a big one use its cores.
    public var eventLoops: Int
    /// The cores this process may run on: its CPU quota and its affinity mask (`taskset`).
    public static let usableCores = UsableCores.count(machineCount: System.coreCount)
    public var host: String
    /// 0 picks a free port; `ChatServer.localAddress` tells which.
    public var port: Int
    /// The longest line accepted, without its line ending.
    public var maximumLineBytes: Int
    /// The absolute bound on what may wait to be written to one connection (its outbox plus what
    /// its channel holds). Flow control keeps queues far below it; a queue that would pass it is
    /// cut off all the same.
    public var maximumQueueBytes: Int
    /// Above this, a connection's queue is congested: the server stops reading from the senders
    /// that feed it (and from the connection itself) until the queue is back under
    /// `lowWaterQueueBytes`.
    public var softQueueBytes: Int
    public var lowWaterQueueBytes: Int
    /// How long a congested connection may take nothing from its queue before it is cut off.
    public var stallTimeout: TimeAmount
    /// What all connections' queues together may hold before the server holds back the senders
    /// that feed the fullest queues and cuts off stalled readers early.
    public var queueBudgetBytes: Int
    /// How long a connection may take to send its login.
    public var loginTimeout: TimeAmount
    /// Connections served at once; one more gets a notice and is closed. Keep it below the
    /// descriptor limit, so that refusing still has a descriptor to do it with.
    public var maximumConnections: Int
    /// Connections served at once from one address; nil for no such cap.
    public var maximumConnectionsPerAddress: Int?
    /// With this, the server joins a cluster of servers that share one PostgreSQL and behave as one.
    public var cluster: ClusterSettings?
    /// How long a graceful shutdown waits for connections to take what is queued for them.
    public var shutdownGracePeriod: TimeAmount
    /// How long a client that ended its input, or was refused, has to take what is queued for it.
    public var drainTimeout: TimeAmount
    /// With these, the server speaks TLS only.
    public var tls: TLSFiles?
    /// With this, the server serves Prometheus metrics over HTTP.
    public var metrics: MetricsEndpointConfiguration?

    public init(
        eventLoops: Int = Self.usableCores,
        host: String = "127.0.0.1",
        port: Int = 8080,
        maximumLineBytes: Int = LineFramer.defaultMaximumLineBytes,
        maximumQueueBytes: Int = 1024 * 1024,
        softQueueBytes: Int = 256 * 1024,
        lowWaterQueueBytes: Int? = nil,
        stallTimeout: TimeAmount = .seconds(10),
        queueBudgetBytes: Int = 128 * 1024 * 1024,
        loginTimeout: TimeAmount = .seconds(30),
        maximumConnections: Int = .max,
        maximumConnectionsPerAddress: Int? = nil,
        shutdownGracePeriod: TimeAmount = .seconds(3),
        drainTimeout: TimeAmount = .seconds(30),
        tls: TLSFiles? = nil,
        metrics: MetricsEndpointConfiguration? = nil
    ) {
        self.eventLoops = eventLoops
        self.host = host
        self.port = port
        self.maximumLineBytes = maximumLineBytes
        self.maximumQueueBytes = maximumQueueBytes
        self.softQueueBytes = softQueueBytes
        self.lowWaterQueueBytes = lowWaterQueueBytes ?? softQueueBytes / 2
        self.stallTimeout = stallTimeout
        self.queueBudgetBytes = queueBudgetBytes
        self.loginTimeout = loginTimeout
        self.maximumConnections = maximumConnections
        self.maximumConnectionsPerAddress = maximumConnectionsPerAddress
        self.shutdownGracePeriod = shutdownGracePeriod
        self.drainTimeout = drainTimeout
        self.tls = tls
        self.metrics = metrics
    }
}
