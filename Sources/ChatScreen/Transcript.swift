import ChatClient

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How a piece of the screen looks; `CursesTerminal` turns styles into attributes and colours.
public enum Style: Hashable, Sendable {
    case plain
    case timestamp
    /// A sender's name, by a number from `SenderPalette`: the terminal picks the colour from its
    /// own palette, larger where it has more colours.
    case sender(Int)
    case ownMessage
    case notice
    case info
    case statusBar
    case prompt
    /// The user's own login in someone's message.
    case mention
    /// The line `/search` found.
    case searchMatch
}

public struct StyledGlyph: Equatable, Sendable {
    public var glyph: Glyph
    public var style: Style
    /// Drawn after another glyph of the same character (👍 then the skin tone of 👍🏽), so a row
    /// may not end before it.
    public var continuesCharacter: Bool

    public init(_ glyph: Glyph, _ style: Style, continuesCharacter: Bool = false) {
        self.glyph = glyph
        self.style = style
        self.continuesCharacter = continuesCharacter
    }
}

public typealias StyledRow = [StyledGlyph]

extension Array where Element == StyledGlyph {
    init(_ text: some Sequence<Character>, _ style: Style) {
        var row: StyledRow = []
        DisplayWidth.forEachGlyph(of: text) { row.append(StyledGlyph($0, style, continuesCharacter: $1)) }
        self = row
    }

    /// The row as plain text, for tests and for reading a frame back.
    public var text: String { map(\.glyph.text).joined() }
    public var width: Int { reduce(0) { $0 + $1.glyph.width } }
}

/// One line of the conversation as the scrollback keeps it.
public struct TranscriptEntry: Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        case message(from: String, text: String)
        case notice(String)
        /// A server line that is neither a message nor a notice: shown as it is.
        case other(String)
        /// A line the user sent.
        case sent(String)
        /// The client's own remarks: connecting, logged in, disconnected.
        case info(String)
    }

    /// Seconds since the epoch, when the line arrived or was sent.
    public var time: Int
    public var kind: Kind
    /// Drawn highlighted, as the line `/search` found.
    public var isSearchMatch = false

    public init(time: Int, kind: Kind) {
        self.time = time
        self.kind = kind
    }

    /// The text `/search` looks in, or nil for the client's own remarks, which are no part of
    /// the conversation (and would otherwise find the remark about the last search).
    var searchableText: String? {
        switch kind {
        case .message(let sender, let text): return sender + ": " + text
        case .notice(let text), .other(let text), .sent(let text): return text
        case .info: return nil
        }
    }

    /// Past this many bytes the text of a line is cut before the scrollback keeps it (the log
    /// still gets it whole): the scrollback is bounded in lines, and without this, in
    /// bytes only by the client's 1 MiB line limit; a huge line would also take thousands of
    /// rows to wrap on every frame.
    public static let maximumTextBytes = 8192

    /// `text` as the scrollback keeps it: past `maximumTextBytes`, cut after the last whole
    /// character that fits, so an accent is never parted from its letter, and said so.
    public static func shownText(_ text: String) -> String {
        guard text.utf8.count > maximumTextBytes else { return text }
        var end = text.startIndex
        while end < text.endIndex {
            let next = text.index(after: end)
            guard text.utf8.distance(from: text.startIndex, to: next) <= maximumTextBytes else { break }
            end = next
        }
        let cutBytes = text.utf8.distance(from: end, to: text.endIndex)
        return text[..<end] + " … (\(cutBytes) more bytes)"
    }
}

extension TranscriptEntry.Kind {
    /// The kind with its text as the scrollback keeps it (see `TranscriptEntry.shownText`).
    var shown: Self {
        switch self {
        case .message(let sender, let text):
            return .message(from: sender, text: TranscriptEntry.shownText(text))
        case .notice(let text): return .notice(TranscriptEntry.shownText(text))
        case .other(let text): return .other(TranscriptEntry.shownText(text))
        case .sent(let text): return .sent(TranscriptEntry.shownText(text))
        case .info: return self
        }
    }
}

extension TranscriptEntry {
    /// The entry as `--log` writes it; `ownLogin` is who sent the user's own lines.
    public func loggedLine(ownLogin: String?) -> ConversationLog.Line {
        switch kind {
        case .message(let sender, let text): return .message(from: sender, text: text)
        case .notice(let text): return .notice(text)
        case .other(let text): return .other(text)
        case .sent(let line): return .sent(line, by: ownLogin)
        case .info(let text): return .remark(text)
        }
    }
}

/// Every sender keeps one colour for the whole session (and across sessions): the colour comes
/// from a fixed hash of the login, not from Swift's per-process seeded `Hasher`, and the
/// terminal takes it modulo the size of its palette (see `CursesTerminal.senderPairs`).
public enum SenderPalette {
    public static func colour(for login: String) -> Int {
        var hash: UInt32 = 2_166_136_261
        for byte in login.utf8 {
            hash = (hash ^ UInt32(byte)) &* 16_777_619
        }
        return Int(hash)
    }
}

/// Turns entries into rows for a pane of a given width.
public struct TranscriptLayout: Sendable {
    public var width: Int
    public var showsTimestamps: Bool
    /// Whose mentions are highlighted in messages: the user's login.
    public var mentionedLogin: String?

