import Logging
import NIOCore
import PostgresNIO

/// A connection whose queries start on its own event loop.
///
/// postgres-nio hands a query to its channel without a promise for the write: a query issued
/// just as the connection closes reaches a pipeline whose handler is gone, and its result never
/// comes (a debug build traps on the leaked promise; a release build waits forever). On the
/// event loop, checking that the connection is open and writing the query cannot be separated by
/// the close. postgres-nio's `query` runs on its caller's executor up to the write, and this
/// actor's executor is the loop.
actor GuardedConnection {
    nonisolated let connection: PostgresConnection

    init(_ connection: PostgresConnection) {
        self.connection = connection
    }

    nonisolated var unownedExecutor: UnownedSerialExecutor {
        connection.eventLoop.executor.asUnownedSerialExecutor()
    }

    /// Runs a statement to its end and returns its rows. postgres-nio answers a statement that
    /// returns rows as soon as the database has bound it, before it has run: a failure in running
    /// it (the database shutting down, as in `pg_ctl restart`) comes only with the rows. Taken
    /// for done without them, a batch whose INSERT the shutdown aborted counted as written, and
    /// the next one went out after it: a PostgreSQL restart under load lost hundreds of lines.
    ///
    /// The rows are gathered on the loop as they arrive (postgres-nio's future API), not through
    /// its async row sequence: that one stops reading until its consumer asks for more, and a
    /// connection the database closes in that pause delivers its last rows anyway, which 1.33.2
    /// answers with a `preconditionFailure` that takes the whole server down
    /// (`RowStreamStateMachine.channelReadComplete`; `RowStreamCloseTests` hits it every time).
    @discardableResult
    func run(_ query: PostgresQuery, logger: Logger) async throws -> [PostgresRow] {
        guard !connection.isClosed else { throw ConnectionClosed() }
        let result: EventLoopFuture<PostgresQueryResult> = connection.query(query, logger: logger)
        return try await result.get().rows
    }

    nonisolated func close() {
        connection.closeInBackground()
    }
}

struct ConnectionClosed: Error {}

extension PostgresConnection {
    /// Starts closing without waiting; a closed connection is left as it is. The connection is
    /// kept until it has closed (postgres-nio asserts that a connection goes away closed).
    func closeInBackground() {
        let closing: EventLoopFuture<Void> = close()
        closing.whenComplete { _ in withExtendedLifetime(self) {} }
    }
}
