import ChatTestSupport
import Foundation
import Testing

@testable import ChatCluster

/// TLS to the database, as the URL's `sslmode` and `sslrootcert` ask, against a PostgreSQL that
/// offers it with a certificate from the test CA for `localhost` only: connecting to 127.0.0.1
/// tells a node that checks the name from one that does not.
@Suite(.postgresWithTLS, .enabled(if: postgresAvailable, postgresSkipReason))
struct DatabaseTLSTests {
    /// A fresh database's URL at `host`, with `options` after `?`: `{ca}` stands for the test
    /// CA's file, `{other}` for the unrelated CA's.
    private static func url(_ options: String, host: String = "127.0.0.1") async throws -> String {
        let certificates = try await TestCertificates.shared.value
        let query = options.replacingOccurrences(of: "{ca}", with: certificates.caCertificate)
            .replacingOccurrences(of: "{other}", with: certificates.otherCACertificate)
        return try await postgres.makeDatabase(host: host, options: query.isEmpty ? nil : query)
    }

    /// Every mode but `disable` ends up encrypted against a database that offers TLS. `verify-ca`
    /// takes the certificate at 127.0.0.1, which is not among its names; `verify-full` needs
    /// `localhost`, which is.
    @Test(arguments: [
        ("default", "", "127.0.0.1", true), ("disable", "sslmode=disable", "127.0.0.1", false),
        ("prefer", "sslmode=prefer", "127.0.0.1", true), ("require", "sslmode=require", "127.0.0.1", true),
        ("require-ca", "sslmode=require&sslrootcert={ca}", "127.0.0.1", true),
        ("verify-ca", "sslmode=verify-ca&sslrootcert={ca}", "127.0.0.1", true),
        ("verify-full", "sslmode=verify-full&sslrootcert={ca}", "localhost", true),
    ])
    func eachModeEncryptsAsAsked(_ name: String, _ options: String, _ host: String, _ encrypted: Bool)
        async throws
    {
        let node = try await TestNode.join(try await Self.url(options, host: host), name: name)
        let connections = try await postgres.connections(ofNode: name)
        #expect(connections.open == 3, "\(options)")
        #expect(connections.encrypted == (encrypted ? 3 : 0), "\(options)")
        await node.node.leave()
    }

    /// A certificate the node cannot trust stops it joining, in one line, whichever way checking
    /// was asked for: another CA's file (which libpq checks in every mode), or the system's roots.
    @Test(arguments: [
        "sslmode=verify-full&sslrootcert={other}", "sslmode=verify-ca&sslrootcert={other}",
        "sslmode=require&sslrootcert={other}", "sslmode=prefer&sslrootcert={other}", "sslmode=verify-full",
        "sslrootcert=system",
    ])
    func anUntrustedCertificateIsOneClearLine(_ options: String) async throws {
        let url = try await Self.url(options, host: "localhost")
        let error = await #expect(throws: ClusterError.self) {
            _ = try await TestNode.join(url, name: "doubted")
        }
        #expect(
            try #require(error).description.hasSuffix(
                ": the server's certificate is not trusted (unknown authority, expired or not yet valid)"),
            "\(options): \(String(describing: error))")
    }

    @Test func verifyFullChecksTheNameInTheURL() async throws {
        let url = try await Self.url("sslmode=verify-full&sslrootcert={ca}")
        let error = await #expect(throws: ClusterError.self) {
            _ = try await TestNode.join(url, name: "misnamed")
        }
        #expect(
            try #require(error).description.hasSuffix(": the server's certificate is not for 127.0.0.1"),
            "\(String(describing: error))")
    }

    @Test(arguments: [
        (
            "sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
            "cannot read sslrootcert /nonexistent/ca.pem: no such file or directory"
        ),
        ("sslmode=verify-ca&sslrootcert=NOTPEM", "sslrootcert NOTPEM holds no PEM certificate"),
        ("sslmode=allow", "sslmode=allow is not one of disable, prefer, require, verify-ca, verify-full"),
        ("sslmode=require&sslrootcert=system", "sslrootcert=system needs sslmode=verify-full, not require"),
        ("sslmode=", "option sslmode needs a value"),
        ("sslcert=x.pem", "option 'sslcert' is not supported"),
        ("password=hunter2", "option 'password' is not supported"),
    ])
    func aBadTLSOptionIsOneClearLineBeforeAnyConnection(_ options: String, _ expected: String) async throws {
        let notPEM = FileManager.default.temporaryDirectory.appendingPathComponent("not-pem-\(UUID()).txt")
            .path
        try Data("not a certificate\n".utf8).write(to: URL(fileURLWithPath: notPEM))
        defer { try? FileManager.default.removeItem(atPath: notPEM) }
        let error = await #expect(throws: ClusterError.self) {
            _ = try await TestNode.join(
                "postgres://achat@127.0.0.1:1/achat?\(options.replacingOccurrences(of: "NOTPEM", with: notPEM))",
                name: "doomed")
        }
        let description = try #require(error).description
        #expect(
            description.contains(expected.replacingOccurrences(of: "NOTPEM", with: notPEM)), "\(description)")
        #expect(!description.contains("hunter2") && !description.contains("\n"))
    }
}
