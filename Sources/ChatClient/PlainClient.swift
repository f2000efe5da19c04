import AsyncAlgorithms
import ChatProtocol
import NIOCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The client for pipes and scripts: stdin lines go to the server as they are, server lines go
/// to stdout unchanged, one write per line; on a terminal, control characters in them are shown
/// as the full screen shows them (see `TerminalStandIns`), so a peer cannot drive the terminal.
///
/// Exit status: 1 with one line on stderr when the connection could not be made, broke, the
/// server closed it while input was still open, or the server sent a notice at any point (a
/// refused login, an offline recipient, a shutdown); otherwise 0: input ended, the server then
/// closed the connection (the drain) without a complaint, or the reader of stdout went away.
///
/// Counting every notice makes a refused login fail whatever the timing (a short script's input
/// may end before or after the server refuses it) and tells a script that not everything it
/// sent was delivered.
///
/// With reconnecting on (`--reconnect`), a lost connection is not the end: the client says so
/// on stderr, waits as `ReconnectPolicy` says, logs in again with the same login and goes on
/// reading stdin where it stopped. While no connection is up, stdin is not read.
public struct PlainClient: Sendable {
    public var endpoint: ServerEndpoint
    public var login: String?
    public var reconnect: ReconnectPolicy
    public var log: ConversationLog?
    public var tls: ClientTLS?
    /// Whether stdout is a terminal: then a line is made safe to show, as on the full screen; a
    /// pipe gets it byte for byte, which scripts rely on.
    public var writesToTerminal: Bool

    public init(
        endpoint: ServerEndpoint, tls: ClientTLS? = nil, login: String?,
        reconnect: ReconnectPolicy = ReconnectPolicy(isEnabled: false), log: ConversationLog? = nil,
        writesToTerminal: Bool = isatty(STDOUT_FILENO) == 1
    ) {
        self.endpoint = endpoint
        self.tls = tls
        self.login = login
        self.reconnect = reconnect
        self.log = log
        self.writesToTerminal = writesToTerminal
    }

    /// What the sessions of one run share.
    private final class RunState: Sendable {
        /// A line that could not be sent at all is as much a failure as one the server refused.
        let skippedInput = Mutex(false)
        /// The first line sent without a LOGIN argument: the login, for every reconnect.
        let typedLogin = Mutex<String?>(nil)
        let lastNotice = Mutex<String?>(nil)
        let loginReply = Mutex(LoginReplyWatch())
        /// When the running session's connection came up, if it did.
        let connectedAt = Mutex<ContinuousClock.Instant?>(nil)
    }

    /// Runs the sessions and returns the exit status.
    public func run() async -> Int32 {
        do {
            return try await StandardInputLines.withLines(maximumLineBytes: ChatSession.maximumLineBytes) {
                lines in
                // Stdin is read by one task for the whole run and handed to whichever session is
                // up, one line at a time: a session that ends leaves the rest for the next one.
                let input = AsyncThrowingChannel<ByteBuffer, any Error>()
                let state = RunState()
                return await withTaskGroup(of: Int32?.self) { group in
                    group.addTask {
                        await Self.pump(lines, into: input, state: state, log: log)
                        return nil
                    }
                    group.addTask { await runSessions(input: input, state: state) }
                    var status: Int32 = 1
                    while let result = await group.next() {
                        guard let result else { continue }
                        status = result
                        break
                    }
                    group.cancelAll()
                    return status
                }
            }
        } catch {
            report("\(error)")
            return 1
        }
    }

    private static func pump(
        _ lines: StandardInputLines, into input: AsyncThrowingChannel<ByteBuffer, any Error>, state: RunState,
        log: ConversationLog?
    ) async {
        do {
            for try await framed in lines {
                guard case .line(let line) = framed else {
                    state.skippedInput.withLock { $0 = true }
                    Self.report(
                        "skipped an input line longer than \(ChatSession.maximumLineBytes) bytes", log: log)
                    continue
                }
                await input.send(line)
            }
            input.finish()
        } catch {
            input.fail(error)
        }
    }

