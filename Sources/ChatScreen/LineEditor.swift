/// The input line: text as user-perceived characters (grapheme clusters) and a cursor between
/// them, so that every edit moves or removes whole characters, never half an emoji or a letter
/// without its accent.
public struct LineEditor: Equatable, Sendable {
    public private(set) var characters: [Character] = []
    /// Index into `characters` of the character the cursor is on (or `count`, at the end).
    public private(set) var cursor = 0
    /// The first character shown when the line is wider than the space for it.
    private var firstVisible = 0

    public init(_ text: String = "") {
        characters = Array(text)
        cursor = characters.count
    }

    public var text: String { String(characters) }
    public var isEmpty: Bool { characters.isEmpty }

    /// Inserts at the cursor. A combining mark typed after a letter joins that letter, as it
    /// does on paper: the string is re-segmented around the insertion point. Only the
    /// characters beside it can join the text (and a run of flags, whose regional indicators
    /// pair up from the run's start), so only they are: re-segmenting the whole line for each
    /// insertion made a 40,000-character paste that arrived in small pieces take over a minute.
    public mutating func insert(_ text: String) {
        var start = max(0, cursor - 1)
        while start > 0, Self.isFlagPart(characters[start - 1]) { start -= 1 }
        var end = min(characters.count, cursor + 1)
        while end < characters.count, Self.isFlagPart(characters[end]) { end += 1 }
        let before = String(characters[start..<cursor]) + text
        let joined = Array(before + String(characters[cursor..<end]))
        characters.replaceSubrange(start..<end, with: joined)
        cursor = start + min(before.count, joined.count)
    }

    private static func isFlagPart(_ character: Character) -> Bool {
        character.unicodeScalars.first.map { (0x1F1E6...0x1F1FF).contains($0.value) } ?? false
    }

    public mutating func moveLeft() { cursor = max(0, cursor - 1) }
    public mutating func moveRight() { cursor = min(characters.count, cursor + 1) }
    public mutating func moveToStart() { cursor = 0 }
    public mutating func moveToEnd() { cursor = characters.count }

    /// Backspace.
    public mutating func deleteBackward() {
        guard cursor > 0 else { return }
        characters.remove(at: cursor - 1)
        cursor -= 1
    }

    /// Delete, and Ctrl-D on a non-empty line.
    public mutating func deleteForward() {
        guard cursor < characters.count else { return }
        characters.remove(at: cursor)
    }

    /// Ctrl-U.
    public mutating func deleteToStart() {
        characters.removeSubrange(..<cursor)
        cursor = 0
    }

    /// Ctrl-K.
    public mutating func deleteToEnd() {
        characters.removeSubrange(cursor...)
    }

    /// Ctrl-W: the white space before the cursor, then the word before that, as readline's
    /// unix-word-rubout does.
    public mutating func deleteWordBackward() {
        var start = cursor
        while start > 0, characters[start - 1].isWhitespace { start -= 1 }
        while start > 0, !characters[start - 1].isWhitespace { start -= 1 }
        characters.removeSubrange(start..<cursor)
        cursor = start
    }

    /// Alt-B, Ctrl-Left: to the start of this word or the one before, as readline's
    /// backward-word does: a word is letters and digits, so `bob,carol` is two.
    public mutating func moveWordLeft() {
        cursor = startOfWord(before: cursor)
    }

    /// Alt-F, Ctrl-Right: to the end of this word or the next, as readline's forward-word does.
    public mutating func moveWordRight() {
        cursor = endOfWord(after: cursor)
    }

    /// Alt-Backspace: back to where Alt-B would go, as readline's backward-kill-word does.
    public mutating func deleteToWordStart() {
        let start = startOfWord(before: cursor)
        characters.removeSubrange(start..<cursor)
        cursor = start
    }

    /// Alt-D: on to where Alt-F would go, as readline's kill-word does.
    public mutating func deleteToWordEnd() {
        characters.removeSubrange(cursor..<endOfWord(after: cursor))
    }

    private func endOfWord(after index: Int) -> Int {
        var end = index
        while end < characters.count, !Self.isWordCharacter(characters[end]) { end += 1 }
        while end < characters.count, Self.isWordCharacter(characters[end]) { end += 1 }
        return end
    }

    private func startOfWord(before index: Int) -> Int {
        var start = index
        while start > 0, !Self.isWordCharacter(characters[start - 1]) { start -= 1 }
        while start > 0, Self.isWordCharacter(characters[start - 1]) { start -= 1 }
        return start
    }

    private static func isWordCharacter(_ character: Character) -> Bool {
        character.isLetter || character.isNumber
    }

    /// Replaces the whole line (history recall), cursor at the end.
    public mutating func setText(_ text: String) {
        characters = Array(text)
        cursor = characters.count
        firstVisible = 0
    }

    /// Replaces `range` and puts the cursor after the replacement (completion).
    public mutating func replace(_ range: Range<Int>, with text: String) {
        characters.removeSubrange(range)
        cursor = range.lowerBound
        insert(text)
    }

    /// The part of the line that fits in `width` columns and the cursor's column in it. The
    /// window scrolls only as far as needed to keep the cursor in view, like a shell's, and the
    /// cursor always has a cell to sit on: at the end of the line, or on a wide character, the
    /// window makes room for it.
    public mutating func visibleGlyphs(width: Int) -> (glyphs: [Glyph], cursorColumn: Int) {
        guard width > 0 else { return ([], 0) }
        // Widths are looked up near the window only: summing the whole line for each step the
        // window moved took minutes for the first frame after a 40,000-character paste.
        let cursorCell = cursor < characters.count ? max(1, DisplayWidth.width(of: characters[cursor])) : 1
        if fitsWhole(in: width - 1) { firstVisible = 0 }
        firstVisible = min(firstVisible, cursor)
        // Keep a few characters of context to the left when scrolling back, so a user sees what
        // Backspace is about to remove.
        if firstVisible == cursor { firstVisible = max(0, cursor - min(8, width / 4)) }
        // The leftmost start, not left of the window's, from which the cursor's cell still fits.
        var start = cursor
        var used = cursorCell
        while start > firstVisible {
            let cell = DisplayWidth.width(of: characters[start - 1])
            guard used + cell <= width else { break }
            used += cell
            start -= 1
        }
        firstVisible = start
        var glyphs: [Glyph] = []
        var column = 0
        var cursorColumn = 0
        for index in firstVisible..<characters.count {
            if index == cursor { cursorColumn = column }
            let cell = DisplayWidth.width(of: characters[index])
            guard column + cell <= width else { break }
            glyphs.append(contentsOf: DisplayWidth.glyphs(of: characters[index]))
            column += cell
        }
        if cursor == characters.count { cursorColumn = column }
        return (glyphs, cursorColumn)
    }

    /// Whether the whole line is at most `columns` wide, looking no further than that takes.
    private func fitsWhole(in columns: Int) -> Bool {
        var total = 0
        for character in characters {
            total += DisplayWidth.width(of: character)
            if total > columns { return false }
        }
        return true
    }
}
