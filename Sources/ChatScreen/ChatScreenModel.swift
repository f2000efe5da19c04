import ChatProtocol

/// A key as the screen understands it, decoded from curses by `CursesTerminal`.
public enum Key: Equatable, Sendable {
    case character(Unicode.Scalar)
    /// Ctrl and a letter, given in lower case.
    case control(Character)
    case enter, tab, backspace, delete
    case left, right, home, end, up, down, pageUp, pageDown
    case controlLeft, controlRight
    /// On its own, or the first half of Alt and a key: terminals send Alt-B as Escape, B. Also
    /// the start of any escape sequence curses did not recognise, whose characters follow.
    case escape
}

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

    /// Smaller than this, the screen only says so: a status line and an input line need room.
    public static let minimumSize = (rows: 3, columns: 20)

    public let options: Options
    public private(set) var login: String?
    public private(set) var connection = ConnectionState.connecting
    public private(set) var editor = LineEditor()
    public private(set) var history = InputHistory()
    public private(set) var completion = LoginCompletion()
    public private(set) var scrollback: Scrollback<TranscriptEntry>
    public private(set) var size = (rows: 24, columns: 80)
    /// Where the keys after an Escape stand: Alt and a key, or an escape sequence curses did not
    /// recognise and hands over character by character.
    private var escape = EscapeState.none
    /// What this connection has heard so far, to tell a refused login from any other close: the
    /// server answers a login it refuses with a notice about the login and closes, says nothing
    /// to one it accepts, and closes for other reasons (shutting down, a reader too slow) with
    /// other notices, at any moment. Neither the time nor the lines sent since the login tell
    /// these apart: a paste sends messages right behind the login.
    private var loginNoticesThisConnection = 0
    private var otherServerLinesThisConnection = 0
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

    private var layout: TranscriptLayout {
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
            loginNoticesThisConnection = 0
            otherServerLinesThisConnection = 0
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
    private var isDead: Bool {
        if case .disconnected = connection { return true }
        return false
    }

    /// The server closed the connection: `reason` is its last notice or the short reason,
    /// `remark` the whole sentence. Returns `.reconnect` when the close refused a login the user
    /// typed, so that the user need only type another: each reconnect waits for a new login, so
    /// this never loops on its own.
    public mutating func serverClosed(reason: String, remark: String) -> ScreenCommand? {
        guard let refused = login, loginNoticesThisConnection > 0, otherServerLinesThisConnection == 0 else {
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
        switch ServerLine.parse(line) {
        case .message(let sender, let text):
            otherServerLinesThisConnection += 1
            completion.noteLogin(sender)
            append(.message(from: sender, text: text))
        case .notice(let text):
            if Self.isAboutTheLogin(notice: text) {
                loginNoticesThisConnection += 1
            } else {
                otherServerLinesThisConnection += 1
            }
            append(.notice(text))
        case .other(let text):
            otherServerLinesThisConnection += 1
            append(.other(text))
        }
    }

    /// Our server's notices that refuse a login (`Notice.loginRefused`, `Notice.loginTaken`)
    /// start so; no other of its notices does. `'login' is not online` names a recipient.
    static func isAboutTheLogin(notice text: String) -> Bool {
        text.hasPrefix("login ") || text.hasPrefix("empty login")
    }

    public mutating func receiveOverlongLine() {
        otherServerLinesThisConnection += 1
        append(.notice("skipped a line from the server longer than the client's limit"))
    }

    /// Applies one key; returns what the loop must do, if anything.
    public mutating func handle(_ key: Key) -> ScreenCommand? {
        if key != .tab { completion.endCycle() }
        if swallowsEscapeSequence(key) { return nil }
        if escape == .pending {
            escape = .none
            switch key {
            case .character("b"), .character("B"):
                editor.moveWordLeft()
                return nil
            case .character("f"), .character("F"):
                editor.moveWordRight()
                return nil
            case .backspace:
                editor.deleteToWordStart()
                scrollback.scrollToBottom()
                return nil
            case .character("["):
                escape = .controlSequence
                return nil
            case .character("O"):
                escape = .singleShift
                return nil
            default:
                // Alt with a key of no meaning here: the key counts as pressed alone.
                break
            }
        }
        // Editing the input means the user is back in the conversation, as typing does.
        if Self.editsInput(key) { scrollback.scrollToBottom() }
        switch key {
        case .escape:
            escape = .pending
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

    private enum EscapeState: Equatable, Sendable {
        case none
        /// Escape alone so far: Alt and a key, or the start of a sequence.
        case pending
        /// After Escape [: parameters and intermediates until the final character.
        case controlSequence
        /// After Escape O: one more character.
        case singleShift
    }

    /// True when `key` belongs to an escape sequence curses did not decode (Shift-Left on a
    /// TERM whose terminfo lacks it, say): such a sequence is dropped whole, since what follows
    /// the Escape would otherwise land in the input as text like `[1;2D`.
    private mutating func swallowsEscapeSequence(_ key: Key) -> Bool {
        switch escape {
        case .none, .pending:
            return false
        case .singleShift:
            escape = .none
            if case .character = key { return true }
            return false
        case .controlSequence:
            guard case .character(let scalar) = key else {
                escape = .none
                return false
            }
            switch scalar.value {
            case 0x20...0x3F:
                return true
            case 0x40...0x7E:
                escape = .none
                return true
            default:
                // Not part of any sequence: the sequence was cut short, the key is a key.
                escape = .none
                return false
            }
        }
    }

    private static func editsInput(_ key: Key) -> Bool {
        switch key {
        case .character, .tab, .backspace, .delete, .up, .down, .control("u"), .control("k"), .control("w"),
            .control("p"), .control("n"), .control("d"):
            return true
        default:
            return false
        }
    }

    private mutating func submit() -> ScreenCommand? {
        let line = editor.text
        // Trimmed as the server trims a login, so a command is recognised whatever surrounds it.
        let trimmed = Login.trimmed(line)
        if trimmed == "/quit" { return .quit }
        if trimmed.hasPrefix("/") {
            return refuse(line, remark: "unknown command \(trimmed); /quit leaves")
        }
        guard !trimmed.isEmpty else {
            // Nothing to send, but the Enter was seen: an input that looks empty yet holds
            // spaces would otherwise trip up the next line typed into it.
            editor.setText("")
            return nil
        }
        if isDead { return refuse(line, remark: "not sent: disconnected; /quit leaves") }
        // The login goes first in the queue to the server, which the session starts reading once
        // it is connected: nothing can overtake it.
        guard login != nil else { return logIn(as: line) }
        guard connection == .connected else { return notSent(line, because: "not connected yet") }
        // The server would only answer a malformed line with a notice.
        if let problem = Self.messageProblem(line) { return notSent(line, because: problem) }
        editor.setText("")
        scrollback.scrollToBottom()
        history.record(line)
        completion.noteRecipients(ofSentLine: line)
        append(.sent(line))
        return .send(line)
    }

    /// A line that does not go is not held back to be sent later, unseen, nor left in the input,
    /// where the next pasted line would be glued to it: it goes to the history, to be fixed or
    /// sent from there, and the input is cleared. Its names teach completion nothing: a name
    /// in a line that never went may be a typo.
    private mutating func refuse(_ line: String, remark: String) -> ScreenCommand? {
        editor.setText("")
        history.record(line)
        scrollback.scrollToBottom()
        note(remark)
        return nil
    }

    private mutating func notSent(_ line: String, because why: String) -> ScreenCommand? {
        refuse(line, remark: "not sent (\(why); Up brings it back): \(line)")
    }

    /// The transcript shows the login trimmed, so the server gets it trimmed too: the
    /// tutorial's server would register `carol ` with its space. A login the contract's rules
    /// refuse is not sent, even to the tutorial's server, which has no rules: our server would
    /// close the connection over it.
    private mutating func logIn(as line: String) -> ScreenCommand? {
        let name: String
        switch Login.validate(line) {
        case .success(let valid):
            name = valid
        case .failure(let refusal):
            return notSent(line, because: Self.explain(refusal))
        }
        editor.setText("")
        scrollback.scrollToBottom()
        login = name
        if connection == .connected {
            note("logging in as \(name)")
        } else {
            note("will log in as \(name) once connected")
        }
        return .send(name)
    }

    private static func explain(_ refusal: Login.Refusal) -> String {
        switch refusal {
        case .empty:
            return "a login may not be empty"
        case .tooLong:
            return "a login may have at most \(Login.maximumCharacters) characters"
        case .forbiddenCharacter(let scalar)
        where scalar == "," || scalar == ":" || scalar.properties.isWhitespace:
            return "a login may not contain spaces, ',' or ':'"
        case .forbiddenCharacter(let scalar):
            // The character cannot be seen, so its code point is the only way to point at it.
            return "a login may not contain invisible or control characters (\(Login.codePoint(scalar)))"
        case .leadingMark, .stackedMarks, .notComposed, .mixedScripts:
            return Notice.loginRefused(refusal).text
        }
    }

    /// Why the server would not deliver `line`, or nil if it would.
    private static func messageProblem(_ line: String) -> String? {
        switch Array(line.utf8).withUnsafeBytes({ MessageLine.parse($0) }) {
        case .blank, .missingColon:
            return "no ':'"
        case .noRecipients:
            return "no name before ':'"
        case .message(_, let text):
            return text.isEmpty ? "no text after ':'" : nil
        }
    }

    private mutating func append(_ kind: TranscriptEntry.Kind) {
        scrollback.append(TranscriptEntry(time: clock(), kind: kind))
    }

    private mutating func note(_ text: String) {
        append(.info(text))
    }

    private var rowCount: (TranscriptEntry) -> Int {
        let layout = self.layout
        return { layout.rows(for: $0).count }
    }

    // MARK: Drawing

    /// What the terminal should show: `size.rows` rows, none wider than `size.columns`, and
    /// where the cursor goes.
    public mutating func frame() -> Frame {
        let (rows, columns) = (max(0, size.rows), max(0, size.columns))
        guard rows >= Self.minimumSize.rows, columns >= Self.minimumSize.columns else {
            guard rows > 0 else { return Frame(rows: [], cursor: (0, 0)) }
            let message = Self.tooSmallMessages.first { $0.count <= columns } ?? ""
            return Frame(
                rows: [StyledRow(message, .plain)] + Array(repeating: [], count: rows - 1), cursor: (0, 0))
        }
        let layout = self.layout
        var pane = scrollback.visibleRows(height: paneHeight, rows: layout.rows(for:))
        // Short history sits at the bottom, next to the input, as in any chat window.
        pane.insert(contentsOf: Array(repeating: [], count: max(0, paneHeight - pane.count)), at: 0)
        // A dead session takes no login: asking for one would promise a connection to use it.
        let prompt = StyledRow(login == nil && !isDead ? "login: " : "> ", .prompt)
        let input = editor.visibleGlyphs(width: columns - prompt.width)
        let inputRow = prompt + input.glyphs.map { StyledGlyph($0, .plain) }
        return Frame(
            rows: pane + [statusLine(width: columns), inputRow],
            cursor: (rows - 1, min(columns - 1, prompt.width + input.cursorColumn))
        )
    }

    /// Longest first; the first that fits is shown, so a narrow terminal still reads a whole
    /// phrase rather than "terminal t".
    private static let tooSmallMessages = ["terminal too small", "too small", "small", "…"]

    private func statusLine(width: Int) -> StyledRow {
        let state: String
        var noLogin = "(no login yet)"
        switch connection {
        case .connecting: state = "connecting"
        case .connected: state = "connected"
        case .disconnected(let reason):
            state = "disconnected: " + reason
            noLogin = "(no login)"
        }
        let left = StyledRow(" \(login ?? noLogin) | \(options.serverName) | \(state) ", .statusBar)
        var right: StyledRow = []
        if !scrollback.isAtBottom {
            let below = scrollback.entriesBelow
            let hints =
                below > 0
                ? [" more below: \(below) lines ", " \(below) more below ", " \(below) below "]
                : [" more below "]
            // The scroll hint matters more than the end of a long disconnect reason, but the
            // login should keep some room: the longest hint that leaves it that much is shown.
            let room = width - min(left.width, 10)
            right = StyledRow(hints.first { $0.count <= room } ?? hints[hints.count - 1], .statusBar)
            right = Self.truncated(right, to: width)
        }
        let row = Self.truncated(left, to: width - right.width)
        let padding = Array(
            repeating: StyledGlyph(.space, .statusBar), count: max(0, width - row.width - right.width))
        return row + padding + right
    }

    /// `row` cut to at most `width` columns, with "…" where it was cut.
    private static func truncated(_ row: StyledRow, to width: Int) -> StyledRow {
        guard row.width > width else { return row }
        guard width > 0 else { return [] }
        var result: StyledRow = []
        var used = 0
        for glyph in row {
            if used + glyph.glyph.width > width - 1 { break }
            result.append(glyph)
            used += glyph.glyph.width
        }
        return result + StyledRow("…", row.first?.style ?? .plain)
    }
}

/// One screenful: every row, top to bottom, and the cursor's cell.
public struct Frame: Sendable {
    public var rows: [StyledRow]
    public var cursor: (row: Int, column: Int)

    /// The rows as text, trailing blanks removed, the way `tmux capture-pane` shows them.
    public var lines: [String] {
        rows.map { row in
            var text = row.text
            while text.hasSuffix(" ") { text.removeLast() }
            return text
        }
    }
}
