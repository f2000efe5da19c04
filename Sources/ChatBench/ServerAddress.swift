import ChatProtocol

/// Where one server listens, as `HOST:PORT`.
public struct ServerAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `127.0.0.1:8080`, `[::1]:8080`, `localhost:8080`: an IPv6 host has colons of its own, so
    /// the port is after the last one, and the brackets around it go. Nil without a host or a
    /// port of 1 to 65535.
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), colon > text.startIndex,
            let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port)
        else { return nil }
        let host = text[..<colon]
        self.host = String(host.hasPrefix("[") && host.hasSuffix("]") ? host.dropFirst().dropLast() : host)
        guard !self.host.isEmpty else { return nil }
        self.port = port
    }

    /// From a server's `listening on HOST:PORT` line.
    init?(listeningLine line: String) {
        self.init(String(line.dropFirst("listening on ".count)))
    }

    public var description: String { Wording.address(host: host, port: port) }
}