    private func runSessions(input: AsyncThrowingChannel<ByteBuffer, any Error>, state: RunState) async
        -> Int32
    {
        var lifecycle = ConnectionLifecycle(policy: reconnect, login: login, asksForAnotherLogin: false)
        var action = lifecycle.start()
        while true {
            switch action {
            case .connect(let login):
                // After a failure, coming back is news; the first connect is not.
                var announcement: String?
                if case .connecting(let attempt) = lifecycle.phase, attempt > 0 {
                    announcement =
                        (lifecycle.isReconnect ? "reconnected to " : "connected to ") + "\(endpoint)"
                }
                let end: ConnectionLifecycle.SessionEnd
                let why: String
                do {
                    let ending = try await session(
                        login: login, input: input, state: state, announcement: announcement)
                    if ending.end == .inputEnded { return finalStatus(state) }
                    let closed = ClientError.closedByServer(endpoint).description
                    why = ending.finalNotice.map { "\(closed): \($0)" } ?? closed
                    end = state.loginReply.withLock { $0.refusalOnClose }.map { .loginRefused($0) } ?? .lost
                } catch is OutputClosed {
                    return log?.hasGivenUp == true ? 1 : 0
                } catch let error as ClientError {
                    switch error {
                    case .cannotReadInput:
                        report(error.description)
                        return 1
                    case .cannotSecure, .speaksTLS:
                        (end, why) = (.insecure, error.description)
                    default:
                        (end, why) = (.lost, error.description)
                    }
                } catch {
                    report("\(error)")
                    return 1
                }
                if let connectedAt = state.connectedAt.withLock({ $0.take() }) {
                    lifecycle.connected(now: connectedAt)
                }
                guard let next = ended(end, why: why, lifecycle: &lifecycle, state: state) else { return 1 }
                action = next
            case .wait(let deadline, _), .waitForHeldLogin(let deadline, _, _):
                do {
                    try await Task.sleep(until: deadline)
                } catch {
                    return 1
                }
                action = lifecycle.tick(now: .now) ?? action
            case .askForAnotherLogin, .awaitLogin, .stop, .exit:
                return 1
            }
        }
    }

    /// Hands the end of a session to the lifecycle and says what comes next on stderr; nil when
    /// nothing does.
    private func ended(
        _ end: ConnectionLifecycle.SessionEnd, why: String, lifecycle: inout ConnectionLifecycle,
        state: RunState
    ) -> ConnectionLifecycle.Action? {
        if lifecycle.login == nil, let typed = state.typedLogin.withLock({ $0 }) {
            lifecycle.loginChosen(typed)
        }
        // One reading of the clock: the wait announced is the one the lifecycle chose, however
        // long this thread was held up in between.
        let now = ContinuousClock.now
        let next = lifecycle.sessionEnded(end, now: now)
        // Said once, not counted down as on the full screen: a wait of 1.2 s is not "2 s".
        let announced = { (deadline: ContinuousClock.Instant) in
            Wording.countdown(deadline - now, wholeSecondsFrom: 10)
        }
        switch next {
        case .wait(let deadline, let attempt):
            report("\(why); reconnecting in \(announced(deadline)) (attempt \(attempt))")
            return next
        case .waitForHeldLogin(let deadline, let retry, let limit):
            report(
                "\(why); the login is most likely still held by the lost connection; trying again in "
                    + "\(announced(deadline)) (\(retry) of \(limit))")
            return next
        default:
            report(why)
            return nil
        }
    }

