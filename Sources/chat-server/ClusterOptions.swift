import ArgumentParser
import ChatCluster
import ChatServer
import Foundation

/// Joining a cluster of servers that share one PostgreSQL.
struct ClusterOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Join the cluster whose database this is (also from ACHAT_CLUSTER).",
            valueName: "postgres://user:password@host:port/database"))
    var cluster: String?

    @Option(help: "This server's name in the cluster (default: host-pid-random).")
    var nodeName: String?

    // For tests: the lease and heartbeat, in seconds, shorter than a production cluster's.
    @Option(parsing: .unconditional, help: .hidden)
    var clusterLeaseSeconds: Double?

    @Option(parsing: .unconditional, help: .hidden)
    var clusterHeartbeatSeconds: Double?

    // For tests: how long a database statement may take (3 s), longer on a machine that runs
    // every test at once, where a node's join once ran out of it.
    @Option(parsing: .unconditional, help: .hidden)
    var clusterQueryTimeoutSeconds: Double?

    // For tests: how long a login found held on another server waits for its release (2 s),
    // longer where the release's round trip to the database can take seconds.
    @Option(parsing: .unconditional, help: .hidden)
    var clusterReleaseWaitSeconds: Double?

    /// The database URL, from the flag or the environment.
    var url: String? { cluster ?? ProcessInfo.processInfo.environment["ACHAT_CLUSTER"] }

    func validate() throws {
        if nodeName != nil && url == nil { throw ValidationError("--node-name needs --cluster") }
        for (flag, value) in [
            ("--cluster-lease-seconds", clusterLeaseSeconds),
            ("--cluster-heartbeat-seconds", clusterHeartbeatSeconds),
            ("--cluster-query-timeout-seconds", clusterQueryTimeoutSeconds),
            ("--cluster-release-wait-seconds", clusterReleaseWaitSeconds),
        ] {
            if let value { try TimeoutOption.validate(value, flag) }
        }
    }

    func apply(to configuration: inout ChatServerConfiguration) {
        guard let url else { return }
        var node = ClusterConfiguration()
        if let clusterLeaseSeconds { node.leaseDuration = .milliseconds(Int64(clusterLeaseSeconds * 1000)) }
        if let clusterHeartbeatSeconds {
            node.heartbeatInterval = .milliseconds(Int64(clusterHeartbeatSeconds * 1000))
        }
        if let clusterQueryTimeoutSeconds {
            node.queryTimeout = .milliseconds(Int64(clusterQueryTimeoutSeconds * 1000))
        }
        if clusterLeaseSeconds != nil || clusterHeartbeatSeconds != nil {
            // Keep the margin in proportion, so short test leases stay valid.
            node.leaseSafetyMargin = min(node.leaseSafetyMargin, node.leaseDuration / 4)
        }
        var settings = ClusterSettings(url: url, nodeName: nodeName, node: node)
        if let clusterReleaseWaitSeconds {
            settings.releaseWait = TimeoutOption.amount(clusterReleaseWaitSeconds)
        }
        configuration.cluster = settings
    }
}
