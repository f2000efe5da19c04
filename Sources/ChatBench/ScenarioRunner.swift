import NIOCore

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
        clusterArguments: [String] = [],
        on group: any EventLoopGroup,
        progress: (String) -> Void
    ) throws -> [(name: String, result: BenchResult)] {
        var rows: [(name: String, result: BenchResult)] = []
        for scenario in scenarios {
            var results: [BenchResult] = []
            for _ in 0..<Swift.max(1, repeats) {
                results.append(
                    try runOnce(
                        scenario, base: base, server: server, clusterArguments: clusterArguments, on: group,
                        progress: { progress("\(scenario.name): " + $0) }))
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

    /// One scenario's runs against two servers, A and B.
    public struct Comparison: Sendable {
        public var name: String
        public var a: [BenchResult] = []
        public var b: [BenchResult] = []
    }

    /// Runs each scenario `repeats` times against A and as often against B, in the order A, B,
    /// B, A, A, B, ..., so that whatever else the machine does at the time falls on both alike,
    /// and so does going first in a pair: in the order A, B, A, B, the same server against
    /// itself came out 0.89 at `10000-clients` (`--repeats 5`), and two builds 0.91 to 0.92
    /// whichever went first.
    public static func compare(
        _ scenarios: [Scenario],
        base: BenchConfiguration,
        a: ServerSource,
        b: ServerSource,
        repeats: Int = 1,
        clusterArguments: [String] = [],
        on group: any EventLoopGroup,
        progress: (String) -> Void
    ) throws -> [Comparison] {
        try scenarios.map { scenario in
            var row = Comparison(name: scenario.name)
            for round in 0..<Swift.max(1, repeats) {
                let pair = [("A", a), ("B", b)]
                for (label, server) in round.isMultiple(of: 2) ? pair : pair.reversed() {
                    let result = try runOnce(
                        scenario, base: base, server: server, clusterArguments: clusterArguments, on: group,
                        progress: { progress("\(scenario.name) \(label): " + $0) })
                    if label == "A" { row.a.append(result) } else { row.b.append(result) }
                }
            }
            return row
        }
    }

    private static func runOnce(
        _ scenario: Scenario,
        base: BenchConfiguration,
        server: ServerSource,
        clusterArguments: [String],
        on group: any EventLoopGroup,
        progress: (String) -> Void
    ) throws -> BenchResult {
        let result = try server.run(
            scenario.configuration(basedOn: base), nodes: scenario.nodes,
            extraArguments: scenario.isCluster ? clusterArguments : [], on: group)
        var line =
            "\(Report.format(result.deliveriesPerSecond, 0)) deliveries/s, "
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
