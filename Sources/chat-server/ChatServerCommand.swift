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

    @Option(help: "Longest line accepted, in bytes; longer lines get a notice and are discarded.")
    var maxLineBytes = 64 * 1024

    @Option(help: "Bytes that may wait for one slow reader before it is disconnected.")
    var maxQueueBytes = 1024 * 1024

    @Option(help: "Least severe log lines written to stderr.")
    var logLevel = Logger.Level.info

    @Option(
        help: ArgumentHelp("PEM certificate chain: with --tls-key, serve TLS only.", valueName: "pem-file"))
    var tlsCert: String?

    @Option(help: ArgumentHelp("PEM private key of --tls-cert.", valueName: "pem-file"))
    var tlsKey: String?

    @Option(help: "Serve Prometheus metrics at http://<metrics-host>:<port>/metrics.")
    var metricsPort: Int?

    @Option(help: "Address the metrics endpoint listens on.")
    var metricsHost = "127.0.0.1"

    func validate() throws {
        try address.validatePort(in: 0...65535)
        // A gibibyte is far beyond any sensible line or queue, and keeps all arithmetic on these
        // limits clear of overflow.
        let sizes = 1...(1 << 30)
        guard sizes.contains(maxLineBytes) else {
            throw ValidationError("--max-line-bytes must be 1...\(1 << 30)")
        }
        guard sizes.contains(maxQueueBytes) else {
            throw ValidationError("--max-queue-bytes must be 1...\(1 << 30)")
        }
        guard (tlsCert == nil) == (tlsKey == nil) else {
            throw ValidationError("--tls-cert and --tls-key go together")
        }
        if let metricsPort, !(0...65535).contains(metricsPort) {
            throw ValidationError("--metrics-port must be 0...65535")
        }
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
        raiseOpenFileLimit()

        let service = ChatService(
            configuration: ChatServerConfiguration(
                host: address.resolvedHost,
                port: address.resolvedPort,
                maximumLineBytes: maxLineBytes,
                maximumQueueBytes: maxQueueBytes,
                tls: tlsCert.map { TLSFiles(certificateChainPath: $0, privateKeyPath: tlsKey!) },
                metrics: metricsPort.map { MetricsEndpointConfiguration(host: metricsHost, port: $0) }
            ),
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
    /// far below what it can carry.
    private func raiseOpenFileLimit() {
        var limit = rlimit()
        guard getrlimit(openFilesResource, &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(openFilesResource, &limit)
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
