import NIOSSL
import PostgresNIO
import TLSTrust

/// TLS to the database, from the URL's `sslmode` and `sslrootcert` as libpq reads them, so that a
/// URL written for `psql` means the same here (docs/cluster.md lists where it differs). Without
/// `sslmode` it is libpq's default, `prefer` (`verify-full` with `sslrootcert=system`): TLS if the
/// database offers it, the certificate checked only against a CA file given; a cluster across
/// machines should say `verify-full`.
struct DatabaseTLS: Sendable {
    enum Mode: String, CaseIterable {
        case disable, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    let mode: Mode
    let setting: PostgresConnection.Configuration.TLS

    /// - Parameters:
    ///   - mode: The `sslmode` value, if the URL has one.
    ///   - rootCertificate: The `sslrootcert` value: a PEM file of the CAs to trust, or `system`
    ///     for the system's roots (which are also what `verify-ca` and `verify-full` trust without
    ///     it).
    init(mode text: String?, rootCertificate: String?) throws(ClusterError) {
        let systemRoots = rootCertificate == "system"
        // As libpq does: the system's roots mean verify-full, as they vouch for names, not servers.
        let modeText = text ?? (systemRoots ? Mode.verifyFull.rawValue : Mode.prefer.rawValue)
        guard let mode = Mode(rawValue: modeText) else {
            throw ClusterError(
                "cluster URL sslmode=\(modeText) is not one of \(Mode.allCases.map(\.rawValue).joined(separator: ", "))"
            )
        }
        self.mode = mode
        if systemRoots && mode != .verifyFull {
            throw ClusterError(
                "cluster URL sslrootcert=system needs sslmode=verify-full, not \(mode.rawValue)")
        }
        guard mode != .disable else {
            setting = .disable
            return
        }
        let caFile = systemRoots ? nil : rootCertificate
        // As libpq does: a CA file given is checked in every mode; verify-full checks the name too.
        let verification: CertificateVerification =
            switch mode {
            case .disable, .prefer, .require: caFile == nil ? .none : .noHostnameVerification
            case .verifyCA: .noHostnameVerification
            case .verifyFull: .fullVerification
            }
        let context: NIOSSLContext
        do {
            context = try TLSTrust.clientContext(
                trusting: caFile, option: "sslrootcert", verification: verification)
        } catch {
            throw ClusterError("cluster URL: \(error.description)")
        }
        setting = mode == .prefer ? .prefer(context) : .require(context)
    }
}
