import ChatTestSupport
import Testing

/// `chat-server --cluster` with a URL that asks for verified TLS, as servers on several machines
/// would reach a shared PostgreSQL: they chat as one, and the database sees only encrypted
/// connections from them.
@Suite(.postgresWithTLS, .enabled(if: postgresAvailable, postgresSkipReason))
struct ClusterTLSTests {
    @Test func serversOverVerifiedTLSChatAsOne() async throws {
        let ca = try await TestCertificates.shared.value.caCertificate
        let (_, servers) = try await ClusterServerTests.nodes(
            urlOptions: "sslmode=verify-full&sslrootcert=\(ca)")
        let alice = try await loggedIn("alice", port: servers[0].port)
        let bob = try await loggedIn("bob", port: servers[1].port)
        try await ClusterServerTests.waitUntilReachable(bob, as: "bob", from: alice, as: "alice")
        try await alice.send("bob: across an encrypted database")
        #expect(try await bob.readLine() == "from alice: across an encrypted database")
        for node in ["n0", "n1"] {
            let connections = try await postgres.connections(ofNode: node)
            #expect(
                connections.open > 0 && connections.encrypted == connections.open, "\(node): \(connections)")
        }
    }
}
