import ChatProtocol

/// A key as the screen understands it, decoded from curses by `CursesTerminal`.
public enum Key: Equatable, Sendable {
    case character(Unicode.Scalar)
    /// Ctrl and a letter, given in lower case.
    case control(Character)
    case enter, tab, backspace, delete
    case left, right, home, end, up, down, pageUp, pageDown
    case controlLeft, controlRight
    /// On its own, or the first half of Alt and a key: terminals send Alt-B as Escape, B.
    case escape
}

/// What the model asks of the loop that runs it.
public enum ScreenCommand: Equatable, Sendable {
    case send(String)
    case quit
    /// Ctrl-L: repaint every cell, for when something else wrote over the screen.
    case repaint
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
    /// Escape was the last key: the next one is taken with Alt, as readline does.
    private var isEscapePending = false
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
        connection = state
        switch state {
        case .connecting:
            note(remark ?? "connecting to \(options.serverName)")
        case .connected:
            note(remark ?? "connected to \(options.serverName)")
            if let login { note("logging in as \(login)") }
        case .disconnected(let reason):
            note(remark ?? reason)
        }
    }

    public mutating func receive(serverLine line: String) {
        switch ServerLine.parse(line) {
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
        append(.notice("skipped a line from the server longer than the client's limit"))
    }

    /// Applies one key; returns what the loop must do, if anything.
    public mutating func handle(_ key: Key) -> ScreenCommand? {
        if key != .tab { completion.endCycle() }
        if isEscapePending {
            isEscapePending = false
            switch key {
            case .character("b"), .character("B"):
                editor.moveWordLeft()
                return nil
            case .character("f"), .character("F"):
                editor.moveWordRight()
                return nil
            case .backspace:
                editor.deleteToWordStart()
                return nil
            default:
                // Alt with a key of no meaning here: the key counts as pressed alone.
                break
            }
        }
        switch key {
        case .escape:
            isEscapePending = true
        case .character(let scalar):
            editor.insert(String(scalar))
            scrollback.scrollToBottom()
        case .enter:
            return submit()
        case .tab:
            _ = completion.complete(&editor)
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

    private mutating func submit() -> ScreenCommand? {
        let line = editor.text
        if line == "/quit" { return .quit }
        guard !line.allSatisfy(\.isWhitespace) else { return nil }
        // A line typed now would wait unseen for a connection that may never come, or go
        // nowhere: it stays in the input, to be sent with Enter once connected.
        switch connection {
        case .connecting:
            note("not sent: not connected yet")
            return nil
        case .disconnected:
            note("not sent: not connected; /quit or Ctrl-C to leave")
            return nil
        case .connected:
            break
        }
        editor.setText("")
        scrollback.scrollToBottom()
        guard login != nil else {
            let name = Login.trimmed(line)
            login = name
            note("logging in as \(name)")
            return .send(line)
        }
        history.record(line)
        completion.noteRecipients(ofSentLine: line)
        append(.sent(line))
        return .send(line)
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

    /// What the terminal should show: `size.rows` rows and where the cursor goes.
    public mutating func frame() -> Frame {
        let (rows, columns) = size
        guard rows >= Self.minimumSize.rows, columns >= Self.minimumSize.columns else {
            let message = StyledRow(String("terminal too small".prefix(max(0, columns))), .plain)
            return Frame(rows: [message] + Array(repeating: [], count: max(0, rows - 1)), cursor: (0, 0))
        }
        let layout = self.layout
        var pane = scrollback.visibleRows(height: paneHeight, rows: layout.rows(for:))
        // Short history sits at the bottom, next to the input, as in any chat window.
        pane.insert(contentsOf: Array(repeating: [], count: paneHeight - pane.count), at: 0)
        let prompt = StyledRow(login == nil ? "login: " : "> ", .prompt)
        let input = editor.visibleGlyphs(width: columns - prompt.width)
        let inputRow = prompt + input.glyphs.map { StyledGlyph($0, .plain) }
        return Frame(
            rows: pane + [statusLine(width: columns), inputRow],
            cursor: (rows - 1, prompt.width + input.cursorColumn)
        )
    }

    private func statusLine(width: Int) -> StyledRow {
        let state: String
        switch connection {
        case .connecting: state = "connecting"
        case .connected: state = "connected"
        case .disconnected(let reason): state = "disconnected: " + reason
        }
        let left = " \(login ?? "(no login yet)") | \(options.serverName) | \(state) "
        var right = ""
        if !scrollback.isAtBottom {
            let below = scrollback.entriesBelow
            right = below > 0 ? " more below: \(below) lines " : " more below "
        }
        var row = StyledRow(left, .statusBar)
        let rightRow = StyledRow(right, .statusBar)
        // The scroll hint matters more than the end of a long disconnect reason.
        row = Self.truncated(row, to: max(0, width - rightRow.width))
        row += Array(repeating: StyledGlyph(.space, .statusBar), count: width - row.width - rightRow.width)
        return row + rightRow
    }

    private static func truncated(_ row: StyledRow, to width: Int) -> StyledRow {
        guard row.width > width else { return row }
        var result: StyledRow = []
        var used = 0
        for glyph in row {
            if used + glyph.glyph.width > max(0, width - 1) { break }
            result.append(glyph)
            used += glyph.glyph.width
        }
        return width > 0 ? result + StyledRow("…", row.first?.style ?? .plain) : result
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
