import ChatServer
import Logging
import NIOCore

extension ChatServerConfiguration {
    /// A free loopback port, everything else as shipped.
    public static var forTests: ChatServerConfiguration { ChatServerConfiguration(port: 0) }

    /// This configuration with `change` made, for set-ups that fit on a line.
    public func with(_ change: (inout ChatServerConfiguration) -> Void) -> ChatServerConfiguration {
        var changed = self
        change(&changed)
        return changed
    }
}

/// A server in this process on a free loopback port, quiet unless a test asks for its logs.
public func startTestServer(
    maximumLineBytes: Int = 64 * 1024,
    maximumQueueBytes: Int = 1024 * 1024,
    drainTimeout: TimeAmount = .seconds(30),
    logLevel: Logger.Level = .warning
) async throws -> ChatServer {
    try await startTestServer(
        configuration: .forTests.with {
            $0.maximumLineBytes = maximumLineBytes
            $0.maximumQueueBytes = maximumQueueBytes
            $0.drainTimeout = drainTimeout
        },
        logLevel: logLevel)
}

public func startTestServer(
    configuration: ChatServerConfiguration,
    logLevel: Logger.Level = .warning
) async throws -> ChatServer {
    var logger = Logger(label: "a-chat.test-server")
    logger.logLevel = logLevel
    return try await ChatServer.start(configuration: configuration, logger: logger)
}

/// Waits until `server` counts at least `count` logins.
public func waitUntilOnline(_ server: ChatServer, count: Int) async throws {
    let (_, online) = try await poll(
        for: .seconds(30), every: .milliseconds(5), look: { try await server.onlineCount() },
        until: { $0 >= count })
    if !online { throw TestTimeout("fewer than \(count) logins online") }
}
