import ChatClient
import ChatProtocol

/// What the model asks of the loop that runs it.
public enum ScreenCommand: Equatable, Sendable {
    case send(String)
    /// Leave with `ChatScreenModel.exitStatus`.
    case quit
    /// Ctrl-L: repaint every cell, for when something else wrote over the screen.
    case repaint
    /// Ctrl-Z: give the terminal back and stop, until the shell's `fg`.
    case suspend
    /// Start a session; `login` goes first when there is one. Lines entered from now on go over
    /// it.
    case connect(login: String?)
}

/// How a session ended, as the loop reports it: the short reason for the status line and the
/// whole sentence for the scrollback.
public enum SessionReport: Equatable, Sendable {
    /// The connection could not be made, or broke.
    case failed(reason: String, remark: String)
    /// The connection could not be secured: nothing is sent over it, and trying again would
    /// fail the same way.
    case insecure(reason: String, remark: String)
    /// The server closed the connection; `reason` is its last notice when it sent one.
    case closedByServer(reason: String, remark: String)
}

/// The whole state of the full-screen client, without a terminal: what is typed, what was said,
/// where the user has scrolled, the connection's life, what wants attention, and the frame that
/// shows it. Every key, server line and tick goes through here, so the behaviour is tested
/// without curses, sockets or waiting.
public struct ChatScreenModel: Sendable {
    public struct Options: Sendable {
        public var serverName: String
        public var login: String?
        public var showsTimestamps: Bool
        public var scrollbackLines: Int
        public var reconnect: ReconnectPolicy
        /// Ring the bell for a message the user cannot see yet.
        public var rings: Bool
        /// Keep every new entry for `takeNewEntries()`, for the log.
        public var keepsNewEntries: Bool

        public init(
            serverName: String, login: String?, showsTimestamps: Bool = true, scrollbackLines: Int = 10_000,
            reconnect: ReconnectPolicy = ReconnectPolicy(isEnabled: true), rings: Bool = true,
            keepsNewEntries: Bool = false
        ) {
            self.serverName = serverName
            self.login = login
            self.showsTimestamps = showsTimestamps
            self.scrollbackLines = scrollbackLines
            self.reconnect = reconnect
            self.rings = rings
            self.keepsNewEntries = keepsNewEntries
        }
    }

    public let options: Options
    public internal(set) var lifecycle: ConnectionLifecycle
    public internal(set) var editor = LineEditor()
    public internal(set) var history = InputHistory()
    public internal(set) var completion = LoginCompletion()
    public internal(set) var scrollback: Scrollback<TranscriptEntry>
    public internal(set) var size = (rows: 24, columns: 80)
    public internal(set) var attention = Attention()
    public internal(set) var search = Search()
    /// The last tick's time: what the countdown counts from.
    public internal(set) var now: ContinuousClock.Instant
    /// Set when the user quits.
    public internal(set) var exitStatus: Int32 = 0
    /// What this connection has heard so far, to tell a refused login from any other close.
    var loginReply = LoginReplyWatch()
    /// Messages sent on this connection: all of them lost if it ends with the login refused,
    /// since the server answers a login it refuses with nothing but the refusal.
    var messagesSentOnSession = 0
    /// The short reason the last session ended, for the status line.
    var lastReason = ""
    /// The failure last remarked on since the connection last worked: a server that stays down
    /// is said so once, not at every attempt.
    var lastFailureRemark: String?
    /// The current session until it shows that it is up.
    var opening: SessionOpening?
    /// Why the last session was turned away, while attempts follow.
    var lastTurnAway: TurnAway?
    var newEntries: [TranscriptEntry] = []
    /// Seconds since the epoch; a test sets a fixed clock.
    let clock: @Sendable () -> Int

    public init(
        options: Options,
        clock: @escaping @Sendable () -> Int,
        now: ContinuousClock.Instant = .now,
        jitter: @escaping @Sendable () -> Double = { Double.random(in: 0...1) }
    ) {
        self.options = options
        self.lifecycle = ConnectionLifecycle(
            policy: options.reconnect, login: options.login, asksForAnotherLogin: options.login == nil,
            jitter: jitter)
        self.scrollback = Scrollback(capacity: options.scrollbackLines)
        self.clock = clock
        self.now = now
    }

    /// The login shown as the user's: not one the server refused.
    public var login: String? { lifecycle.phase == .refused ? nil : lifecycle.login }

    /// Rows of the scrollback pane: everything above the status and input lines.
    public var paneHeight: Int { max(0, size.rows - 2) }

    var layout: TranscriptLayout {
        TranscriptLayout(width: size.columns, showsTimestamps: options.showsTimestamps, mentionedLogin: login)
    }

    public mutating func resize(rows: Int, columns: Int) {
        size = (rows, columns)
    }

    // MARK: Server lines

    public mutating func receive(serverLine line: String) {
        let parsed = ServerLine.parse(line)
        loginReply.heard(parsed)
        let received: TranscriptEntry.Kind
        switch parsed {
        case .message(let sender, let text):
            completion.noteLogin(sender)
            received = .message(from: sender, text: text)
        case .notice(let text):
            // A notice may be the refusal that turns the session away.
            appendOpening(.notice(text))
            return
        case .other(let text):
            received = .other(text)
        }
        append(received.shown, logged: received)
        if case .message = received {
            attention.messageArrived(seen: scrollback.isAtBottom, rings: options.rings)
        }
    }

    public mutating func receiveOverlongLine() {
        loginReply.heardOtherLine()
        // The client skipped it, the server said nothing: a remark of ours, not a notice.
        note("skipped a line from the server longer than the client's limit")
    }

    // MARK: The scrollback

    /// Adds `kind` to the scrollback, and `logged` (the line whole, where the scrollback keeps
    /// it cut) to what the log gets. Anything added but a session's opening lines shows that the
    /// session is up.
    mutating func append(_ kind: TranscriptEntry.Kind, logged: TranscriptEntry.Kind? = nil) {
        sessionIsUp()
        let entry = TranscriptEntry(time: clock(), kind: kind)
        commit(entry, logged: TranscriptEntry(time: entry.time, kind: logged ?? kind))
    }

    mutating func commit(_ entry: TranscriptEntry, logged: TranscriptEntry) {
        scrollback.append(entry)
        if options.keepsNewEntries { newEntries.append(logged) }
    }

    mutating func note(_ text: String) {
        append(.info(text))
    }

    /// A remark of the loop's own, such as a log that cannot be written.
    public mutating func remark(_ text: String) {
        note(text)
    }

    /// Every entry added since the last call, in order, including those a full scrollback has
    /// already dropped or `/clear` cleared: the log gets them all.
    public mutating func takeNewEntries() -> [TranscriptEntry] {
        defer { newEntries.removeAll(keepingCapacity: true) }
        return newEntries
    }

    var rowCount: (TranscriptEntry) -> Int {
        let layout = self.layout
        return { layout.rows(for: $0).count }
    }
}
