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
            barrier. Then client i sends M messages of P bytes to clients i+1 ... i+K. Every \
            delivery is checked for sender, order and content. Exit status: 0 when every delivery \
            arrived once, in order and intact; 1 when one did not (or was never sent); 2 when the \
            run could not be done (no server, a login refused); 64 for a bad or contradictory flag.
            """,
        version: AChatVersion.current
    )

    @OptionGroup(title: "Server")
    var address: ServerAddressOptions

    @Option(help: "Clients in the ring (default: 100).")
    var clients: Int?

    @Option(
        help: "Messages each client sends, at most \(BenchConfiguration.maximumMessages) (default: 2000).")
    var messages: Int?

    @Option(
        help: """
            Body size in bytes, \(MessageFormat.headerBytes) to \(BenchConfiguration.maximumLineBytes); the \
            whole message line must fit in \(BenchConfiguration.maximumLineBytes) (default: 32).
            """)
    var payloadBytes: Int?

    @Option(help: "Each client sends to its next K clients in the ring (default: 1).")
    var recipients: Int?

    @Option(
        help: """
            Messages per second per client, above 0 and at most \(Int(BenchConfiguration.maximumRate)); \
            default: as fast as the window allows.
            """)
    var rate: Double?

    @Option(
        help: """
            Messages a client may have out that not all its recipients have received yet \
            (default: about 64 KiB per recipient; not with --rate).
            """)
    var window: Int?

    @Option(help: "Only the first N clients send; all of them receive (default: all send).")
    var senders: Int?

    @Flag(
        help: """
            Send without a window: every sender writes all its messages at once, as a client that \
            waits for no one would (not with --rate or --window).
            """)
    var flood = false

    @Option(
        help: """
            Bytes per second each client reads at most; it stops reading from its socket until a \
            token bucket allows more, so the server sees a slow reader (default: as fast as it can).
            """)
    var readerRate: Double?

    @Option(help: "Clients that log in and never read; every message is addressed to them too (default: 0).")
    var slowReaders: Int?

    @Option(help: "The server's pid, to report its memory and CPU time and notice it exiting.")
    var serverPid: Int32?

    @Option(
        help: """
            Seconds without progress after which a run ends, above 0 and at most \
            \(Int(BenchConfiguration.maximumStallTimeoutSeconds)); what was sent and did not arrive is lost.
            """)
    var stallTimeout = 10.0

    @Flag(
        help: """
            Run the standard scenarios and print one table. Each sets its own clients, messages, \
            recipients, body size, rate and slow readers.
            """)
    var scenarios = false

    @Option(help: "With --scenarios: only these scenarios (comma-separated names).")
    var only: String?

    @Option(help: "With --scenarios: run each this many times and report the median run (default: 1).")
    var repeats: Int?

    @Option(
        help: ArgumentHelp(
            "Start this server (a path, or a name looked up in PATH) for each scenario (or for the single run) and stop it after.",
            discussion: """
                It must print 'listening on HOST:PORT' on stdout within --spawn-timeout seconds; the \
                host, port and pid come from it. It is stopped with SIGTERM, and SIGKILL if it has \
                not exited 10 seconds later (1 second if it never said it listens).
                """
        )
    )
    var spawnServer: String?

    @Option(
        parsing: .unconditionalSingleValue,
        help: """
            An argument for the spawned server (repeat it). Given once, it replaces all the defaults \
            (--port 0 --log-level warning): include --port 0 yourself.
            """
    )
    var spawnArg: [String] = []

    @Option(help: "With --spawn-server: seconds to wait for its 'listening on' line (default: 30).")
    var spawnTimeout: Double?

    func validate() throws {
        try address.validatePort(in: 1...65535)
        if serverPid != nil && spawnServer != nil {
            throw ValidationError("--server-pid and --spawn-server exclude each other")
        }
        if scenarios {
            // Each scenario overrides these; accepting them would suggest they shaped the table.
            let ignored: [(String, Bool)] = [
                ("--clients", clients != nil), ("--messages", messages != nil),
                ("--payload-bytes", payloadBytes != nil), ("--recipients", recipients != nil),
                ("--rate", rate != nil), ("--slow-readers", slowReaders != nil),
                ("--senders", senders != nil), ("--flood", flood), ("--reader-rate", readerRate != nil),
            ]
            if let (flag, _) = ignored.first(where: \.1) {
                throw ValidationError("\(flag) has no effect with --scenarios (each scenario sets its own)")
            }
        } else {
            if only != nil { throw ValidationError("--only goes with --scenarios") }
            if repeats != nil { throw ValidationError("--repeats goes with --scenarios") }
        }
        if spawnServer != nil {
            if address.host != nil || address.port != nil {
                throw ValidationError(
                    "--\(address.host != nil ? "host" : "port") has no effect with --spawn-server "
                        + "(the server's 'listening on' line gives it)")
            }
        } else {
            if !spawnArg.isEmpty { throw ValidationError("--spawn-arg goes with --spawn-server") }
            if spawnTimeout != nil { throw ValidationError("--spawn-timeout goes with --spawn-server") }
        }
        if rate != nil && window != nil {
            throw ValidationError("--window has no effect with --rate (paced clients send on the clock)")
        }
        if flood && (rate != nil || window != nil) {
            throw ValidationError(
                "--flood sends without a window or a rate: not with --\(rate != nil ? "rate" : "window")")
        }
        if let repeats, repeats < 1 { throw ValidationError("--repeats must be at least 1") }
        if let spawnTimeout, !(spawnTimeout > 0 && spawnTimeout <= 3600) {
            throw ValidationError("--spawn-timeout must be above 0 and at most 3600 seconds")
        }
        if let serverPid {
            // kill(0, 0) and kill(-1, 0) succeed: they address a process group, not a process.
            if serverPid < 1 { throw ValidationError("--server-pid must be a positive pid") }
            if !ProcessProbe(pid: serverPid).isAlive {
                throw ValidationError("--server-pid \(serverPid): no such process")
            }
        }
        let chosen = try chosenScenarios()
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

    /// The scenarios `--only` names, in the standard order; all of them without it.
    func chosenScenarios() throws -> [Scenario] {
        guard let only else { return Scenario.standard }
        let names = Set(only.split(separator: ",").map { String($0) })
        if names.isEmpty { throw ValidationError("--only names no scenario") }
        let known = Scenario.standard.map(\.name)
        let unknown = names.subtracting(known)
        if !unknown.isEmpty {
            throw ValidationError(
                "unknown scenario \(unknown.sorted().joined(separator: ", ")); known: "
                    + known.joined(separator: ", "))
        }
        return Scenario.standard.filter { names.contains($0.name) }
    }

    func baseConfiguration() -> BenchConfiguration {
        var configuration = BenchConfiguration()
        configuration.host = address.resolvedHost
        configuration.port = address.resolvedPort
        if let clients { configuration.clients = clients }
        if let messages { configuration.messages = messages }
        if let payloadBytes { configuration.payloadBytes = payloadBytes }
        if let recipients { configuration.recipients = recipients }
        configuration.rate = rate
        configuration.window = window
        if let slowReaders { configuration.slowReaders = slowReaders }
        configuration.senders = senders
        configuration.floods = flood
        configuration.readerRate = readerRate
        configuration.serverPID = serverPid
        configuration.stallTimeoutSeconds = stallTimeout
        return configuration
    }

    var serverSource: ServerSource {
        guard let spawnServer else { return .running }
        return .spawn(
            executable: spawnServer,
            arguments: spawnArg.isEmpty ? ["--port", "0", "--log-level", "warning"] : spawnArg,
            startTimeoutSeconds: spawnTimeout ?? SpawnedServer.defaultStartTimeoutSeconds)
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
        let result = try serverSource.run(baseConfiguration(), on: group)
        writeLine(Report.describe(result))
        return result.passed
    }

    private func runScenarios(on group: MultiThreadedEventLoopGroup) throws -> Bool {
        let rows = try ScenarioRunner.run(
            try chosenScenarios(), base: baseConfiguration(), server: serverSource, repeats: repeats ?? 1,
            on: group, progress: { writeLine($0) })
        writeLine("")
        writeLine(Report.table(rows))
        if let repeats, repeats > 1 {
            writeLine("each row is the median of \(repeats) runs, each against a fresh server")
        }
        writeLine(ScenarioRunner.summary(rows))
        return rows.allSatisfy(\.result.passed)
    }
}

/// Unbuffered, so that progress lines reach a pipe (tee, a test) as they happen, not at exit.
private func writeLine(_ text: String) {
    try? FileDescriptor.standardOutput.writeLine(text)
}
