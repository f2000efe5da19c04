import ArgumentParser
import ChatCommandLine
import ChatProtocol
import ChatServer
import Logging
import NIOCore
import ServiceLifecycle
import SystemPackage
import SystemSupport

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

    @Option(
        parsing: .unconditional,
        help:
            "Event loops (threads) the connections are spread over (default: one per core it may run on, here \(ChatServerConfiguration.usableCores))."
    )
    var eventLoops: Int?

    @OptionGroup(title: "Cluster")
    var cluster: ClusterOptions

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
        if let eventLoops, !(1...1024).contains(eventLoops) {
            throw ValidationError("--event-loops must be 1...1024")
        }
    }

    func run() async throws {
        // Logging must never block the event loop, whatever becomes of stderr.
        let logOutput = BackgroundLogWriter(descriptor: FileDescriptor.standardError.rawValue)
        defer { logOutput.finish() }
        LoggingSystem.bootstrap { [logLevel] label in
            var handler = logOutput.handler(label: label)
            handler.logLevel = logLevel
            return handler
        }
        let logger = Logger(label: "a-chat.server")
        let descriptorLimit = OpenFileLimit.raiseToHardLimit() ?? 1024

        var configuration = ChatServerConfiguration(host: address.resolvedHost, port: address.resolvedPort)
        if let eventLoops { configuration.eventLoops = eventLoops }
        connections.apply(to: &configuration, descriptorLimit: descriptorLimit)
        if let warning = connections.capWarning(descriptorLimit: descriptorLimit) {
            logger.warning("\(warning)")
        }
        flowControl.apply(to: &configuration)
        tls.apply(to: &configuration)
        metrics.apply(to: &configuration)
        cluster.apply(to: &configuration)
        let service = ChatService(
            configuration: configuration,
            logger: logger,
            onListening: { address in
                // Scripts wait for this exact line before they connect.
                try? FileDescriptor.standardOutput.writeLine(
                    "listening on \(Wording.address(host: address.ipAddress ?? "?", port: address.port ?? 0))"
                )
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
            try? FileDescriptor.standardError.writeLine("chat-server: \(error)")
            throw ExitCode.failure
        }
    }
}
