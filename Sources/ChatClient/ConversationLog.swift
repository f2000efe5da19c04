import ChatProtocol
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `--log FILE`: every line of the conversation appended to a file as it is shown, one `write`
/// per line, so what was written survives the client being killed. Plain UTF-8: a time, then
/// the line as the screen words it, with control characters made visible as on the screen.
public final class ConversationLog: Sendable {
    public enum Line: Equatable, Sendable {
        case message(from: String, text: String)
        case notice(String)
        /// A server line that is neither a message nor a notice.
        case other(String)
        /// A line the user sent, from `login`.
        case sent(String, by: String?)
        /// The client's own remarks.
        case remark(String)

        /// The line as the log words it, after the time.
        public var text: String {
            switch self {
            case .message(let sender, let text): return "\(sender): \(text)"
            case .notice(let text): return "-!- " + text
            case .other(let text): return text
            case .sent(let line, let login?): return "\(login) → \(line)"
            case .sent(let line, nil): return "→ " + line
            case .remark(let text): return "-- " + text
            }
        }
    }

    public struct OpenFailure: Error, CustomStringConvertible {
        public let path: String
        public let errnoCode: CInt

        public var description: String { "cannot open the log \(path): \(Wording.reason(errno: errnoCode))" }
    }

    private let output: OutputStream
    /// Set by the first append that fails: a log with a hole in it would mislead whoever reads
    /// it later, so the log stops there.
    private let givenUp = Mutex(false)

    /// Opens `path` for appending, creating it readable by its owner only: a conversation is
    /// nobody else's business.
    public init(path: String) throws {
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw OpenFailure(path: path, errnoCode: errno) }
        output = OutputStream(descriptor: descriptor)
    }

    /// Appends `line`, said at `time` (seconds since the epoch), unless an earlier append
    /// failed. The first failure is returned, worded for the user (`cannot write the log any
    /// more (no space left on device)`); later calls return nil and write nothing.
    public func append(_ line: Line, at time: Int) -> String? {
        let text = Self.timestamp(time) + " " + TerminalStandIns.escaped(line.text)
        // Written under the lock: in plain mode the input and the connection append side by
        // side, and a write that passed the check just before another failed would leave a hole.
        let failure = givenUp.withLock { given -> (any Error)? in
            guard !given else { return nil }
            do {
                try output.writeLine(text)
                return nil
            } catch {
                given = true
                return error
            }
        }
        guard let error = failure else { return nil }
        let why =
            switch error {
            case let failure as OutputFailure: Wording.reason(errno: failure.errnoCode)
            case is OutputClosed: "its reader went away"
            default: "\(error)"
            }
        return "cannot write the log any more (\(why))"
    }

    public var hasGivenUp: Bool { givenUp.withLock { $0 } }

    public func close() {
        _ = systemClose(output.descriptor)
    }

    /// `2025-05-01 14:03:59`, local time.
    static func timestamp(_ time: Int) -> String {
        var seconds = time_t(time)
        var parts = tm()
        localtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
    }
}

private func systemClose(_ descriptor: CInt) -> CInt {
    close(descriptor)
}
