import NIOCore

public struct ChatServerConfiguration: Sendable {
    public var host: String
    /// 0 picks a free port; `ChatServer.localAddress` tells which.
    public var port: Int
    /// The longest line accepted, without its line ending.
    public var maximumLineBytes: Int
    /// How many bytes may wait to be written to one connection before it is cut off as too slow.
    public var maximumQueueBytes: Int
    /// How long a graceful shutdown waits for connections to take what is queued for them.
    public var shutdownGracePeriod: TimeAmount
    /// How long a client that ended its input, or was refused, has to take what is queued for it.
    public var drainTimeout: TimeAmount
    /// With these, the server speaks TLS only.
    public var tls: TLSFiles?
    /// With this, the server serves Prometheus metrics over HTTP.
    public var metrics: MetricsEndpointConfiguration?

    public init(
        host: String = "127.0.0.1",
        port: Int = 8080,
        maximumLineBytes: Int = 64 * 1024,
        maximumQueueBytes: Int = 1024 * 1024,
        shutdownGracePeriod: TimeAmount = .seconds(3),
        drainTimeout: TimeAmount = .seconds(30),
        tls: TLSFiles? = nil,
        metrics: MetricsEndpointConfiguration? = nil
    ) {
        self.host = host
        self.port = port
        self.maximumLineBytes = maximumLineBytes
        self.maximumQueueBytes = maximumQueueBytes
        self.shutdownGracePeriod = shutdownGracePeriod
        self.drainTimeout = drainTimeout
        self.tls = tls
        self.metrics = metrics
    }
}
