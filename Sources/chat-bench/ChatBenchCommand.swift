import ArgumentParser
import ChatBench
import ChatClient
import NIOPosix

@main
struct ChatBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat-bench",
        abstract: "Load an a-chat server with many clients and check every delivery.",
        discussion: """
            N clients log in, each messages itself to prove it is registered, and all wait at a \
            barrier. Then client i sends M messages of P bytes to clients i+1 ... i+K. Every \
            delivery is checked for sender, order and content. Exit status: 0 when every delivery \
            arrived once, in order and intact; 1 when one did not; 2 when the run could not be done \
            (no server, a login refused).
            """
    )

    @Option(help: "Server address.")
    var host = "127.0.0.1"

    @Option(help: "Server port.")
    var port = 8080

    @Option(help: "Clients in the ring.")
    var clients = 100

    @Option(help: "Messages each client sends.")
    var messages = 2000

    @Option(help: "Body size in bytes (at least \(MessageFormat.headerBytes)).")
    var payloadBytes = 32

    @Option(help: "Each client sends to its next K clients in the ring.")
    var recipients = 1

    @Option(help: "Messages per second per client; default: as fast as the window allows.")
    var rate: Double?

    @Option(help: "Messages a client may have out that not all its recipients have received yet.")
    var window: Int?

    @Option(help: "Clients that log in and never read; every message is addressed to them too.")
    var slowReaders = 0

    @Option(help: "The server's pid, to report its memory and CPU time.")
    var serverPid: Int32?

    @Option(help: "Seconds without progress after which a run ends and what is missing counts as lost.")
    var stallTimeout = 10.0

    @Flag(help: "Run the standard scenarios and print one table.")
    var scenarios = false

    @Option(help: "With --scenarios: only these scenarios (comma-separated names).")
    var only: String?

    @Option(help: "With --scenarios: run each this many times and report the median run.")
    var repeats = 1

    @Option(
        help: ArgumentHelp(
            "Start this server executable for each scenario (or for the single run) and stop it after.",
            discussion:
                "It must print 'listening on HOST:PORT' on stdout; --host, --port and --server-pid are then taken from it."
        )
    )
    var spawnServer: String?

    @Option(
        parsing: .unconditionalSingleValue,
        help: "An argument for the spawned server (repeat it); default: --port 0 --log-level warning."
    )
    var spawnArg: [String] = []

    func validate() throws {
        if serverPid != nil && spawnServer != nil {
            throw ValidationError("--server-pid and --spawn-server exclude each other")
        }
        if only != nil && !scenarios { throw ValidationError("--only goes with --scenarios") }
        if repeats < 1 { throw ValidationError("--repeats must be at least 1") }
        do {
            try baseConfiguration().validate()
        } catch let error as BenchError {
            throw ValidationError(error.description)
        }
    }

    func baseConfiguration() -> BenchConfiguration {
        var configuration = BenchConfiguration()
        configuration.host = host
        configuration.port = port
        configuration.clients = clients
        configuration.messages = messages
        configuration.payloadBytes = payloadBytes
        configuration.recipients = recipients
        configuration.rate = rate
        configuration.window = window
        configuration.slowReaders = slowReaders
        configuration.serverPID = serverPid
        configuration.stallTimeoutSeconds = stallTimeout
        return configuration
    }

    var serverSource: ServerSource {
        guard let spawnServer else { return .running }
        return .spawn(
            executable: spawnServer,
            arguments: spawnArg.isEmpty ? ["--port", "0", "--log-level", "warning"] : spawnArg)
    }

    func run() throws {
        Bench.raiseOpenFileLimit()
        // One thread: see BenchDriver for why.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let passed: Bool
        do {
            passed = scenarios ? try runScenarios(on: group) : try runOnce(on: group)
        } catch {
            try? OutputStream.standardError.writeLine("chat-bench: \(error)")
            throw ExitCode(2)
        }
        if !passed { throw ExitCode.failure }
    }

    private func runOnce(on group: MultiThreadedEventLoopGroup) throws -> Bool {
        let (result, serverExit) = try serverSource.run(baseConfiguration(), on: group)
        writeLine(Report.describe(result))
        if let serverExit { writeLine("the server exited during the run (\(serverExit))") }
        return result.passed
    }

    private func runScenarios(on group: MultiThreadedEventLoopGroup) throws -> Bool {
        var chosen = Scenario.standard
        if let only {
            let names = Set(only.split(separator: ",").map { String($0) })
            let unknown = names.subtracting(chosen.map(\.name))
            if !unknown.isEmpty {
                throw BenchError(
                    description:
                        "unknown scenario \(unknown.sorted().joined(separator: ", ")); known: "
                        + chosen.map(\.name).joined(separator: ", "))
            }
            chosen = chosen.filter { names.contains($0.name) }
        }
        let rows = try ScenarioRunner.run(
            chosen, base: baseConfiguration(), server: serverSource, repeats: repeats, on: group,
            progress: { writeLine($0) })
        writeLine("")
        writeLine(Report.table(rows))
        if repeats > 1 { writeLine("each row is the median of \(repeats) runs, each against a fresh server") }
        writeLine(ScenarioRunner.summary(rows))
        return rows.allSatisfy(\.result.passed)
    }
}

/// Unbuffered, so that progress lines reach a pipe (tee, a test) as they happen, not at exit.
private func writeLine(_ text: String) {
    try? OutputStream.standardOutput.writeLine(text)
}
