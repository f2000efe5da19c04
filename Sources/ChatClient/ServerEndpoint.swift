import ChatProtocol
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where the client connects.
public struct ServerEndpoint: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// How long a connect may take before it fails as timed out.
    public var connectTimeout: Duration

    public init(host: String = "127.0.0.1", port: Int = 8080, connectTimeout: Duration = .seconds(10)) {
        self.host = host
        self.port = port
        self.connectTimeout = connectTimeout
    }

    public var description: String { Wording.address(host: host, port: port) }
}

/// Why a session could not start or did not end the normal way. Each description is one line
/// meant for a person: plain mode prints it on stderr, the full screen in its status line.
public enum ClientError: Error, Equatable, Sendable, CustomStringConvertible {
    case cannotConnect(ServerEndpoint, reason: String)
    /// The TLS handshake failed: the server's certificate did not verify, or it does not
    /// speak TLS. Never followed by a try in plain text.
    case cannotSecure(ServerEndpoint, reason: String)
    case connectionLost(ServerEndpoint, reason: String)
    /// Connected without TLS to a server that answered in TLS: like `cannotSecure`, not worth
    /// another try as it is.
    case speaksTLS(ServerEndpoint)
    /// The server ended the session while the client still had input to send.
    case closedByServer(ServerEndpoint)
    case cannotReadInput(reason: String)

    /// The reason alone, short enough for a status line that already names the server.
    public var shortReason: String {
        switch self {
        case .cannotConnect(_, let reason), .cannotSecure(_, let reason), .connectionLost(_, let reason):
            return reason
        case .closedByServer:
            return "server closed the connection"
        case .speaksTLS:
            return Self.speaksTLSReason
        case .cannotReadInput(let reason):
            return "cannot read input: \(reason)"
        }
    }

    static let speaksTLSReason = "the server speaks TLS; connect with --tls (or --tls-ca)"

    public var description: String {
        switch self {
        case .cannotConnect(let endpoint, let reason):
            return "cannot connect to \(endpoint): \(reason)"
        case .cannotSecure(let endpoint, let reason):
            return "cannot connect securely to \(endpoint): \(reason)"
        case .connectionLost(let endpoint, let reason):
            return "connection to \(endpoint) lost: \(reason)"
        case .closedByServer(let endpoint):
            return "server \(endpoint) closed the connection"
        case .speaksTLS(let endpoint):
            return "cannot chat with \(endpoint): \(Self.speaksTLSReason)"
        case .cannotReadInput(let reason):
            return "cannot read input: \(reason)"
        }
    }

    /// A short reason for `error` (see `Wording.reason`); a failed connect gives the reason of
    /// the attempt a person can act on.
    public static func reason(_ error: any Error) -> String {
        guard let error = error as? NIOConnectionError else { return Wording.reason(error) }
        if let dnsError = error.dnsAError ?? error.dnsAAAAError { return Wording.reason(dnsError) }
        // Every address failed; the last attempt's reason is the one a person can act on.
        guard let last = error.connectionErrors.last else { return "no address to connect to" }
        return Wording.reason(last.error)
    }
}
