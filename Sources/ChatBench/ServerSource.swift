import NIOCore

/// How to start one server: an executable (a path, or a name looked up in PATH), its
/// arguments, and how long it has to print its `listening on` line.
public struct SpawnCommand: Sendable, Equatable {
    public var executable: String
    public var arguments: [String]
    public var startTimeoutSeconds: Double

    public init(executable: String, arguments: [String], startTimeoutSeconds: Double) {
        self.executable = executable
        self.arguments = arguments
        self.startTimeoutSeconds = startTimeoutSeconds
    }
}

/// Where a run finds its servers.
public enum ServerSource: Sendable {
    /// Servers the user started (their pids, if given, for memory and CPU); memory figures then
    /// accumulate across scenarios.
    case running([ServerAddress], pids: [Int32])
    /// Fresh servers for each run: `count` processes of this command.
    case spawn(SpawnCommand, count: Int)

    /// How many servers a run uses unless it asks for a number of its own.
    public var count: Int {
        switch self {
        case .running(let addresses, _): addresses.count
        case .spawn(_, let count): count
        }
    }

    /// One bench run against these servers, spawning them first when asked (`nodes` of them if
    /// given, each with `extraArguments` after its own) and stopping them after. A spawned
    /// server that ended during the run is in the result's `serverExit`.
    public func run(
        _ configuration: BenchConfiguration, nodes: Int? = nil, extraArguments: [String] = [],
        on group: any EventLoopGroup
    ) throws -> BenchResult {
        var configuration = configuration
        switch self {
        case .running(let addresses, let pids):
            configuration.servers = Array(addresses.prefix(nodes ?? addresses.count))
            configuration.serverPIDs = pids
            return try Bench.run(configuration, on: group)
        case .spawn(var command, let count):
            command.arguments += extraArguments
            var servers: [SpawnedServer] = []
            defer { for server in servers { server.stop() } }
            for _ in 0..<(nodes ?? count) {
                servers.append(
                    try SpawnedServer(
                        executable: command.executable, arguments: command.arguments,
                        timeoutSeconds: command.startTimeoutSeconds))
            }
            configuration.servers = servers.map(\.address)
            configuration.serverPIDs = servers.map(\.pid)
            var result = try Bench.run(configuration, on: group)
            // A server that dies closes its connections a moment before it can be reaped; a run
            // cut short may be seeing that moment.
            let exit = servers.lazy.compactMap {
                result.endReason == nil ? $0.exitDescription : $0.waitForExit(seconds: 1)
            }.first
            if let exit {
                result.serverExited = true
                result.serverExit = exit
                result.endReason = "the server exited (\(exit))"
            }
            return result
        }
    }
}
