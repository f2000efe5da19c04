import ChatTestSupport
import Testing

@testable import ChatCluster

/// TLS to the database, as the URL's `sslmode` and `sslrootcert` ask, against a PostgreSQL that
/// offers it with a certificate from the test CA (for 127.0.0.1 and localhost).
@Suite(.postgresWithTLS, .enabled(if: postgresAvailable, postgresSkipReason))
struct DatabaseTLSTests {
    private static func url(_ options: String) async throws -> String {
        let ca = try await TestCertificates.shared.value.caCertificate
        let url = try await postgres.makeDatabase()
        let query = options.replacingOccurrences(of: "CA", with: ca)
        return query.isEmpty ? url : "\(url)?\(query)"
    }

    /// Every mode but `disable` ends up encrypted against a database that offers TLS; the ones
    /// that verify trust the test CA through `sslrootcert`.
    @Test(arguments: [
        ("default", "", true), ("disable", "sslmode=disable", false), ("prefer", "sslmode=prefer", true),
        ("require", "sslmode=require", true), ("verify-ca", "sslmode=verify-ca&sslrootcert=CA", true),
        ("verify-full", "sslmode=verify-full&sslrootcert=CA", true),
    ])
    func eachModeEncryptsAsAsked(_ name: String, _ options: String, _ encrypted: Bool) async throws {
        let node = try await TestNode.join(try await Self.url(options), name: name)
        let connections = try await postgres.connections(ofNode: name)
        #expect(connections.open == 3, "\(options)")
        #expect(connections.encrypted == (encrypted ? 3 : 0), "\(options)")
        await node.node.leave()
    }

    /// A certificate the node cannot trust stops it joining, in one line, whichever way verifying
    /// was asked for: another CA's file, the system's roots, or libpq's `require` with a CA file.
    @Test(arguments: [
        "sslmode=verify-full&sslrootcert=OTHER", "sslmode=verify-full",
        "sslmode=verify-ca&sslrootcert=system",
        "sslmode=require&sslrootcert=OTHER",
    ])
    func anUntrustedCertificateIsOneClearLine(_ options: String) async throws {
        let other = try await TestCertificates.shared.value.otherCACertificate
        let url = try await Self.url(options.replacingOccurrences(of: "OTHER", with: other))
        let error = await #expect(throws: ClusterError.self) {
            _ = try await TestNode.join(url, name: "doubted")
        }
        #expect(
            try #require(error).description.hasSuffix(
                ": the server's certificate is not trusted (unknown authority, expired or not yet valid)"),
            "\(options): \(String(describing: error))")
    }

    @Test(arguments: [
        (
            "sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
            "cannot read sslrootcert /nonexistent/ca.pem: no such file or directory"
        ),
        ("sslmode=verify-ca&sslrootcert=/etc/hostname", "sslrootcert /etc/hostname holds no PEM certificate"),
        ("sslmode=allow", "sslmode=allow is not one of disable, prefer, require, verify-ca, verify-full"),
        ("sslcert=x.pem", "option 'sslcert=x.pem' is not supported"),
    ])
    func aBadTLSOptionIsOneClearLineBeforeAnyConnection(_ options: String, _ expected: String) async throws {
        let error = await #expect(throws: ClusterError.self) {
            _ = try await TestNode.join("postgres://achat@127.0.0.1:1/achat?\(options)", name: "doomed")
        }
        #expect(try #require(error).description.contains(expected), "\(String(describing: error))")
    }
}
