import ChatClient
import CursesShim

/// What one terminal cell (or two, for a wide character) shows: a spacing character followed
/// by the zero-width characters that combine with it, exactly what curses' `cchar_t` holds.
public struct Glyph: Equatable, Sendable {
    public var scalars: [Unicode.Scalar]
    /// 1 or 2 columns.
    public var width: Int

    public init(_ scalars: [Unicode.Scalar], width: Int) {
        self.scalars = scalars
        self.width = width
    }

    public static let space = Glyph([" "], width: 1)

    /// How many zero-width characters curses keeps with one spacing character (its CCHARW_MAX
    /// is 5 in all); any more would be dropped by curses, so they are dropped here already.
    static let maximumScalars = 5

    public var text: String { String(String.UnicodeScalarView(scalars)) }
}

/// Display widths as the terminal counts them: `wcwidth` from the C library, the same table
/// curses and the terminal (here: tmux) use, so the cursor lands where the text really ends.
/// That holds only for what is actually drawn: the few characters terminals disagree on are
/// left out of the glyphs (see `glyphs(of:)`). Requires a UTF-8 `LC_CTYPE` (see
/// `TerminalLocale`).
public enum DisplayWidth {
    /// The glyphs a user-perceived character is drawn as. Usually one; a sequence of several
    /// spacing characters (a family emoji joined with ZWJ) is drawn cell by cell, each part in
    /// its own `wcwidth` cells. Control characters, line and paragraph separators and bidi
    /// controls are drawn as `TerminalStandIns` shows them (␛, ␍, `<U+202E>`), so no byte from a peer
    /// can move the cursor, change the terminal's state, or make a line look like another's.
    ///
    /// Two invisible characters are never drawn, because terminals disagree on the width of
    /// what they touch while curses counts `wcwidth`: the zero-width joiner (tmux 3.3 draws
    /// 👨‍👩‍👧 in 2 cells, a terminal without ZWJ support in 6) and, after a narrow character, the emoji
    /// presentation selector U+FE0F (some terminals widen ❤️ to 2 cells, others keep 1).
    /// Without them every terminal draws the parts as `wcwidth` says. The text itself, as sent
    /// and received, keeps them.
    public static func glyphs(of character: Character) -> [Glyph] {
        var glyphs: [Glyph] = []
        for scalar in character.unicodeScalars {
            if let standIn = TerminalStandIns.standIn(for: scalar) {
                glyphs += standIn.unicodeScalars.map { Glyph([$0], width: max(1, columns(of: $0))) }
                continue
            }
            if scalar == zeroWidthJoiner { continue }
            if scalar == emojiPresentation, glyphs.last?.width ?? 0 < 2 { continue }
            let width = columns(of: scalar)
            if width > 0 {
                glyphs.append(Glyph([scalar], width: width))
                continue
            }
            if width < 0 || scalar == "\t" {
                glyphs.append(Glyph([scalar == "\t" ? " " : "\u{FFFD}"], width: 1))
                continue
            }
            if glyphs.isEmpty {
                // A combining mark with nothing to combine with: give it a space to sit on, as
                // text renderers do, so it takes its own cell instead of damaging a neighbour.
                if isCombiningMark(scalar) { glyphs.append(Glyph([" ", scalar], width: 1)) }
                continue
            }
            if glyphs[glyphs.count - 1].scalars.count < Glyph.maximumScalars {
                glyphs[glyphs.count - 1].scalars.append(scalar)
            }
        }
        return glyphs
    }

    public static func width(of character: Character) -> Int {
        if let ascii = character.asciiValue, ascii >= 0x20, ascii < 0x7F { return 1 }
        return glyphs(of: character).reduce(0) { $0 + $1.width }
    }

    public static func width(of text: some Sequence<Character>) -> Int {
        text.reduce(0) { $0 + width(of: $1) }
    }

    public static func glyphs(of text: some Sequence<Character>) -> [Glyph] {
        var result: [Glyph] = []
        forEachGlyph(of: text) { glyph, _ in result.append(glyph) }
        return result
    }

    /// Each glyph of `text` in order, and whether it continues the character before it (the
    /// skin tone of 👍🏽), which a row may not be broken before.
    static func forEachGlyph(
        of text: some Sequence<Character>, _ body: (_ glyph: Glyph, _ continuesCharacter: Bool) -> Void
    ) {
        for character in text {
            if let ascii = character.asciiValue, ascii >= 0x20, ascii < 0x7F {
                body(Glyph([Unicode.Scalar(ascii)], width: 1), false)
            } else {
                for (index, glyph) in glyphs(of: character).enumerated() { body(glyph, index > 0) }
            }
        }
    }

    static let zeroWidthJoiner: Unicode.Scalar = "\u{200D}"
    static let emojiPresentation: Unicode.Scalar = "\u{FE0F}"

    /// -1 for characters that must not reach the terminal.
    static func columns(of scalar: Unicode.Scalar) -> Int {
        if scalar.value >= 0x20 && scalar.value < 0x7F { return 1 }
        if scalar.value < 0x20 || (scalar.value >= 0x7F && scalar.value < 0xA0) { return -1 }
        return Int(chat_wcwidth(scalar.value))
    }

    static func isCombiningMark(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .spacingMark: return true
        default: return false
        }
    }
}

/// The locale the width functions and curses depend on.
public enum TerminalLocale {
    /// Takes the user's locale from the environment and makes sure text is UTF-8: the protocol
    /// is UTF-8 whatever the locale says, so a "C" or Latin-1 `LC_CTYPE` is replaced by a UTF-8
    /// one for character classes only. Returns false if no UTF-8 locale exists at all.
    @discardableResult
    public static func prepare() -> Bool {
        chat_locale_prepare_utf8() == 1
    }
}
