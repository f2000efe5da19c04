import ArgumentParser

/// `--host` and `--port`, the same two flags on all three programs: where chat-server listens,
/// where chat-client and chat-bench connect. Optional, so that a program can tell a flag the user
/// gave from a default (chat-bench refuses them beside `--spawn-server`).
public struct ServerAddressOptions: ParsableArguments {
    public static let defaultHost = "127.0.0.1"
    public static let defaultPort = 8080

    @Option(help: "The server's host name or address (default: \(Self.defaultHost)).")
    public var host: String?

    @Option(parsing: .unconditional, help: "The server's port (default: \(Self.defaultPort)).")
    public var port: Int?

    public init() {}

    public var resolvedHost: String { host ?? Self.defaultHost }
    public var resolvedPort: Int { port ?? Self.defaultPort }

    /// Checks the port against `range`: a listener may ask for 0 (any free port), a client may not.
    public func validatePort(in range: ClosedRange<Int>) throws {
        guard range.contains(resolvedPort) else {
            throw ValidationError("--port must be \(range.lowerBound)...\(range.upperBound)")
        }
    }
}
