/// Text from a peer made safe to show inside one line for people: nothing in it can end the
/// line, drive a terminal, turn text around, hide, or pile up; long text is cut by what people
/// see, not by bytes alone.
public enum VisibleText {
    /// Characters shown before the text is cut with `…`.
    public static let maximumCharacters = 40
    /// Bytes shown before the text is cut with `…`: one character shown never exceeds this,
    /// since each is itself bounded below.
    public static let maximumBytes = 160
    /// Nonspacing marks shown on one character: UTS #39 finds more than four suspect, and no
    /// language needs them. `e` with 5,000 marks shows as `e` with four and `…`.
    public static let maximumMarksPerCharacter = 4
    /// Code points shown of one character: the longest emoji sequences have ten.
    public static let maximumScalarsPerCharacter = 10

    /// `text` in single quotes, made visible and cut to size.
    public static func quoted(_ text: String) -> String {
        "'" + visible(text) + "'"
    }

    /// `text` with each code point that would not show as itself written as `<U+2028>`: controls
    /// (a lone `\r`, ESC), line and paragraph separators, white space other than the space,
    /// format characters (bidi overrides, zero-width ones) and other invisible ones. A character
    /// that starts with a combining mark gets a dotted circle (U+25CC) to sit on, as Unicode
    /// shows lone marks, instead of the quote before it.
    public static func visible(_ text: String) -> String {
        // Printable ASCII shows as itself, one character a byte. Looking up each scalar's
        // properties was half the server's time answering lines that name thousands of people
        // who are not online (`Tools/offline-names-attack.py`, `perf record`): 21 ms of CPU for
        // a line of 10,921 names.
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
            return text.utf8.count <= maximumCharacters ? text : String(text.prefix(maximumCharacters)) + "…"
        }
        return visibleCharacterByCharacter(text)
    }

    /// `visible` without the shortcut for printable ASCII.
    static func visibleCharacterByCharacter(_ text: String) -> String {
        var shown = ""
        var characters = 0
        for character in text {
            if characters == maximumCharacters {
                shown += "…"
                break
            }
            let piece = visible(character)
            if shown.utf8.count + piece.utf8.count > maximumBytes {
                shown += "…"
                break
            }
            shown += piece
            characters += 1
        }
        return shown
    }

    private static func visible(_ character: Character) -> String {
        var shown = ""
        var scalars = 0
        var marks = 0
        var afterCodePoint = false
        for scalar in character.unicodeScalars {
            if scalars == maximumScalarsPerCharacter
                || marks == maximumMarksPerCharacter && isNonspacingMark(scalar)
            {
                return shown + "…"
            }
            scalars += 1
            if needsCodePoint(scalar) {
                shown += "<" + Login.codePoint(scalar) + ">"
                afterCodePoint = true
                continue
            }
            if isNonspacingMark(scalar) { marks += 1 }
            if (shown.isEmpty || afterCodePoint) && Login.isMark(scalar) {
                shown.unicodeScalars.append("\u{25CC}")
            }
            afterCodePoint = false
            shown.unicodeScalars.append(scalar)
        }
        return shown
    }

    /// Code points that would not show as themselves, or would change what is around them.
    static func needsCodePoint(_ scalar: Unicode.Scalar) -> Bool {
        scalar != " " && (scalar.properties.isWhitespace || Login.isInvisible(scalar))
    }

    private static func isNonspacingMark(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .enclosingMark: return true
        default: return false
        }
    }
}
