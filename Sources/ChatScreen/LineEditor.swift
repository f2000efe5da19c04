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
    /// does on paper: the string is re-segmented around the insertion point.
    public mutating func insert(_ text: String) {
        let before = String(characters[..<cursor]) + text
        let combined = Array(before + String(characters[cursor...]))
        cursor = min(before.count, combined.count)
        characters = combined
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
        var end = cursor
        while end < characters.count, !Self.isWordCharacter(characters[end]) { end += 1 }
        while end < characters.count, Self.isWordCharacter(characters[end]) { end += 1 }
        cursor = end
    }

    /// Alt-Backspace: back to where Alt-B would go, as readline's backward-kill-word does.
    public mutating func deleteToWordStart() {
        let start = startOfWord(before: cursor)
        characters.removeSubrange(start..<cursor)
        cursor = start
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
        let before = String(characters[..<range.lowerBound]) + text
        let combined = Array(before + String(characters[range.upperBound...]))
        cursor = min(before.count, combined.count)
        characters = combined
    }

    /// The part of the line that fits in `width` columns and the cursor's column in it. The
    /// window scrolls only as far as needed to keep the cursor in view, like a shell's, and the
    /// cursor always has a cell to sit on: at the end of the line, or on a wide character, the
    /// window makes room for it.
    public mutating func visibleGlyphs(width: Int) -> (glyphs: [Glyph], cursorColumn: Int) {
        guard width > 0 else { return ([], 0) }
        let widths = characters.map(DisplayWidth.width(of:))
        let cursorCell = cursor < characters.count ? max(1, widths[cursor]) : 1
        if widths.reduce(0, +) + 1 <= width { firstVisible = 0 }
        firstVisible = min(firstVisible, cursor)
        // Keep a few characters of context to the left when scrolling back, so a user sees what
        // Backspace is about to remove.
        if firstVisible == cursor { firstVisible = max(0, cursor - min(8, width / 4)) }
        while firstVisible < cursor, widths[firstVisible..<cursor].reduce(0, +) + cursorCell > width {
            firstVisible += 1
        }
        var glyphs: [Glyph] = []
        var used = 0
        var cursorColumn = 0
        for index in firstVisible..<characters.count {
            if index == cursor { cursorColumn = used }
            guard used + widths[index] <= width else { break }
            glyphs.append(contentsOf: DisplayWidth.glyphs(of: characters[index]))
            used += widths[index]
        }
        if cursor == characters.count { cursorColumn = used }
        return (glyphs, cursorColumn)
    }
}
