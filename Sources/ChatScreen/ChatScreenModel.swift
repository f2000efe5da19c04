import ChatProtocol

/// What the model asks of the loop that runs it.
public enum ScreenCommand: Equatable, Sendable {
    case send(String)
    case quit
    /// Ctrl-L: repaint every cell, for when something else wrote over the screen.
    case repaint
    /// Open a new connection and send what is entered from now on over it; the model is already
    /// back to `connecting`.
    case reconnect
}

public enum ConnectionState: Equatable, Sendable {
    case connecting
    case connected
    /// With a short reason for the status line: "connection refused", not the whole sentence.
    case disconnected(String)
}

/// The whole state of the full-screen client, without a terminal: what is typed, what was said,
/// where the user has scrolled, and the frame that shows it. Every key and every server line
/// goes through here, so the behaviour is tested without curses.
public struct ChatScreenModel: Sendable {
    public struct Options: Sendable {
        public var serverName: String
        public var login: String?
        public var showsTimestamps: Bool
        public var scrollbackLines: Int

        public init(
            serverName: String, login: String?, showsTimestamps: Bool = true, scrollbackLines: Int = 10_000
        ) {
            self.serverName = serverName
            self.login = login
            self.showsTimestamps = showsTimestamps
            self.scrollbackLines = scrollbackLines
        }
    }

    public let options: Options
    public internal(set) var login: String?
    public internal(set) var connection = ConnectionState.connecting
    public internal(set) var editor = LineEditor()
    public internal(set) var history = InputHistory()
    public internal(set) var completion = LoginCompletion()
    public internal(set) var scrollback: Scrollback<TranscriptEntry>
    public internal(set) var size = (rows: 24, columns: 80)
    /// What this connection has heard so far, to tell a refused login from any other close.
    private var loginReply = LoginReplyWatch()
    /// Seconds since the epoch; a test sets a fixed clock.
    private let clock: @Sendable () -> Int

    public init(options: Options, clock: @escaping @Sendable () -> Int) {
        self.options = options
        self.login = options.login
        self.scrollback = Scrollback(capacity: options.scrollbackLines)
        self.clock = clock
    }

    /// Rows of the scrollback pane: everything above the status and input lines.
    public var paneHeight: Int { max(0, size.rows - 2) }

    var layout: TranscriptLayout {
        TranscriptLayout(width: size.columns, showsTimestamps: options.showsTimestamps)
    }

    // MARK: Events

    public mutating func resize(rows: Int, columns: Int) {
        size = (rows, columns)
    }

    /// `remark`, when given, is what the scrollback says instead of the state's short form: the
    /// whole sentence, where the status line has room only for the reason.
    public mutating func connectionChanged(_ state: ConnectionState, remark: String? = nil) {
        let previous = connection
        connection = state
        switch state {
        case .connecting:
            note(remark ?? "connecting to \(options.serverName)")
        case .connected:
            loginReply = LoginReplyWatch()
            note(remark ?? "connected to \(options.serverName)")
            // A login given or typed before this goes out first, as the session starts.
            if let login { note("logging in as \(login)") }
        case .disconnected(let reason):
            // A login typed while connecting never reached a server, so it is nobody's login; one
            // given as LOGIN stays, as the name this run was for.
            if previous == .connecting, options.login == nil { login = nil }
            note(remark ?? reason)
        }
    }

    /// Whether the connection is gone with no other coming: only a refused typed login connects
    /// again, and it never leaves the model disconnected.
    var isDead: Bool {
        if case .disconnected = connection { return true }
        return false
    }

