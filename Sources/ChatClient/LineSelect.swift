/// What the session does once the input side has ended.
public enum AfterInputEnds: Sendable {
    /// Stop at once, dropping whatever the server still sends: a person who quits is done.
    case stop
    /// Keep taking the server's lines until it closes: the contract's end-of-input drain, so a
    /// script's last lines are delivered and their answers printed.
    case drainServer
}

/// Which side ended the session.
public enum SessionEnd: Equatable, Sendable {
    /// The server closed while input was still open.
    case serverClosed
    /// Input ended first (and, when draining, the server closed after it).
    case inputEnded
}

/// Reading the input stream failed: kept apart from the server side's errors, which a caller
/// reports as a lost connection.
public struct InputFailure: Error {
    public let underlying: any Error
}

/// The tutorial's `select!` loop: races a stream of server lines against a stream of input lines,
/// handing each line to its handler as it arrives.
///
/// Whichever stream ends first decides the outcome. When the server's ends first, the input
/// side's task is cancelled, so nothing is left waiting on a stream that no longer matters. When
/// input ends first, `onInputEnd` runs (a half-close), then `.stop` cancels the server side and
/// `.drainServer` reads it to its end. Errors from either stream or handler end the race and are rethrown; an error reading input
/// comes wrapped in `InputFailure`.
public func selectLines<ServerLines: AsyncSequence & Sendable, InputLines: AsyncSequence & Sendable>(
    server serverLines: ServerLines,
    input inputLines: InputLines,
    afterInputEnds: AfterInputEnds,
    onServerLine: @escaping @Sendable (ServerLines.Element) async throws -> Void,
    onInputLine: @escaping @Sendable (InputLines.Element) async throws -> Void,
    onInputEnd: @escaping @Sendable () async throws -> Void = {}
) async throws -> SessionEnd {
    // Each side's task returns the end it stands for.
    try await withThrowingTaskGroup(of: SessionEnd.self) { group in
        group.addTask {
            for try await line in serverLines {
                try await onServerLine(line)
            }
            return .serverClosed
        }
        group.addTask {
            var lines = inputLines.makeAsyncIterator()
            while true {
                let line: InputLines.Element?
                do {
                    line = try await lines.next()
                } catch {
                    throw InputFailure(underlying: error)
                }
                guard let line else { return .inputEnded }
                try await onInputLine(line)
            }
        }
        let first = try await group.next()!
        if first == .serverClosed {
            group.cancelAll()
            return .serverClosed
        }
        // Only now, with the outcome settled, may the server learn that input ended: its
        // answer (closing) must not be mistaken for the server closing first.
        try await onInputEnd()
        if afterInputEnds == .drainServer {
            _ = try await group.next()
        } else {
            group.cancelAll()
        }
        return .inputEnded
    }
}
