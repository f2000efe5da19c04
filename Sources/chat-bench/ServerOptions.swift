import ArgumentParser
import ChatBench
import ChatCommandLine
import SystemSupport

/// Which servers a run loads: one or several the user started, or ones the bench spawns.
struct ServerOptions: ParsableArguments {
    @OptionGroup(title: "Server")
    var address: ServerAddressOptions

    @Option(
        name: .customLong("server"),
        help: """
            HOST:PORT of a server; repeat it for several, and client i connects to server i mod N \
            (not with --host or --port).
            """)
    var servers: [String] = []

    @Option(
        name: .customLong("server-pid"), parsing: .unconditionalSingleValue,
        help: "A server's pid, to report memory and CPU time (added up over all given) and notice it exiting."
    )
    var serverPids: [Int32] = []

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

    @Option(
        parsing: .unconditional,
        help: "With --spawn-server: seconds to wait for its 'listening on' line (default: 30).")
    var spawnTimeout: Double?

    @Option(
        parsing: .unconditional,
        help: """
            With --spawn-server: start this many instances, 1 to \(Self.maximumServers); client i connects \
            to instance i mod N (default: 1).
            """)
    var spawnCount: Int?

    @Option(
        help: """
            With --spawn-server and the cluster scenarios: their two nodes are started with \
            '--cluster URL' after the spawn arguments (postgres://USER:PASSWORD@HOST:PORT/DB).
            """)
    var clusterUrl: String?

    @Option(
        help: ArgumentHelp(
            "With --scenarios and --spawn-server: run the table against this server too (B, beside A from --spawn-server).",
            discussion: """
                Each scenario runs A, B, B, A, A, B, ... (--repeats times each); each figure is the median over \
                a server's runs, with the ratio A/B. It is started as --spawn-server is, with \
                --compare-spawn-arg, --spawn-count and --spawn-timeout.
                """))
    var compareSpawnServer: String?

    @Option(
        parsing: .unconditionalSingleValue,
        help: """
            An argument for the compared server (repeat it). Given once, it replaces all the defaults \
            (--port 0 --log-level warning).
            """)
    var compareSpawnArg: [String] = []

    @Option(
        name: .customLong("tls-ca"),
        help: """
            Connect with TLS, trusting the CA certificate in this PEM file; the server's certificate \
            must name the host (or IP address) the bench connects to.
            """)
    var tlsCA: String?

    static let maximumServers = 64
    static let defaultSpawnArguments = ["--port", "0", "--log-level", "warning"]

    func validate() throws {
        try address.validatePort(in: 1...65535)
        if !servers.isEmpty && (address.host != nil || address.port != nil) {
            throw ValidationError(
                "--server and --\(address.host != nil ? "host" : "port") exclude each other "
                    + "(give every server as --server HOST:PORT)")
        }
        for text in servers where ServerAddress(text) == nil {
            throw ValidationError("--server \(text): not HOST:PORT with a port of 1 to 65535")
        }
        if servers.count > Self.maximumServers {
            throw ValidationError("--server is given at most \(Self.maximumServers) times")
        }
        if spawnServer != nil {
            if !serverPids.isEmpty {
                throw ValidationError("--server-pid and --spawn-server exclude each other")
            }
            if address.host != nil || address.port != nil || !servers.isEmpty {
                let flag = !servers.isEmpty ? "server" : address.host != nil ? "host" : "port"
                throw ValidationError(
                    "--\(flag) has no effect with --spawn-server (the server's 'listening on' line gives it)")
            }
        } else {
            if !spawnArg.isEmpty { throw ValidationError("--spawn-arg goes with --spawn-server") }
            if spawnTimeout != nil { throw ValidationError("--spawn-timeout goes with --spawn-server") }
            if spawnCount != nil { throw ValidationError("--spawn-count goes with --spawn-server") }
            if clusterUrl != nil { throw ValidationError("--cluster-url goes with --spawn-server") }
            if compareSpawnServer != nil {
                throw ValidationError(
                    "--compare-spawn-server goes with --spawn-server (A is spawned as B is)")
            }
        }
        if compareSpawnServer == nil && !compareSpawnArg.isEmpty {
            throw ValidationError("--compare-spawn-arg goes with --compare-spawn-server")
        }
        if let spawnTimeout, !(spawnTimeout > 0 && spawnTimeout <= 3600) {
            throw ValidationError("--spawn-timeout must be above 0 and at most 3600 seconds")
        }
        if let spawnCount, !(1...Self.maximumServers).contains(spawnCount) {
            throw ValidationError("--spawn-count must be between 1 and \(Self.maximumServers)")
        }
        for pid in serverPids {
            // kill(0, 0) and kill(-1, 0) succeed: they address a process group, not a process.
            if pid < 1 { throw ValidationError("--server-pid must be a positive pid") }
            if !ProcessProbe(pid: pid).isAlive {
                throw ValidationError("--server-pid \(pid): no such process")
            }
        }
    }

    /// The servers a run loads.
    var source: ServerSource {
        guard let spawnServer else {
            let addresses =
                servers.isEmpty
                ? [ServerAddress(host: address.resolvedHost, port: address.resolvedPort)]
                : servers.compactMap(ServerAddress.init)
            return .running(addresses, pids: serverPids)
        }
        let command = SpawnCommand(
            executable: spawnServer,
            arguments: spawnArg.isEmpty ? Self.defaultSpawnArguments : spawnArg,
            startTimeoutSeconds: spawnTimeout ?? SpawnedServer.defaultStartTimeoutSeconds)
        return .spawn(command, count: spawnCount ?? 1)
    }

    /// The server to compare with (B), when there is one.
    var comparedSource: ServerSource? {
        guard let compareSpawnServer else { return nil }
        let command = SpawnCommand(
            executable: compareSpawnServer,
            arguments: compareSpawnArg.isEmpty ? Self.defaultSpawnArguments : compareSpawnArg,
            startTimeoutSeconds: spawnTimeout ?? SpawnedServer.defaultStartTimeoutSeconds)
        return .spawn(command, count: spawnCount ?? 1)
    }

    /// What the cluster scenarios' nodes get after their spawn arguments.
    var clusterArguments: [String] { clusterUrl.map { ["--cluster", $0] } ?? [] }
}