    /// The server closed the connection: `reason` is its last notice or the short reason,
    /// `remark` the whole sentence. Returns `.reconnect` when the close refused a login the user
    /// typed, so that the user need only type another: each reconnect waits for a new login, so
    /// this never loops on its own.
    public mutating func serverClosed(reason: String, remark: String) -> ScreenCommand? {
        guard let refused = login, loginReply.closeRefusesLogin else {
            connectionChanged(.disconnected(reason), remark: remark)
            return nil
        }
        // The refused name is not the user's: the status line and the prompt stop saying so.
        login = nil
        connection = .disconnected(reason)
        guard options.login == nil else {
            note("login refused; restart with another login")
            return nil
        }
        // As with a line refused before it went: the name is there to fix at the next prompt.
        history.record(refused)
        note("login refused; enter another login (Up brings it back)")
        connectionChanged(.connecting)
        return .reconnect
    }

    public mutating func receive(serverLine line: String) {
        let parsed = ServerLine.parse(line)
        loginReply.heard(parsed)
        switch parsed {
        case .message(let sender, let text):
            completion.noteLogin(sender)
            append(.message(from: sender, text: text))
        case .notice(let text):
            append(.notice(text))
        case .other(let text):
            append(.other(text))
        }
    }

    public mutating func receiveOverlongLine() {
        loginReply.heardOtherLine()
        append(.notice("skipped a line from the server longer than the client's limit"))
    }

    /// Applies one key; returns what the loop must do, if anything.
    public mutating func handle(_ key: Key) -> ScreenCommand? {
        if key != .tab { completion.endCycle() }
        // Editing the input means the user is back in the conversation, as typing does.
        if Self.editsInput(key) { scrollback.scrollToBottom() }
        switch key {
        case .alt(.character("b")), .alt(.character("B")):
            editor.moveWordLeft()
        case .alt(.character("f")), .alt(.character("F")):
            editor.moveWordRight()
        case .alt(.backspace):
            editor.deleteToWordStart()
        case .alt(let alone):
            // Alt with a key of no meaning here: the key counts as pressed alone.
            return handle(alone)
        case .character(let scalar):
            editor.insert(String(scalar))
        case .enter:
            return submit()
        case .tab:
            // Past the first ':' the user is writing the text, where a Tab is just a character.
            if !completion.complete(&editor), editor.characters[..<editor.cursor].contains(":") {
                editor.insert("\t")
            }
        case .backspace:
            editor.deleteBackward()
        case .delete:
            editor.deleteForward()
        case .left, .control("b"):
            editor.moveLeft()
        case .right, .control("f"):
            editor.moveRight()
        case .controlLeft:
            editor.moveWordLeft()
        case .controlRight:
            editor.moveWordRight()
        case .home, .control("a"):
            editor.moveToStart()
        case .end, .control("e"):
            editor.moveToEnd()
            scrollback.scrollToBottom()
        case .control("u"):
            editor.deleteToStart()
        case .control("k"):
            editor.deleteToEnd()
        case .control("w"):
            editor.deleteWordBackward()
        case .up, .control("p"):
            if let line = history.previous(current: editor.text) { editor.setText(line) }
        case .down, .control("n"):
            if let line = history.next(current: editor.text) { editor.setText(line) }
        case .pageUp:
            scrollback.scroll(by: max(1, paneHeight - 1), height: paneHeight, rowCount: rowCount)
        case .pageDown:
            scrollback.scroll(by: -max(1, paneHeight - 1), height: paneHeight, rowCount: rowCount)
        case .control("c"):
            return .quit
        case .control("d"):
            if editor.isEmpty { return .quit }
            editor.deleteForward()
        case .control("l"):
            return .repaint
        case .control:
            break
        }
        return nil
    }

    private static func editsInput(_ key: Key) -> Bool {
        switch key {
        case .character, .tab, .backspace, .delete, .up, .down, .control("u"), .control("k"), .control("w"),
            .control("p"), .control("n"), .control("d"), .alt(.backspace):
            return true
        default:
            return false
        }
    }

    mutating func append(_ kind: TranscriptEntry.Kind) {
        scrollback.append(TranscriptEntry(time: clock(), kind: kind))
    }

    mutating func note(_ text: String) {
        append(.info(text))
    }

    var rowCount: (TranscriptEntry) -> Int {
        let layout = self.layout
        return { layout.rows(for: $0).count }
    }
}
