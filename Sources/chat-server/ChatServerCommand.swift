import ArgumentParser
import ChatCommandLine
import ChatProtocol
import ChatServer
import Logging
import NIOCore
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@main
struct ChatServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat-server",
        abstract: "The a-chat server: send your login as the first line, then 'bob, carol: hello'.",
        discussion: "It listens on --host and --port; --port 0 picks a free port.",
        version: AChatVersion.current
    )

    @OptionGroup(title: "Address")
    var address: ServerAddressOptions

    @OptionGroup(title: "Connections")
    var connections: ConnectionOptions

    @OptionGroup(title: "Flow control")
    var flowControl: FlowControlOptions

    @OptionGroup(title: "TLS")
    var tls: TLSOptions

    @OptionGroup(title: "Metrics")
    var metrics: MetricsOptions

    @Option(help: "Least severe log lines written to stderr.")
    var logLevel = Logger.Level.info

    func validate() throws {
        try address.validatePort(in: 0...65535)
    }

    func run() async throws {
        // Logging must never block the event loop, whatever becomes of stderr.
        let logOutput = BackgroundLogWriter(descriptor: STDERR_FILENO)
        defer { logOutput.finish() }
        LoggingSystem.bootstrap { [logLevel] label in
            var handler = logOutput.handler(label: label)
            handler.logLevel = logLevel
            return handler
        }
        let logger = Logger(label: "a-chat.server")
        let descriptorLimit = raiseOpenFileLimit()

        var configuration = ChatServerConfiguration(host: address.resolvedHost, port: address.resolvedPort)
        connections.apply(to: &configuration, descriptorLimit: descriptorLimit)
        flowControl.apply(to: &configuration)
        tls.apply(to: &configuration)
        metrics.apply(to: &configuration)
        let service = ChatService(
            configuration: configuration,
            logger: logger,
            onListening: { address in
                // Scripts wait for this exact line before they connect.
                writeLine(
                    "listening on \(Wording.address(host: address.ipAddress ?? "?", port: address.port ?? 0))",
                    to: STDOUT_FILENO)
            }
        )
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [.init(service: service)],
                // SIGHUP too: a server started from a terminal that closes should still say goodbye.
                gracefulShutdownSignals: [.sigterm, .sigint, .sighup],
                logger: logger
            )
        )
        do {
            try await group.run()
        } catch {
            logOutput.finish()
            // One line, not a stack dump: the usual cause is a port already in use.
            writeLine("chat-server: \(error)", to: STDERR_FILENO)
            throw ExitCode.failure
        }
    }

    /// Each connection is a file descriptor; the usual soft limit of 1024 would cap the server
    /// far below what it can carry. Returns the soft limit in force.
    private func raiseOpenFileLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(openFilesResource, &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(openFilesResource, &raised) == 0 { limit = raised }
        }
        return Int(clamping: limit.rlim_cur)
    }
}

/// Unbuffered, so that a script reading a pipe sees the line at once.
private func writeLine(_ text: String, to descriptor: Int32) {
    var bytes = Array((text + "\n").utf8)[...]
    while !bytes.isEmpty {
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        if written <= 0 { return }
        bytes = bytes.dropFirst(written)
    }
}

#if canImport(Glibc)
    private let openFilesResource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
#else
    private let openFilesResource = RLIMIT_NOFILE
#endif
