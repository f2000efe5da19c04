import ChatTestSupport
import Foundation
import Testing

/// `chat-server --cluster` with a URL that asks for verified TLS, as servers on several machines
/// would reach a shared PostgreSQL. The database's certificate is for `localhost` only.
@Suite(.postgresWithTLS, .enabled(if: postgresAvailable, postgresSkipReason))
struct ClusterTLSTests {
    /// They chat as one, and the database sees only encrypted connections from them.
    @Test func serversOverVerifiedTLSChatAsOne() async throws {
        let ca = try await TestCertificates.shared.value.caCertificate
        let (_, servers) = try await ClusterServerTests.nodes(
            host: "localhost", urlOptions: "sslmode=verify-full&sslrootcert=\(ca)")
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

    /// With the default `sslmode=prefer`, the log says that TLS is in use, and nothing more.
    @Test func theLogSaysTheDatabaseConnectionIsEncrypted() async throws {
        let joined = try await ClusterServerTests.joinedLine(urlOptions: nil)
        #expect(joined.line.contains(" tls=yes "), "\(joined.line)")
        #expect(!joined.stderr.contains("did not offer TLS"), "\(joined.stderr)")
    }

    /// A server that cannot trust the database's certificate says so in one line and does not
    /// listen.
    @Test func aServerThatCannotTrustTheDatabaseSaysSoAndExits() async throws {
        let other = try await TestCertificates.shared.value.otherCACertificate
        let url = try await postgres.makeDatabase(host: "localhost")
        let server = try ChildProcess(
            ChildProcess.executable("chat-server"),
            ["--port", "0", "--cluster", "\(url)?sslmode=verify-full&sslrootcert=\(other)"])
        #expect(try await server.waitForExit() == 1)
        let errors = server.stderr.split(separator: "\n").filter { !$0.contains(" info ") }
        #expect(
            errors == [
                "chat-server: cannot join the cluster at postgres://achat@localhost:\(try postgres.port)/"
                    + "\(url.split(separator: "/").last!): the server's certificate is not trusted "
                    + "(unknown authority, expired or not yet valid)"
            ], "\(server.stderr)")
        #expect(server.stdout.isEmpty)
    }
}
