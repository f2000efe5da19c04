import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PostgresNIO
import SystemPackage
import SystemSupport
import TLSTrust

/// Database failures in words. postgres-nio's own descriptions hide the server's message on
/// purpose (it may quote data); the cluster's messages quote nothing but the server's reason.
enum DatabaseErrors {
    /// One line saying why, e.g. `password authentication failed for user "achat"` or
    /// `connection refused`.
    /// `host`: the database's host as the URL names it, for a certificate that is not for it.
    static func reason(_ error: any Error, host: String = "the database's host") -> String {
        if let error = error as? ClusterError { return error.description }
        if let failure = TLSTrust.handshakeFailure(error, host: host) { return failure }
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] {
                return message
            }
            if let underlying = error.underlying { return reason(underlying, host: host) }
            switch error.code {
            case .sslUnsupported: return "the database does not accept TLS, which the URL's sslmode requires"
            case .serverClosedConnection, .uncleanShutdown: return "the database closed the connection"
            case .clientClosedConnection: return "the connection was closed"
            case .unexpectedBackendMessage:
                // postgres-nio keeps the message to itself. Seen in an audit that ended a node's
                // backends (`pg_terminate_backend`) just as its new session had started.
                return "the database broke off the connection (as when its process is ended or it shuts down)"
            case .connectionError: return "the connection failed"
            case .authMechanismRequiresPassword:
                return "the database asks for a password and the URL gives none (USER:PASSWORD@HOST)"
            case .unsupportedAuthMechanism:
                return "the database asks for a kind of password check this server does not speak"
            case .saslError: return "the database's password check (SCRAM) failed"
            default: return "\(error.code)"
            }
        }
        if let error = error as? PostgresTransactionError {
            return reason(error.closureError ?? error.commitError ?? error.beginError ?? error, host: host)
        }
        if let error = error as? NIOConnectionError {
            if let first = error.connectionErrors.first { return reason(first.error, host: host) }
            if error.dnsAError != nil || error.dnsAAAAError != nil { return "host name not found" }
            return "cannot connect"
        }
        if let error = error as? IOError {
            return Errno(rawValue: error.errnoCode).words
        }
        if error is ChannelError {
            if case ChannelError.connectTimeout = error { return "connection timed out" }
            return "connection failed (\(error))"
        }
        if error is QueryTimeout { return "the database did not answer within the query timeout" }
        if error is ConnectionClosed { return "the connection was closed" }
        return "\(error)"
    }

    /// The SQLSTATE of a server error, e.g. "23503".
    static func sqlState(_ error: any Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.sqlState]
    }

    static let foreignKeyViolation = "23503"
}

struct QueryTimeout: Error {}

/// Runs `body`, or closes `connection` and throws `QueryTimeout` after `timeout`: postgres-nio
/// has no per-query deadline, and a connection that hangs is a lost one. Returns at the deadline
/// even if `body` does not end then (it is cancelled, and ends when it can).
func withTimeout<Value: Sendable>(
    _ timeout: Duration,
    closing connection: GuardedConnection,
    _ body: @escaping @Sendable () async throws -> Value
) async throws -> Value {
    let outcome = NIOLockedValueBox<CheckedContinuation<Value, any Error>?>(nil)
    let tasks = NIOLockedValueBox<[Task<Void, Never>]>([])
    /// The first outcome wins; the others find nothing left to resume.
    @Sendable func finish(_ result: Result<Value, any Error>) -> Bool {
        guard let continuation = outcome.withLockedValue({ $0.take() }) else { return false }
        for task in tasks.withLockedValue({ $0 }) { task.cancel() }
        continuation.resume(with: result)
        return true
    }
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            outcome.withLockedValue { $0 = continuation }
            let work = Task(executorPreference: LoopExecutor.current) {
                do {
                    _ = finish(.success(try await body()))
                } catch {
                    _ = finish(.failure(error))
                }
            }
            let timer = Task(executorPreference: LoopExecutor.current) {
                guard (try? await Task.sleep(for: timeout)) != nil else { return }
                if finish(.failure(QueryTimeout())) { connection.close() }
            }
            tasks.withLockedValue { $0 = [work, timer] }
        }
    } onCancel: {
        _ = finish(.failure(CancellationError()))
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