    public init(width: Int, showsTimestamps: Bool, mentionedLogin: String? = nil) {
        self.width = width
        self.showsTimestamps = showsTimestamps
        self.mentionedLogin = mentionedLogin
    }

    public func rows(for entry: TranscriptEntry) -> [StyledRow] {
        var glyphs: [StyledGlyph] = []
        if showsTimestamps {
            glyphs += StyledRow(Self.clockTime(entry.time) + " ", .timestamp)
        }
        switch entry.kind {
        case .message(let sender, let text):
            glyphs += StyledRow(sender, .sender(SenderPalette.colour(for: sender)))
            glyphs += StyledRow(": ", .plain)
            glyphs += Self.highlighting(mentionedLogin, in: text)
        case .notice(let text):
            glyphs += StyledRow("-!- " + text, .notice)
        case .other(let text):
            glyphs += StyledRow(text, .plain)
        case .sent(let text):
            glyphs += StyledRow("→ " + text, .ownMessage)
        case .info(let text):
            glyphs += StyledRow("-- " + text, .info)
        }
        if entry.isSearchMatch {
            for index in glyphs.indices { glyphs[index].style = .searchMatch }
        }
        // Continuation rows start under the text, past the timestamp, when there is room.
        let indent = showsTimestamps && width >= 40 ? 6 : 0
        return Self.wrap(glyphs, width: width, indent: indent)
    }

    /// `text` with every mention of `login` in the mention style.
    static func highlighting(_ login: String?, in text: String) -> StyledRow {
        guard let login, case let mentions = Mentions.ranges(of: login, in: text), !mentions.isEmpty else {
            return StyledRow(text, .plain)
        }
        var glyphs: StyledRow = []
        var next = mentions.makeIterator()
        var mention = next.next()
        for (offset, character) in text.enumerated() {
            while let current = mention, offset >= current.upperBound { mention = next.next() }
            let style = mention?.contains(offset) == true ? Style.mention : .plain
            glyphs += StyledRow(CollectionOfOne(character), style)
        }
        return glyphs
    }

    /// Breaks `glyphs` into rows at most `width` columns wide, at the last break opportunity
    /// that fits where there is one, else between any two characters; a word too long for any
    /// row is cut, not moved, and a wide glyph never straddles two rows. Breaks are allowed after
    /// a space and between two wide characters: Chinese or Japanese text has no spaces, and may
    /// be broken between any two of its characters. A character drawn as several glyphs (👍🏽) is
    /// parted only if it is wider than a row.
    public static func wrap(_ glyphs: [StyledGlyph], width: Int, indent: Int = 0) -> [StyledRow] {
        guard width > 0 else { return [] }
        let indent = indent * 2 < width ? indent : 0
        let isSpace = { (glyph: StyledGlyph) in glyph.glyph.scalars == [" "] }
        /// Whether a row may end just before `glyphs[index]`.
        let breaksBefore = { (index: Int) in
            index > 0 && !glyphs[index].continuesCharacter
                && (isSpace(glyphs[index - 1])
                    || (glyphs[index - 1].glyph.width > 1 && glyphs[index].glyph.width > 1))
        }
        var rows: [StyledRow] = []
        var row: StyledRow = []
        var used = 0
        /// Where the current row may be broken: its length at its last break opportunity.
        var breakIndex: Int?
        for (index, glyph) in glyphs.enumerated() {
            let contentStart = rows.isEmpty ? 0 : indent
            if breaksBefore(index) { breakIndex = row.count }
            if used + glyph.glyph.width > width && row.count > contentStart {
                var carried: StyledRow = []
                if let breakIndex, breakIndex > contentStart, breakIndex < row.count {
                    let wordEnd =
                        glyphs.indices[index...].first { isSpace(glyphs[$0]) || breaksBefore($0) }
                        ?? glyphs.endIndex
                    let wordWidth =
                        StyledRow(row[breakIndex...]).width + StyledRow(glyphs[index..<wordEnd]).width
                    if indent + wordWidth <= width {
                        carried = Array(row[breakIndex...])
                        row.removeSubrange(breakIndex...)
                    }
                }
                if carried.isEmpty && glyph.continuesCharacter,
                    let characterStart = row.lastIndex(where: { !$0.continuesCharacter }),
                    characterStart > contentStart
                {
                    carried = Array(row[characterStart...])
                    row.removeSubrange(characterStart...)
                }
                rows.append(row)
                row = Array(repeating: StyledGlyph(.space, .plain), count: indent) + carried
                used = row.width
                breakIndex = nil
            }
            row.append(glyph)
            used += glyph.glyph.width
        }
        rows.append(row)
        return rows
    }

    /// "HH:MM" in local time.
    public static func clockTime(_ time: Int) -> String {
        var seconds = time_t(time)
        var parts = tm()
        localtime_r(&seconds, &parts)
        let hours = Int(parts.tm_hour)
        let minutes = Int(parts.tm_min)
        return (hours < 10 ? "0" : "") + "\(hours):" + (minutes < 10 ? "0" : "") + "\(minutes)"
    }
}
