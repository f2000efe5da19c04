import NIOSSL
import PostgresNIO
import TLSTrust

/// TLS to the database, from the URL's `sslmode` and `sslrootcert` as libpq reads them, so a URL
/// that works with `psql` works here. Without `sslmode` it is libpq's default, `prefer`: TLS if
/// the database offers it, unverified; a cluster across machines should say `verify-full`.
struct DatabaseTLS: Sendable {
    enum Mode: String, CaseIterable {
        case disable, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    let setting: PostgresConnection.Configuration.TLS

    /// - Parameters:
    ///   - mode: The `sslmode` value, if the URL has one.
    ///   - rootCertificate: The `sslrootcert` value: a PEM file of the CAs to trust, or `system`
    ///     for the system's roots (the default when verifying).
    init(mode text: String?, rootCertificate: String?) throws(ClusterError) {
        guard let mode = text.map(Mode.init(rawValue:)) ?? .prefer else {
            throw ClusterError(
                "cluster URL sslmode=\(text ?? "") is not one of \(Mode.allCases.map(\.rawValue).joined(separator: ", "))"
            )
        }
        let caFile = rootCertificate == "system" ? nil : rootCertificate
        // As libpq does: a CA file given with `require` is checked, as with `verify-ca`.
        let effective = mode == .require && caFile != nil ? .verifyCA : mode
        let verification: CertificateVerification =
            switch effective {
            case .disable, .prefer, .require: .none
            case .verifyCA: .noHostnameVerification
            case .verifyFull: .fullVerification
            }
        if mode == .disable {
            setting = .disable
        } else {
            let context: NIOSSLContext
            do {
                context = try TLSTrust.clientContext(
                    trusting: verification == .none ? nil : caFile, option: "sslrootcert",
                    verification: verification)
            } catch {
                throw ClusterError("cluster URL: \(error.description)")
            }
            setting = mode == .prefer ? .prefer(context) : .require(context)
        }
    }
}
