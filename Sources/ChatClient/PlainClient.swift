import ChatProtocol
import NIOCore

/// The client for pipes and scripts: stdin lines go to the server as they are, server lines go
/// to stdout unchanged, one write per line.
///
/// Exit status: 0 when input ended and the server then closed the connection (the drain), or
/// when the reader of stdout went away; 1 with one line on stderr when the connection could not
/// be made, broke, or the server closed it while input was still open (a refused login, a
/// server going away).
public struct PlainClient: Sendable {
    public var endpoint: ServerEndpoint
    public var login: String?

    public init(endpoint: ServerEndpoint, login: String?) {
        self.endpoint = endpoint
        self.login = login
    }

    /// Runs the session and returns the exit status.
    public func run() async -> Int32 {
        let endpoint = self.endpoint
        do {
            let end = try await StandardInputLines.withLines(maximumLineBytes: ChatSession.maximumLineBytes) {
                lines in
                try await ChatSession.run(
                    endpoint: endpoint,
                    login: login,
                    input: lines.compactMap { framed -> ByteBuffer? in
                        guard case .line(let line) = framed else {
                            Self.report(
                                "skipped an input line longer than \(ChatSession.maximumLineBytes) bytes")
                            return nil
                        }
                        return line
                    },
                    afterInputEnds: .drainServer,
                    onServerLine: { framed in
                        switch framed {
                        case .line(let line):
                            try OutputStream.standardOutput.writeLine(line)
                        case .overlong:
                            Self.report(
                                "skipped a line from the server longer than \(ChatSession.maximumLineBytes) bytes"
                            )
                        }
                    }
                )
            }
            switch end {
            case .inputEnded:
                return 0
            case .serverClosed:
                Self.report(ClientError.closedByServer(endpoint).description)
                return 1
            }
        } catch is OutputClosed {
            return 0
        } catch {
            Self.report("\(error)")
            return 1
        }
    }

    /// One line on stderr, prefixed with the program's name like any Unix tool's complaint.
    static func report(_ message: String) {
        try? OutputStream.standardError.writeLine("chat-client: " + message)
    }
}
