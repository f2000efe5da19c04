import NIOCore
import NIOSSL
import SystemPackage
import SystemSupport

/// Checking a server's certificate, the same way for everything that connects out over TLS:
/// `chat-client`, `chat-bench` and the cluster's connections to PostgreSQL. Trust comes from the
/// system's roots or from one CA file; a failed handshake is said in words a person can act on.
public enum TLSTrust {
    /// A CA file that cannot be used, in one line.
    public struct SetupFailure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// A client context trusting the system's roots, or only the certificates in the PEM file
    /// `caFile` (named `option` in errors, as the user wrote it: "--tls-ca", "sslrootcert").
    public static func clientContext(
        trusting caFile: String?, option: String, verification: CertificateVerification = .fullVerification
    ) throws(SetupFailure) -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        // As the server: NIOSSL's default still offers TLS 1.0 and 1.1 (RFC 8996 retired them).
        configuration.minimumTLSVersion = .tlsv12
        configuration.certificateVerification = verification
        if let caFile {
            configuration.trustRoots = .certificates(try certificates(in: caFile, option: option))
        } else {
            configuration.trustRoots = .default
        }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw SetupFailure(description: "cannot set up TLS: \(error)")
        }
    }

    private static func certificates(in path: String, option: String) throws(SetupFailure)
        -> [NIOSSLCertificate]
    {
        // NIOSSL says only that loading failed; the system says why a file cannot be read.
        do {
            try FileDescriptor.open(path, .readOnly, options: .closeOnExec).close()
        } catch let error as Errno {
            throw SetupFailure(description: "cannot read \(option) \(path): \(error.words)")
        } catch {
            throw SetupFailure(description: "cannot read \(option) \(path): \(error)")
        }
        let certificates = try? NIOSSLCertificate.fromPEMFile(path)
        guard let certificates, !certificates.isEmpty else {
            throw SetupFailure(description: "\(option) \(path) holds no PEM certificate")
        }
        return certificates
    }

    /// The name to send in SNI and check the certificate against, for a connection to `host`. An
    /// address cannot go in SNI: with nil, NIOSSL checks the address connected to against the
    /// certificate's IP addresses instead.
    public static func serverHostname(for host: String) -> String? {
        (try? SocketAddress(ipAddress: host, port: 0)) == nil ? host : nil
    }

    /// BoringSSL's reasons for `error` in words, "no shared cipher" for `NO_SHARED_CIPHER`, or nil
    /// when it carries none. Its own descriptions end each reason with the path of the C file and
    /// the line that raised it, which says nothing to a user and leaks the build's directories.
    public static func reasons(_ error: any Error) -> String? {
        let boring: BoringSSLError
        switch error {
        case NIOSSLError.handshakeFailed(let wrapped), NIOSSLError.shutdownFailed(let wrapped):
            boring = wrapped
        case let bare as BoringSSLError: boring = bare
        default: return nil
        }
        guard let stack = errorStack(boring) else { return nil }
        let words = stack.map(reason).filter { !$0.isEmpty }
        return words.isEmpty ? nil : words.joined(separator: "; ")
    }

    private static func errorStack(_ error: BoringSSLError) -> NIOBoringSSLErrorStack? {
        switch error {
        case .sslError(let stack), .unknownError(let stack), .invalidSNIName(let stack),
            .failedToSetALPN(let stack):
            return stack
        default:
            return nil
        }
    }

    /// "Error: 268435638 error:100000b6:SSL routines:OPENSSL_internal:NO_RENEGOTIATION at
    /// /path/ssl_lib.cc:123" becomes "no renegotiation"; a reason NIOSSL made up itself ("Error:
    /// EOF during handshake") is already words, and stays as it is.
    private static func reason(_ error: BoringSSLInternalError) -> String {
        let text = error.description
        if let match = text.firstMatch(of: /error:[0-9A-Fa-f]+:[^:]*:[^:]*:([A-Za-z0-9_]+)/) {
            return String(match.1.lowercased().map { $0 == "_" ? " " : $0 })
        }
        let words = text.hasPrefix("Error:") ? text.dropFirst("Error:".count) : Substring(text)
        return String(words.drop { $0 == " " })
    }

    /// Why a handshake with `host` failed, or nil if `error` is not a TLS failure.
    public static func handshakeFailure(_ error: any Error, host: String) -> String? {
        switch error {
        case let error as NIOSSLExtraError where error == .failedToValidateHostname:
            return "the server's certificate is not for \(host)"
        case NIOSSLError.handshakeFailed(let failure):
            // BoringSSL's reasons come as text only.
            let details = "\(failure)"
            if details.contains("CERTIFICATE_VERIFY_FAILED") {
                return "the server's certificate is not trusted (unknown authority, expired or not yet valid)"
            }
            for marker in [
                "WRONG_VERSION_NUMBER", "PACKET_LENGTH_TOO_LONG", "UNKNOWN_PROTOCOL", "HTTP_REQUEST",
            ]
            where details.contains(marker) {
                return "the server does not speak TLS"
            }
            return "the TLS handshake failed (\(reasons(error) ?? details))"
        case let error as NIOSSLError:
            return "the TLS connection failed (\(reasons(error) ?? "\(error)"))"
        case let error as NIOSSLExtraError:
            return "the TLS connection failed (\(error))"
        case let error as BoringSSLError:
            return "the TLS connection failed (\(reasons(error) ?? "\(error)"))"
        default:
            return nil
        }
    }

    /// Whether `bytes`, the first a server sent to a client that does not speak TLS, begin a TLS
    /// record: a server that speaks TLS answers a plain login with an alert, which a line reader
    /// would otherwise take for text (`\u{15}\u{3}\u{1}\u{0}\u{2}\u{2}F`).
    public static func beginsARecord(_ bytes: ByteBuffer) -> Bool {
        // A record's content type (change cipher spec, alert, handshake, data), then version 3.x.
        guard let header = bytes.getBytes(at: bytes.readerIndex, length: 3) else { return false }
        return (0x14...0x17).contains(header[0]) && header[1] == 0x03 && header[2] <= 0x04
    }
}
