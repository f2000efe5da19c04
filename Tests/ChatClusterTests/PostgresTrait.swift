import ChatTestSupport
import Testing

/// A private PostgreSQL server for one suite: started before its first test, removed after its
/// last. Without PostgreSQL the suite is skipped, except under CI=true, where that fails it.
struct PostgresServer: SuiteTrait, TestScoping {
    @TaskLocal static var current: TestPostgres?

    var isRecursive: Bool { false }

    func provideScope(
        for test: Test,
        testCase: Test.Case?,
        performing function: @Sendable () async throws -> Void
    ) async throws {
        let server = try await TestPostgres.start()
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
    static var postgres: Self { PostgresServer() }
}

/// The suite's server; every test of a `.postgres` suite has one.
var postgres: TestPostgres {
    get throws { try #require(PostgresServer.current, "no PostgreSQL server for this suite") }
}

let postgresAvailable = TestPostgres.unavailableReason == nil || TestPostgres.isRequired
let postgresSkipReason = Comment(rawValue: TestPostgres.unavailableReason ?? "")
