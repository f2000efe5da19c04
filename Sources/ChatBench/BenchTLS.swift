import NIOCore
import NIOSSL
import TLSTrust

/// TLS for every client of a run, trusting one CA: the server is verified as `chat-client`
/// verifies it, against its host name, or its IP address when it is reached by one.
struct BenchTLS {
    let context: NIOSSLContext

    init(trustedCAFile path: String) throws {
        do {
            context = try TLSTrust.clientContext(trusting: path, option: "--tls-ca")
        } catch {
            throw BenchError(description: error.description)
        }
    }

    /// The handler for a connection to `host`.
    func handler(for host: String) throws -> NIOSSLClientHandler {
        try NIOSSLClientHandler(context: context, serverHostname: TLSTrust.serverHostname(for: host))
    }

    /// Why a TLS connection to `server` failed, for a person, or nil if it was not TLS's doing.
    static func reason(_ error: any Error, server: ServerAddress) -> String? {
        TLSTrust.handshakeFailure(error, host: server.host).map { "TLS with \(server): \($0)" }
    }
}