    private func session(
        login: String?, input: AsyncThrowingChannel<ByteBuffer, any Error>, state: RunState,
        announcement: String?
    ) async throws -> ChatSession.Ending {
        state.loginReply.withLock { $0 = LoginReplyWatch() }
        let endpoint = self.endpoint
        let log = self.log
        let knownLogin = login
        let writesToTerminal = self.writesToTerminal
        let ending = try await ChatSession.run(
            endpoint: endpoint,
            tls: tls,
            login: login,
            input: input.map { line in
                // Without LOGIN, the first line is the login; a reconnect sends it first itself.
                let typedLogin = state.typedLogin.withLock { typed -> String? in
                    guard knownLogin == nil && typed == nil else { return nil }
                    typed = Login.trimmed(String(buffer: line))
                    return typed
                }
                if let log {
                    let logged: ConversationLog.Line =
                        typedLogin.map { .remark("logging in as \($0)") }
                        ?? .sent(String(buffer: line), by: knownLogin ?? state.typedLogin.withLock { $0 })
                    Self.append(logged, to: log)
                }
                return line
            },
            afterInputEnds: .drainServer,
            onConnected: {
                state.connectedAt.withLock { $0 = .now }
                if let announcement { Self.report(announcement, log: log) }
                if let knownLogin { Self.append(.remark("logging in as \(knownLogin)"), to: log) }
            },
            onServerLine: { framed in
                switch framed {
                case .line(let line):
                    let parsed = log == nil ? Self.parse(line) : ServerLine.parse(String(buffer: line))
                    state.loginReply.withLock { $0.heard(parsed) }
                    if case .notice(let text) = parsed { state.lastNotice.withLock { $0 = text } }
                    if writesToTerminal {
                        try OutputStream.standardOutput.writeLine(
                            TerminalStandIns.escaped(String(buffer: line)))
                    } else {
                        try OutputStream.standardOutput.writeLine(line)
                    }
                    Self.append(Self.loggedLine(parsed), to: log)
                case .overlong:
                    state.loginReply.withLock { $0.heardOtherLine() }
                    Self.report(
                        "skipped a line from the server longer than \(ChatSession.maximumLineBytes) bytes",
                        log: log)
                }
            }
        )
        return ending
    }

    /// Notices are parsed in full; other lines only as far as the watch needs: not at all.
    private static func parse(_ line: ByteBuffer) -> ServerLine {
        guard line.readableBytesView.starts(with: noticePrefix) else { return .other("") }
        return ServerLine.parse(String(buffer: line))
    }

    private static let noticePrefix = Array(Wire.noticePrefix.utf8)

    private func finalStatus(_ state: RunState) -> Int32 {
        if let notice = state.lastNotice.withLock({ $0 }) {
            report("the server reported an error: \(notice)")
            return 1
        }
        return state.skippedInput.withLock { $0 } || log?.hasGivenUp == true ? 1 : 0
    }

    private func report(_ message: String) {
        Self.report(message, log: log)
    }

    /// One line on stderr, prefixed with the program's name like any Unix tool's complaint. It
    /// may quote the server's notice, so on a terminal it is made safe to show, as stdout is.
    static func report(_ message: String, log: ConversationLog?) {
        let shown = isatty(STDERR_FILENO) == 1 ? TerminalStandIns.escaped(message) : message
        try? OutputStream.standardError.writeLine("chat-client: " + shown)
        append(.remark(message), to: log)
    }

    /// The log is the user's second copy of the conversation: one that cannot be written any
    /// more is said once on stderr and makes the exit status 1 (`finalStatus`), but the
    /// conversation goes on, since stdout still has it.
    private static func append(_ line: ConversationLog.Line, to log: ConversationLog?) {
        guard let log, let failure = log.append(line, at: now()) else { return }
        try? OutputStream.standardError.writeLine("chat-client: \(failure); going on without it")
    }

    private static func loggedLine(_ line: ServerLine) -> ConversationLog.Line {
        switch line {
        case .message(let sender, let text): return .message(from: sender, text: text)
        case .notice(let text): return .notice(text)
        case .other(let text): return .other(text)
        }
    }

    private static func now() -> Int { Int(time(nil)) }
}
