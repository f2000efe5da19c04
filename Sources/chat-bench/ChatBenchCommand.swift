import ArgumentParser
import ChatBench
import ChatCommandLine
import NIOPosix
import SystemPackage
import SystemSupport

@main
struct ChatBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat-bench",
        abstract: "Load an a-chat server with many clients and check every delivery.",
        discussion: """
            N clients log in, each messages itself to prove it is registered, and all wait at a \
            barrier. Then client i sends M messages of P bytes to clients i+1 ... i+K (client i on \
            server i mod S). Every delivery is checked for sender, order and content. Exit status: \
            0 when every delivery arrived once, in order and intact; 1 when one did not (or was \
            never sent, or the server cut a client off); 2 when the run could not be done (no \
            server, a login refused); 64 for a bad or contradictory flag. See docs/benchmark.md.
            """,
        version: AChatVersion.current
    )

    @OptionGroup(title: "Servers")
    var server: ServerOptions

    @OptionGroup(title: "Load")
    var load: LoadOptions

    @Option(
        parsing: .unconditional,
        help: """
            Seconds without progress after which a run ends, above 0 and at most \
            \(Int(BenchConfiguration.maximumStallTimeoutSeconds)); what was sent and did not arrive is lost.
            """)
    var stallTimeout = 10.0

    @Flag(
        help: """
            Run the standard scenarios and print one table. Each sets its own clients, senders, \
            messages, recipients, body size, rate, flood, reader rate and slow readers.
            """)
    var scenarios = false

    @Option(help: "With --scenarios: only these scenarios (comma-separated names).")
    var only: String?

    @Option(
        parsing: .unconditional,
        help: "With --scenarios: run each this many times and report the median run (default: 1).")
    var repeats: Int?

    func validate() throws {
        if scenarios {
            // Each scenario sets these; accepting them would suggest they shaped the table.
            if let flag = load.flagScenariosSet {
                throw ValidationError("\(flag) has no effect with --scenarios (each scenario sets its own)")
            }
        } else {
            if only != nil { throw ValidationError("--only goes with --scenarios") }
            if server.compareSpawnServer != nil {
                throw ValidationError("--compare-spawn-server goes with --scenarios")
            }
            if repeats != nil { throw ValidationError("--repeats goes with --scenarios") }
        }
        if let repeats, repeats < 1 { throw ValidationError("--repeats must be at least 1") }
        let chosen = try chosenScenarios()
        if server.clusterUrl != nil && !chosen.contains(where: \.isCluster) {
            throw ValidationError(
                "--cluster-url goes with the cluster scenarios (--scenarios --only cluster)")
        }
        if let nodes = chosen.compactMap(\.nodes).max(), server.spawnServer == nil,
            server.source.count < nodes
        {
            throw ValidationError(
                "the cluster scenarios need \(nodes) servers: give --server \(nodes) times, or use --spawn-server"
            )
        }
        do {
            if scenarios {
                for scenario in chosen { try scenario.configuration(basedOn: baseConfiguration()).validate() }
            } else {
                try baseConfiguration().validate()
            }
        } catch let error as BenchError {
            throw ValidationError(error.description)
        }
    }

    /// The scenarios `--only` names, in the table's order; the standard ones without it.
    func chosenScenarios() throws -> [Scenario] {
        guard scenarios, let only else { return Scenario.standard }
        let names = Set(only.split(separator: ",").map { String($0) })
        if names.isEmpty { throw ValidationError("--only names no scenario") }
        let known = Scenario.all.map(\.name)
        let unknown = names.subtracting(known)
        if !unknown.isEmpty {
            throw ValidationError(
                "unknown scenario \(unknown.sorted().joined(separator: ", ")); known: "
                    + known.joined(separator: ", "))
        }
        return Scenario.all.filter { names.contains($0.name) }
    }

    func baseConfiguration() -> BenchConfiguration {
        var configuration = BenchConfiguration()
        load.apply(to: &configuration)
        configuration.tlsCAFile = server.tlsCA
        configuration.stallTimeoutSeconds = stallTimeout
        return configuration
    }

    func run() throws {
        // Each client is a file descriptor; 10,000 of them need more than the usual soft limit.
        OpenFileLimit.raiseToHardLimit()
        // One thread: see BenchDriver for why.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let passed: Bool
        do {
            passed = scenarios ? try runScenarios(on: group) : try runOnce(on: group)
        } catch {
            try? FileDescriptor.standardError.writeLine("chat-bench: \(error)")
            throw ExitCode(2)
        }
        if !passed { throw ExitCode.failure }
    }

    private func runOnce(on group: MultiThreadedEventLoopGroup) throws -> Bool {
        let result = try server.source.run(baseConfiguration(), on: group)
        writeLine(Report.describe(result))
        return result.passed
    }

    private func runScenarios(on group: MultiThreadedEventLoopGroup) throws -> Bool {
        if let compared = server.comparedSource { return try compareScenarios(with: compared, on: group) }
        let rows = try ScenarioRunner.run(
            try chosenScenarios(), base: baseConfiguration(), server: server.source, repeats: repeats ?? 1,
            clusterArguments: server.clusterArguments, on: group, progress: { writeLine($0) })
        writeLine("")
        writeLine(Report.table(rows))
        if let repeats, repeats > 1 {
            writeLine("each row is the median of \(repeats) runs, each against a fresh server")
        }
        writeLine(ScenarioRunner.summary(rows))
        return rows.allSatisfy(\.result.passed)
    }

    /// The table against two servers, A (--spawn-server) and B (--compare-spawn-server). The
    /// result and exit status are A's; B's failures are noted.
    private func compareScenarios(with compared: ServerSource, on group: MultiThreadedEventLoopGroup) throws
        -> Bool
    {
        for (label, source) in [("A", server.source), ("B", compared)] {
            if case .spawn(let command, let count) = source {
                let instances = count > 1 ? " (\(count) instances)" : ""
                writeLine(
                    "\(label): " + ([command.executable] + command.arguments).joined(separator: " ")
                        + instances)
            }
        }
        let repeats = repeats ?? 1
        let rows = try ScenarioRunner.compare(
            try chosenScenarios(), base: baseConfiguration(), a: server.source, b: compared, repeats: repeats,
            clusterArguments: server.clusterArguments, on: group, progress: { writeLine($0) })
        writeLine("")
        writeLine(Report.comparisonTable(rows))
        writeLine(
            "each figure is the median of \(repeats) run\(repeats == 1 ? "" : "s") against each server, "
                + "run A, B, B, A, A, B, ...; A/B above 1: A has more of it")
        let failedB = rows.filter { $0.b.contains { !$0.passed } }.map(\.name)
        if !failedB.isEmpty { writeLine("B failed in: \(failedB.joined(separator: ", "))") }
        let failedA = rows.filter { $0.a.contains { !$0.passed } }.map(\.name)
        writeLine(failedA.isEmpty ? "result: PASS" : "result: FAIL (\(failedA.joined(separator: ", ")))")
        return failedA.isEmpty
    }
}

/// Unbuffered, so that progress lines reach a pipe (tee, a test) as they happen, not at exit.
private func writeLine(_ text: String) {
    try? FileDescriptor.standardOutput.writeLine(text)
}
