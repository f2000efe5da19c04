import ArgumentParser
import ChatProtocol
import ChatServer

/// What one connection may send and how long it may take to log in and to leave.
struct ConnectionOptions: ParsableArguments {
    @Option(
        parsing: .unconditional,
        help: "Longest line accepted, in bytes; longer lines get a notice and are discarded.")
    var maxLineBytes = LineFramer.defaultMaximumLineBytes

    @Option(
        parsing: .unconditional, help: "Seconds a new connection has to send its login before it is closed.")
    var loginTimeout = 30.0

    @Option(
        parsing: .unconditional,
        help: "Seconds a leaving connection has to take what is queued for it before it is closed.")
    var drainTimeout = 30.0

    @Option(
        parsing: .unconditional,
        help: """
            Connections served at once; one more gets a notice and is closed (default: the \
            descriptor limit, raised to its maximum at start, less \(Self.descriptorMargin)).
            """)
    var maxConnections: Int?

    @Option(
        parsing: .unconditional,
        help: "Connections served at once from one IP address (default: no such cap).")
    var maxConnectionsPerIp: Int?

    /// Descriptors kept for everything but client connections: the listeners, the loops' own,
    /// logging, the database, and refusing connections over the cap.
    static let descriptorMargin = 128

    func validate() throws {
        try FlowControlOptions.validateSize(maxLineBytes, "--max-line-bytes")
        try TimeoutOption.validate(loginTimeout, "--login-timeout")
        try TimeoutOption.validate(drainTimeout, "--drain-timeout")
        if let maxConnections, maxConnections < 1 {
            throw ValidationError("--max-connections must be at least 1")
        }
        if let maxConnectionsPerIp, maxConnectionsPerIp < 1 {
            throw ValidationError("--max-connections-per-ip must be at least 1")
        }
    }

    /// Said at start when `--max-connections` leaves no room for the server's own descriptors:
    /// past the limit, new connections wait unaccepted, with no notice, instead of being refused.
    func capWarning(descriptorLimit: Int) -> String? {
        let room = Self.defaultMaximum(descriptorLimit: descriptorLimit)
        guard let maxConnections, maxConnections > room else { return nil }
        return
            "--max-connections \(maxConnections) is above what the open-file limit (\(descriptorLimit)) leaves for connections (\(room)): past that, connections wait unaccepted instead of getting the full server's notice"
    }

    /// The cap that leaves the server room for its own descriptors.
    static func defaultMaximum(descriptorLimit: Int) -> Int {
        max(1, descriptorLimit - descriptorMargin)
    }

    /// `descriptorLimit` is the soft limit on open files once raised.
    func apply(to configuration: inout ChatServerConfiguration, descriptorLimit: Int) {
        configuration.maximumConnections =
            maxConnections ?? Self.defaultMaximum(descriptorLimit: descriptorLimit)
        configuration.maximumConnectionsPerAddress = maxConnectionsPerIp
        configuration.maximumLineBytes = maxLineBytes
        configuration.loginTimeout = TimeoutOption.amount(loginTimeout)
        configuration.drainTimeout = TimeoutOption.amount(drainTimeout)
    }
}
