import NIOCore
import NIOSSL

/// TLS for every client of a run, trusting one CA: the server is verified as `chat-client`
/// verifies it, against its host name, or its IP address when it is reached by one.
struct BenchTLS {
    let context: NIOSSLContext

    init(trustedCAFile path: String) throws {
        var configuration = TLSConfiguration.makeClientConfiguration()
        do {
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(path))
            configuration.certificateVerification = .fullVerification
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw BenchError(description: "--tls-ca \(path): cannot read a PEM certificate (\(error))")
        }
    }

    /// The handler for a connection to `host`. A name goes in SNI and is checked against the
    /// certificate; an address cannot go in SNI, and is checked against the certificate's IP
    /// addresses instead.
    func handler(for host: String) throws -> NIOSSLClientHandler {
        let isAddress = (try? SocketAddress(ipAddress: host, port: 0)) != nil
        return try NIOSSLClientHandler(context: context, serverHostname: isAddress ? nil : host)
    }

    /// Why a TLS connection to `server` failed, for a person: the usual two in words, anything
    /// else as NIOSSL reports it.
    static func reason(_ error: any Error, server: ServerAddress) -> String? {
        switch error {
        case let error as NIOSSLExtraError where error == .failedToValidateHostname:
            return "TLS with \(server): its certificate is not for \(server.host)"
        case let error as NIOSSLExtraError:
            return "TLS with \(server) failed: \(error)"
        case let error as NIOSSLError:
            // BoringSSL's reasons come as text only.
            let text = "\(error)"
            if text.contains("CERTIFICATE_VERIFY_FAILED") {
                return "TLS with \(server): its certificate is not signed by the --tls-ca certificate"
            }
            if text.contains("WRONG_VERSION_NUMBER") {
                return "TLS with \(server): it does not answer in TLS (a plain-text server?)"
            }
            return "TLS with \(server) failed: \(error)"
        case let error as BoringSSLError:
            return "TLS with \(server) failed: \(error)"
        default:
            return nil
        }
    }
}
