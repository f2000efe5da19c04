import ChatProtocol
import NIOCore
import Synchronization

/// The client for pipes and scripts: stdin lines go to the server as they are, server lines go
/// to stdout unchanged, one write per line.
///
/// Exit status: 1 with one line on stderr when the connection could not be made, broke, the
/// server closed it while input was still open, or the server sent a notice at any point (a
/// refused login, an offline recipient, a shutdown); otherwise 0: input ended, the server then
/// closed the connection (the drain) without a complaint, or the reader of stdout went away.
///
/// Counting every notice makes a refused login fail whatever the timing (a short script's input
/// may end before or after the server refuses it) and tells a script that not everything it
/// sent was delivered.
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
        // A line that could not be sent at all is as much a failure as one the server refused.
        let skippedInput = Mutex(false)
        do {
            let ending = try await StandardInputLines.withLines(
                maximumLineBytes: ChatSession.maximumLineBytes
            ) {
                lines in
                try await ChatSession.run(
                    endpoint: endpoint,
                    login: login,
                    input: lines.compactMap { framed -> ByteBuffer? in
                        guard case .line(let line) = framed else {
                            skippedInput.withLock { $0 = true }
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
            switch (ending.end, ending.lastNotice) {
            case (.serverClosed, _):
                let closed = ClientError.closedByServer(endpoint).description
                Self.report(ending.finalNotice.map { "\(closed): \($0)" } ?? closed)
                return 1
            case (.inputEnded, let notice?):
                Self.report("the server reported an error: \(notice)")
                return 1
            case (.inputEnded, nil):
                return skippedInput.withLock { $0 } ? 1 : 0
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
