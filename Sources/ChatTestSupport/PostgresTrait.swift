import Testing

/// A private PostgreSQL server for one suite: started before its first test, removed after its
/// last. Without PostgreSQL the suite is skipped, except under CI=true, where that fails it.
public struct PostgresServer: SuiteTrait, TestScoping {
    @TaskLocal public static var current: TestPostgres?

    /// Whether the server offers TLS, with `TestCertificates.shared`.
    let offersTLS: Bool

    public var isRecursive: Bool { false }

    public func provideScope(
        for test: Test,
        testCase: Test.Case?,
        performing function: @Sendable () async throws -> Void
    ) async throws {
        let server = try await TestPostgres.start(
            tls: offersTLS ? try await TestCertificates.shared.value : nil)
        do {
            try await Self.$current.withValue(server) { try await function() }
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }
}

extension Trait where Self == PostgresServer {
    public static var postgres: Self { PostgresServer(offersTLS: false) }
    /// A server that offers TLS as well as plain connections.
    public static var postgresWithTLS: Self { PostgresServer(offersTLS: true) }
}

/// The suite's server; every test of a `.postgres` suite has one.
public var postgres: TestPostgres {
    get throws { try #require(PostgresServer.current, "no PostgreSQL server for this suite") }
}

public let postgresAvailable = TestPostgres.unavailableReason == nil || TestPostgres.isRequired
public let postgresSkipReason = Comment(rawValue: TestPostgres.unavailableReason ?? "")
