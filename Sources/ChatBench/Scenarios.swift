import NIOCore

/// The standard set: one row per target of the performance issue.
public struct Scenario: Sendable {
    public var name: String
    public var clients: Int
    public var messages: Int
    public var recipients: Int
    public var payloadBytes = 32
    public var rate: Double?
    public var slowReaders = 0
    public var senders: Int?
    public var floods = false
    public var readerRate: Double?

    public static let standard: [Scenario] = [
        // Throughput against the reference figures.
        Scenario(name: "100x2000x1", clients: 100, messages: 2000, recipients: 1),
        Scenario(name: "100x2000x10", clients: 100, messages: 2000, recipients: 10),
        Scenario(name: "2000x50x2", clients: 2000, messages: 50, recipients: 2),
        // Latency at a steady 100,000 deliveries/s for five seconds.
        Scenario(name: "latency-100k/s", clients: 100, messages: 500, recipients: 10, rate: 100),
        // Memory per idle logged-in connection: log in, then nothing.
        Scenario(name: "idle-5000", clients: 5000, messages: 0, recipients: 1),
        Scenario(name: "10000-clients", clients: 10_000, messages: 20, recipients: 2),
        // One reader that never reads among senders of 1 KB messages addressed to it too.
        Scenario(
            name: "slow-reader", clients: 20, messages: 10_000, recipients: 1, payloadBytes: 1024,
            slowReaders: 1),
        // Flat scaling: 4,000,000 deliveries spread over ever more clients. Enough for each of
        // 10,000 clients to send 200 messages: with a quarter of that, the run lasts a few tenths
        // of a second and measures little but one burst of 10,000 first writes.
        Scenario(name: "flat-100", clients: 100, messages: 20_000, recipients: 2),
        Scenario(name: "flat-1000", clients: 1000, messages: 2000, recipients: 2),
        Scenario(name: "flat-10000", clients: 10_000, messages: 200, recipients: 2),
        // One sender floods 30,000 lines of 1 KB, without a window, at one reader that reads
        // 6 MB/s: the server must slow the sender down, not cut the reader off.
        Scenario(
            name: "flood-throttled", clients: 2, messages: 30_000, recipients: 1, payloadBytes: 1024,
            senders: 1, floods: true, readerRate: 6_000_000),
    ]

    public func configuration(basedOn base: BenchConfiguration) -> BenchConfiguration {
        var configuration = base
        configuration.clients = clients
        configuration.messages = messages
        configuration.recipients = recipients
        configuration.payloadBytes = payloadBytes
        configuration.rate = rate
        configuration.slowReaders = slowReaders
        configuration.senders = senders
        configuration.floods = floods
        configuration.readerRate = readerRate
        configuration.tag = ClientNames.freshTag()
        return configuration
    }
}

/// Where the scenarios find their server.
public enum ServerSource {
    /// One server the user started; memory figures then accumulate across scenarios.
    case running
    /// A fresh server per scenario: this executable (a path, or a name looked up in PATH) with
    /// these arguments, given this long to print its `listening on` line.
    case spawn(executable: String, arguments: [String], startTimeoutSeconds: Double)

    /// One bench run against this server, spawning it first when asked and stopping it after.
    /// A spawned server that ended during the run is in the result's `serverExit`.
    public func run(_ configuration: BenchConfiguration, on group: any EventLoopGroup) throws -> BenchResult {
        guard case .spawn(let executable, let arguments, let startTimeout) = self else {
            return try Bench.run(configuration, on: group)
        }
        let server = try SpawnedServer(
            executable: executable, arguments: arguments, timeoutSeconds: startTimeout)
        defer { server.stop() }
        var configuration = configuration
        configuration.host = server.host
        configuration.port = server.port
        configuration.serverPID = server.pid
        var result = try Bench.run(configuration, on: group)
        // A server that dies closes its connections a moment before it can be reaped; a run cut
        // short may be seeing that moment.
        let exit = result.endReason == nil ? server.exitDescription : server.waitForExit(seconds: 1)
        if let exit {
            result.serverExited = true
            result.serverExit = exit
            result.endReason = "the server exited (\(exit))"
        }
        return result
    }
}

public enum ScenarioRunner {
    /// Runs `scenarios` one after another, each `repeats` times, and returns for each the run
    /// with the median throughput (for a run without messages, the median memory per
    /// connection): on a machine shared with other work one run can be unlucky. `progress` gets
    /// a line about each run as it ends.
    public static func run(
        _ scenarios: [Scenario],
        base: BenchConfiguration,
        server: ServerSource,
        repeats: Int = 1,
        on group: any EventLoopGroup,
        progress: (String) -> Void
    ) throws -> [(name: String, result: BenchResult)] {
        var rows: [(name: String, result: BenchResult)] = []
        for scenario in scenarios {
            var results: [BenchResult] = []
            for _ in 0..<Swift.max(1, repeats) {
                results.append(
                    try runOnce(scenario, base: base, server: server, on: group, progress: progress))
            }
            results.sort {
                scenario.messages == 0
                    ? ($0.idleKiBPerConnection ?? 0) < ($1.idleKiBPerConnection ?? 0)
                    : $0.deliveriesPerSecond < $1.deliveriesPerSecond
            }
            // A failed run is never hidden behind a median.
            let chosen = results.first { !$0.passed } ?? results[results.count / 2]
            rows.append((scenario.name, chosen))
        }
        return rows
    }

    private static func runOnce(
        _ scenario: Scenario,
        base: BenchConfiguration,
        server: ServerSource,
        on group: any EventLoopGroup,
        progress: (String) -> Void
    ) throws -> BenchResult {
        let result = try server.run(scenario.configuration(basedOn: base), on: group)
        var line =
            "\(scenario.name): \(Report.format(result.deliveriesPerSecond, 0)) deliveries/s, "
            + "lost \(result.lost), "
            + (result.cutOff > 0 ? "cut off \(result.cutOff), " : "") + "out-of-order \(result.outOfOrder)"
        if result.notSent > 0 { line += ", not sent \(result.notSent)" }
        if let endReason = result.endReason { line += "; \(endReason)" }
        progress(line)
        return result
    }

    /// The lines under the table: how far apart the flat-scaling rows are, and the CPU the
    /// bench took next to the server's.
    public static func summary(_ rows: [(name: String, result: BenchResult)]) -> String {
        var lines: [String] = []
        let flat = rows.filter { $0.name.hasPrefix("flat-") }.map(\.result.deliveriesPerSecond)
        if flat.count > 1, let low = flat.min(), let high = flat.max(), low > 0 {
            lines.append("flat scaling: fastest/slowest = \(Report.format(high / low, 2))")
        }
        let bench = rows.map(\.result.benchCPUSeconds).reduce(0, +)
        let servers = rows.compactMap(\.result.serverCPUSeconds)
        if !servers.isEmpty {
            let server = servers.reduce(0, +)
            lines.append(
                "cpu over all message phases: bench \(Report.format(bench, 2)) s, server \(Report.format(server, 2)) s"
            )
        }
        let failed = rows.filter { !$0.result.passed }.map(\.name)
        lines.append(failed.isEmpty ? "result: PASS" : "result: FAIL (\(failed.joined(separator: ", ")))")
        return lines.joined(separator: "\n")
    }
}
