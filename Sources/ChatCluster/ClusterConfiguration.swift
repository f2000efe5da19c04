import Foundation
import NIOCore
import NIOPosix

/// How a node takes part in the cluster. The defaults suit production; tests shorten the times.
public struct ClusterConfiguration: Sendable {
    /// How long a lease lasts after a renewal, by the database's clock. Others free a node's
    /// logins once its lease has expired, at their next heartbeat.
    public var leaseDuration: Duration
    /// How often a node renews its lease and looks for expired ones.
    public var heartbeatInterval: Duration
    /// How long before its lease expires a node that could not renew it gives up and drops its
    /// clients (`ClusterEvent.leaseLost`). It covers the drift between this machine's monotonic
    /// clock and the database's clock, and the time the server takes to drop its clients.
    public var leaseSafetyMargin: Duration
    /// The first wait before reconnecting to a lost database; doubled at each failure up to
    /// `maximumReconnectDelay`.
    public var initialReconnectDelay: Duration
    public var maximumReconnectDelay: Duration
    /// How long to wait for a connection or a query before counting the database as unreachable.
    public var queryTimeout: Duration
    /// Bytes queued for one peer node above which `route` asks the caller to pause the sender
    /// (`RouteResult.queuedPeerBusy`). Counts what is queued here and what is in the database,
    /// not yet taken by the peer.
    public var peerQueueSoftLimit: Int
    /// Bytes above which `route` refuses a delivery (`RouteResult.peerFull`).
    public var peerQueueHardLimit: Int
    /// The largest batch written to the database in one statement.
    public var maximumBatchBytes: Int
    /// The threads the database connections run on.
    public var eventLoopGroup: any EventLoopGroup

    public init(
        leaseDuration: Duration = .seconds(12),
        heartbeatInterval: Duration = .seconds(2),
        leaseSafetyMargin: Duration = .seconds(3),
        initialReconnectDelay: Duration = .milliseconds(100),
        maximumReconnectDelay: Duration = .seconds(2),
        queryTimeout: Duration = .seconds(3),
        peerQueueSoftLimit: Int = 4 * 1024 * 1024,
        peerQueueHardLimit: Int = 16 * 1024 * 1024,
        maximumBatchBytes: Int = 1024 * 1024,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.leaseDuration = leaseDuration
        self.heartbeatInterval = heartbeatInterval
        self.leaseSafetyMargin = leaseSafetyMargin
        self.initialReconnectDelay = initialReconnectDelay
        self.maximumReconnectDelay = maximumReconnectDelay
        self.queryTimeout = queryTimeout
        self.peerQueueSoftLimit = peerQueueSoftLimit
        self.peerQueueHardLimit = peerQueueHardLimit
        self.maximumBatchBytes = maximumBatchBytes
        self.eventLoopGroup = eventLoopGroup
    }

    /// The first problem with these values, in words, or nil.
    func problem() -> String? {
        if heartbeatInterval <= .zero { return "the heartbeat interval must be positive" }
        if leaseSafetyMargin <= .zero { return "the lease safety margin must be positive" }
        if leaseDuration <= heartbeatInterval + leaseSafetyMargin {
            return "the lease (\(leaseDuration)) must outlast a heartbeat interval plus the safety margin"
        }
        if peerQueueSoftLimit <= 0 || peerQueueHardLimit < peerQueueSoftLimit {
            return "the peer queue limits must be positive, the hard one at least the soft one"
        }
        if maximumBatchBytes < 1024 { return "the largest batch must be at least 1 KiB" }
        return nil
    }

    /// `host-pid-random`: unique among the nodes of one machine and across restarts, and it says
    /// where the node runs.
    public static func defaultNodeName() -> String {
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "node"
        let suffix = String(UInt32.random(in: 0...UInt32.max) % 0x10000, radix: 16)
        return "\(host)-\(getpid())-\(suffix)"
    }
}
