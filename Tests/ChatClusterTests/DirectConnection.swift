import ChatTestSupport
import Logging
import NIOPosix
import PostgresNIO

@testable import ChatCluster

/// A connection to a new database of the test PostgreSQL, for tests that run statements
/// themselves instead of through a node.
func connectToNewDatabase(label: String) async throws -> (GuardedConnection, Logger) {
    let url = try DatabaseURL(try await postgres.makeDatabase())
    let logger = Logger(label: label)
    let connection = GuardedConnection(
        try await PostgresConnection.connect(
            on: MultiThreadedEventLoopGroup.singleton.next(),
            configuration: url.connectionConfiguration(timeout: .seconds(10)), id: 1, logger: logger))
    return (connection, logger)
}
