import CursesShim
import Testing

@testable import ChatScreen

@Suite struct KeyDecoderTests {
    /// Decodes `text` as curses hands it over when it does not know a sequence: one character
    /// at a time.
    private func decode(_ text: String, with decoder: inout KeyDecoder) -> [Key] {
        text.unicodeScalars.compactMap { decoder.decode(.character($0.value)) }
    }

    @Test func plainKeysAreThemselves() {
        var decoder = KeyDecoder()
        #expect(decoder.decode(.character(127)) == .backspace)
        #expect(decoder.decode(.character(8)) == .backspace)
        #expect(decoder.decode(.character(13)) == .enter)
        #expect(decoder.decode(.character(9)) == .tab)
        #expect(decoder.decode(.character(UInt32(UInt8(ascii: "b")))) == .character("b"))
        #expect(decoder.decode(.character(1)) == .control("a"))
        #expect(decoder.decode(.character(0)) == nil)
        #expect(decoder.decode(.function(KEY_LEFT)) == .left)
        #expect(decoder.decode(.function(KEY_NPAGE)) == .pageDown)
        #expect(decoder.decode(.controlRight) == .controlRight)
    }

    @Test func escapeThenAKeyIsAltAndThatKey() {
        var decoder = KeyDecoder()
        #expect(decode("\u{1B}b", with: &decoder) == [.alt(.character("b"))])
        #expect(decode("\u{1B}\u{1B}f", with: &decoder) == [.alt(.character("f"))])
        #expect(decoder.decode(.character(27)) == nil)
        #expect(decoder.decode(.character(127)) == .alt(.backspace))
        // Escape pairs with one key only.
        #expect(decode("\u{1B}xy", with: &decoder) == [.alt(.character("x")), .character("y")])
        #expect(decoder.decode(.character(27)) == nil)
        #expect(decoder.decode(.function(KEY_LEFT)) == .alt(.left))
    }

    /// An Escape nothing came with was pressed on its own: the key after it is told apart from
    /// one sent with it, and a sequence split across a pause is still a sequence.
    @Test func anEscapeBeforeAPauseWasPressedOnItsOwn() {
        var decoder = KeyDecoder()
        #expect(decoder.decode(.character(27)) == nil)
        decoder.inputPaused()
        #expect(decode("xy", with: &decoder) == [.afterEscape(.character("x")), .character("y")])
        #expect(decoder.decode(.character(27)) == nil)
        decoder.inputPaused()
        #expect(decode("\u{1B}b", with: &decoder) == [.alt(.character("b"))])
        #expect(decoder.decode(.character(27)) == nil)
        decoder.inputPaused()
        #expect(decode("[1;2Dc", with: &decoder) == [.character("c")])
        decoder.inputPaused()
        #expect(decode("\u{1B}x", with: &decoder) == [.alt(.character("x"))])
        // An `O` typed after it is a letter, not the start of a three-byte key.
        #expect(decoder.decode(.character(27)) == nil)
        decoder.inputPaused()
        #expect(decode("OK", with: &decoder) == [.afterEscape(.character("O")), .character("K")])
    }

    @Test func unknownEscapeSequencesAreDroppedWhole() {
        var decoder = KeyDecoder()
        // Shift-Left, Alt-Left, Shift-Right, Ctrl-Up, an SS3 F1, a near miss of a paste mark and
        // a paste end without a start, as
        // a terminal whose terminfo lacks them delivers them: Escape, then the rest as characters.
        for sequence in ["[1;2D", "[1;3D", "[1;2C", "[1;5A", "OP", "[2001~", "[201~"] {
            #expect(decode("a\u{1B}\(sequence)c", with: &decoder) == [.character("a"), .character("c")])
        }
        // A sequence cut short by a key that cannot be part of it leaves that key alone.
        #expect(decode("\u{1B}[1", with: &decoder) == [])
        #expect(decoder.decode(.character(127)) == .backspace)
        #expect(decode("\u{1B}O", with: &decoder) == [])
        #expect(decoder.decode(.function(KEY_UP)) == .up)
        // And keys after any of these mean what they always do.
        #expect(decode("\u{1B}b", with: &decoder) == [.alt(.character("b"))])
    }

    /// A Tab between the paste marks is text; outside them, and without them, it completes.
    @Test func aTabInsideABracketedPasteIsText() {
        var decoder = KeyDecoder()
        #expect(
            decode("a\tb\u{1B}[200~c\td\re\u{1B}[201~\t", with: &decoder) == [
                .character("a"), .tab, .character("b"),
                .character("c"), .character("\t"), .character("d"), .enter, .character("e"),
                .tab,
            ])
        // The mark's Escape is no Alt for what follows it, nor for the key after the end mark.
        #expect(decode("\u{1B}[200~\u{1B}[201~b", with: &decoder) == [.character("b")])
        #expect(!decoder.isPasting)
    }

    /// Ctrl-C, Ctrl-Z, Ctrl-L, Ctrl-H and Backspace inside a paste are dropped, not obeyed; so are
    /// the keys curses makes of pasted escape sequences (Up, Delete) and Alt and a key. Enter
    /// still ends each pasted line, and after the paste they are keys again.
    @Test func controlCharactersInsideABracketedPasteAreDropped() {
        var decoder = KeyDecoder()
        #expect(
            decode("\u{1B}[200~a\u{03}b\u{1A}\u{0C}c\u{08}\u{7F}d\re\u{1B}[201~\u{03}\u{7F}", with: &decoder)
                == [
                    .character("a"), .character("b"), .character("c"), .character("d"), .enter,
                    .character("e"), .control("c"), .backspace,
                ])
        #expect(decode("\u{1B}[200~f\u{1B}d", with: &decoder) == [.character("f")])
        #expect(decoder.decode(.function(KEY_UP)) == nil)
        #expect(decoder.decode(.function(KEY_DC)) == nil)
        #expect(decode("g\u{1B}[201~", with: &decoder) == [.character("g")])
        #expect(decoder.decode(.function(KEY_UP)) == .up)
    }
}
