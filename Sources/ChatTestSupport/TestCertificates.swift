import Foundation
import NIOSSL

/// Certificates made at test time with the `openssl` command, in a fresh temporary directory: a
/// CA and a server certificate it signs for 127.0.0.1 and localhost; two more for the same key,
/// one for `localhost` only (no IP address) and one for another name; and a second CA, unrelated,
/// that a client which should not trust our server trusts instead. EC P-256 keys, so making them
/// takes milliseconds. One set per test process (`shared`).
public struct TestCertificates: Sendable {
    public let directory: URL

    public var caCertificate: String { path("ca.pem") }
    public var serverCertificate: String { path("server.pem") }
    public var serverKey: String { path("server.key") }
    /// For `localhost` only, with no IP address.
    public var nameOnlyCertificate: String { path("name-only.pem") }
    /// For `elsewhere.example` only.
    public var elsewhereCertificate: String { path("elsewhere.pem") }
    public var otherCACertificate: String { path("other-ca.pem") }
    /// A private key that does not belong to `serverCertificate`.
    public var otherKey: String { path("other-ca.key") }

    public static let shared = Task { try await TestCertificates.make() }

    public static func make() async throws -> TestCertificates {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("a-chat-certificates-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let certificates = TestCertificates(directory: directory)
        try await certificates.makeCA("ca", name: "a-chat test CA")
        try await certificates.makeCA("other-ca", name: "a-chat other CA")
        try await certificates.openssl(
            "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", certificates.serverKey, "-out", certificates.path("server.csr"), "-subj",
            "/CN=localhost")
        for (name, names) in [
            ("server", "IP:127.0.0.1, DNS:localhost"), ("name-only", "DNS:localhost"),
            ("elsewhere", "DNS:elsewhere.example"),
        ] {
            try Data(
                """
                basicConstraints = CA:FALSE
                keyUsage = critical, digitalSignature
                extendedKeyUsage = serverAuth
                subjectAltName = \(names)

                """.utf8
            ).write(to: directory.appendingPathComponent("\(name).ext"))
            try await certificates.openssl(
                "x509", "-req", "-in", certificates.path("server.csr"), "-CA", certificates.caCertificate,
                "-CAkey", certificates.path("ca.key"), "-CAcreateserial", "-days", "2",
                "-extfile", certificates.path("\(name).ext"), "-out", certificates.path("\(name).pem"))
        }
        return certificates
    }

    /// A client configuration that trusts `caFile` only and checks the server's name.
    /// With `newest`, every version from TLS 1.0 up to it, and none newer: a client of the kind
    /// that servers should refuse.
    public static func clientConfiguration(trusting caFile: String, upTo newest: TLSVersion? = nil) throws
        -> TLSConfiguration
    {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .file(caFile)
        if let newest {
            configuration.minimumTLSVersion = .tlsv1
            configuration.maximumTLSVersion = newest
        }
        return configuration
    }

    private func makeCA(_ name: String, name subject: String) async throws {
        try await openssl(
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", path(name + ".key"), "-out", path(name + ".pem"), "-days", "2", "-subj",
            "/CN=\(subject)",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"
        )
    }

    /// Waits without holding a thread: tests share a small pool of them.
    private func openssl(_ arguments: String...) async throws {
        let process = try ChildProcess(URL(fileURLWithPath: "/usr/bin/env"), ["openssl"] + arguments)
        try process.closeStdin()
        let status = try await process.waitForExit()
        guard status == 0 else {
            throw TestTimeout("openssl \(arguments.first ?? "") exited with \(status): \(process.stderr)")
        }
    }

    private func path(_ name: String) -> String {
        directory.appendingPathComponent(name).path
    }
}
