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

    public init(host: String = "127.0.0.1", port: Int = 8080) {
        self.host = host
        self.port = port
    }

    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// Why a session could not start or did not end the normal way. Each description is one line
/// meant for a person: plain mode prints it on stderr, the full screen in its status line.
public enum ClientError: Error, Equatable, Sendable, CustomStringConvertible {
    case cannotConnect(ServerEndpoint, reason: String)
    case connectionLost(ServerEndpoint, reason: String)
    /// The server ended the session while the client still had input to send.
    case closedByServer(ServerEndpoint)
    case cannotReadInput(reason: String)

    /// The reason alone, short enough for a status line that already names the server.
    public var shortReason: String {
        switch self {
        case .cannotConnect(_, let reason), .connectionLost(_, let reason):
            return reason
        case .closedByServer:
            return "server closed the connection"
        case .cannotReadInput(let reason):
            return "cannot read input: \(reason)"
        }
    }

    public var description: String {
        switch self {
        case .cannotConnect(let endpoint, let reason):
            return "cannot connect to \(endpoint): \(reason)"
        case .connectionLost(let endpoint, let reason):
            return "connection to \(endpoint) lost: \(reason)"
        case .closedByServer(let endpoint):
            return "server \(endpoint) closed the connection"
        case .cannotReadInput(let reason):
            return "cannot read input: \(reason)"
        }
    }

    /// A short reason for `error`, worded like `strerror` but in lower case to fit mid-sentence:
    /// "connection refused", not a dump of NIO's error structure.
    public static func reason(_ error: any Error) -> String {
        switch error {
        case let error as NIOConnectionError:
            if let dnsError = error.dnsAError ?? error.dnsAAAAError {
                return reason(dnsError)
            }
            // Every address failed; the last attempt's reason is the one a person can act on.
            guard let last = error.connectionErrors.last else { return "no address to connect to" }
            return reason(last.error)
        case let error as IOError:
            return describe(errno: error.errnoCode)
        case let error as SocketAddressError.UnknownHost:
            return resolutionFailure(code: error.errorCode, description: error.errorDescription)
        case let error as SocketAddressError:
            return "\(error)"
        case let error as ChannelError:
            switch error {
            case .connectTimeout: return "timed out"
            case .ioOnClosedChannel, .alreadyClosed, .outputClosed: return "connection closed"
            default: return "\(error)"
            }
        default:
            return "\(error)"
        }
    }

    /// Why `getaddrinfo` found no address, from its error code and `gai_strerror`'s text.
    static func resolutionFailure(code: Int, description: String) -> String {
        guard CInt(truncatingIfNeeded: code) != EAI_NONAME else { return "unknown host" }
        return "cannot resolve host: " + description.prefix(1).lowercased() + description.dropFirst()
    }

    static func describe(errno code: CInt) -> String {
        guard let message = strerror(code) else { return "error \(code)" }
        let text = String(cString: message)
        return text.prefix(1).lowercased() + text.dropFirst()
    }
}
