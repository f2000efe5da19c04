/// Drawing: the scrollback pane, the status line and the input line, cut to the terminal's size.
extension ChatScreenModel {
    /// Smaller than this, the screen only says so: a status line and an input line need room.
    public static let minimumSize = (rows: 3, columns: 20)

    /// What the terminal should show: `size.rows` rows, none wider than `size.columns`, and
    /// where the cursor goes.
    public mutating func frame() -> Frame {
        let (rows, columns) = (max(0, size.rows), max(0, size.columns))
        guard !isTooSmall else {
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

    /// Whether the screen only says it is too small: then it shows neither the input nor the
    /// conversation, so keys that would change them are ignored (see `handle`).
    public var isTooSmall: Bool {
        size.rows < Self.minimumSize.rows || size.columns < Self.minimumSize.columns
    }

    /// One wording whichever side is short, cut to what fits, so a narrow terminal still reads
    /// a word rather than "too s".
    private static let tooSmallMessages = ["too small", "small", "…"]

    private func statusLine(width: Int) -> StyledRow {
        let who: String
        if let login {
            who = login
        } else if lifecycle.phase == .refused, let tried = lifecycle.login {
            // Not the user's login, but the one `/reconnect` tries again.
            who = tried + " (refused)"
        } else {
            who = isDead ? "(no login)" : "(no login yet)"
        }
        // No trailing space: the padding after the text is the status bar's colour anyway, and a
        // scroll hint brings its own leading space.
        let full = StyledRow(" \(who) | \(options.serverName) | \(connectionStatus)", .statusBar)
        var right: StyledRow = []
        if !scrollback.isAtBottom {
            let below = scrollback.entriesBelow(rowCount: rowCount)
            let hints =
                below > 0
                ? [
                    " more below: \(below) \(below == 1 ? "line" : "lines") ", " \(below) more below ",
                    " \(below) below ",
                ]
                : [" more below "]
            // The scroll hint matters more than the end of a long disconnect reason, but the
            // login should keep some room: the longest hint that leaves it that much is shown.
            let room = width - min(full.width, 10)
            right = StyledRow(hints.first { $0.count <= room } ?? hints[hints.count - 1], .statusBar)
            right = Self.truncated(right, to: width)
        }
        // Short of room, the address goes first: the user chose it, but cannot see the state
        // (connected, reconnecting, why it stopped) anywhere else.
        let left =
            full.width <= width - right.width
            ? full : StyledRow(" \(who) | \(connectionStatus)", .statusBar)
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
