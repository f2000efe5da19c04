import ChatTestSupport
import Logging
import PostgresNIO
import Testing

@testable import ChatCluster

/// A database connection that ends while a statement's rows are still coming (the database
/// restarted, an operator ended the backend) is an error for the statement, never a crash. With
/// postgres-nio's async row sequence this trapped the process on the first attempt.
///
/// Each case streams rows as fast as PostgreSQL makes them until the backend is ended, which
/// under load can be seconds: one at a time, and taking turns with the other heavy tests. The
/// three together ran 18.7 s in a CI run, and a bench scenario beside them stalled.
@Suite(.postgres, .loadsTheMachine, .serialized, .enabled(if: postgresAvailable, postgresSkipReason))
struct RowStreamCloseTests {
    @Test(arguments: [30, 60, 120])
    func aConnectionEndedWhileRowsAreComingFailsTheStatement(millisecondsIntoTheRows: Int) async throws {
        let (connection, logger) = try await connectToNewDatabase(label: "row-stream-close")
        defer { connection.close() }
        let backend = try await connection.run("SELECT pg_backend_pid()", logger: logger)[0].decode(
            Int32.self)
        // 500 MB of rows: far more than arrive before the backend is ended.
        let rows = Task {
            try await connection.run(
                "SELECT repeat('x', 500) FROM generate_series(1, 1000) a, generate_series(1, 1000) b",
                logger: logger)
        }
        try await Task.sleep(for: .milliseconds(millisecondsIntoTheRows))
        let ended = try await postgres.psql("SELECT pg_terminate_backend(\(backend))")
        #expect(ended == "t\n")
        await #expect(throws: (any Error).self) { try await rows.value }
    }
}
