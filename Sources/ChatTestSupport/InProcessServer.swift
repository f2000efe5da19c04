import ChatServer
import Logging
import NIOCore

/// A server in this process on a free loopback port, quiet unless a test asks for its logs.
/// `configure` sets anything else, such as flow control's limits and timeouts.
public func startTestServer(
    maximumLineBytes: Int = 64 * 1024,
    maximumQueueBytes: Int = 1024 * 1024,
    drainTimeout: TimeAmount = .seconds(30),
    logLevel: Logger.Level = .warning,
    configure: (inout ChatServerConfiguration) -> Void = { _ in }
) async throws -> ChatServer {
    var logger = Logger(label: "a-chat.test-server")
    logger.logLevel = logLevel
    var configuration = ChatServerConfiguration(
        port: 0,
        maximumLineBytes: maximumLineBytes,
        maximumQueueBytes: maximumQueueBytes,
        drainTimeout: drainTimeout
    )
    configure(&configuration)
    return try await ChatServer.start(configuration: configuration, logger: logger)
}
