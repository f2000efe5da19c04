import ChatTestSupport
import Logging
import NIOCore
import PostgresNIO
import Testing

@testable import ChatCluster

/// A bounce (a delivery a gone node never took, come back to tell its sender) stays in the
/// database until the next fetch confirms it: one deleted as it was read was lost whenever the
/// fetch's reply was lost with its connection, and the sender never heard.
@Suite(.postgres, .enabled(if: postgresAvailable, postgresSkipReason))
struct BounceConfirmationTests {
    @Test func aBounceIsTakenAgainUntilAFetchConfirmsIt() async throws {
        let (connection, logger) = try await connectToNewDatabase(label: "bounce-confirmation")
        defer { connection.close() }
        try await Schema.prepare(on: connection, logger: logger)
        let node: Int64 = 42
        let payload = ByteBuffer(string: "a delivery")
        try await connection.run(
            "INSERT INTO achat_bounces (target, payload) VALUES (\(node), \(payload))", logger: logger)
        let statements = Statements(logger: logger)

        let first = try await statements.takeBatches(for: node, delivered: [:], answered: [], on: connection)
        #expect(first.bounces.map(\.payload) == [payload])
        // The reply to that fetch never arrived: the next one, confirming nothing, has it again.
        let again = try await statements.takeBatches(for: node, delivered: [:], answered: [], on: connection)
        #expect(again.bounces.map(\.arrival) == first.bounces.map(\.arrival))

        let confirming = try await statements.takeBatches(
            for: node, delivered: [:], answered: first.bounces.map(\.arrival), on: connection)
        #expect(confirming.bounces.isEmpty)
        let left = try await connection.run("SELECT count(*) FROM achat_bounces", logger: logger)
        #expect(try left[0].decode(Int.self) == 0)
    }
}
