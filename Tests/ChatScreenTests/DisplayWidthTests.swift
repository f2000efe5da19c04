import Testing

@testable import ChatScreen

@Suite struct DisplayWidthTests {
    init() { #expect(utf8LocaleIsReady) }

    @Test func asciiTakesOneColumn() {
        #expect(DisplayWidth.width(of: "hello") == 5)
    }

    @Test func cjkAndEmojiTakeTwoColumns() {
        #expect(DisplayWidth.width(of: Character("世")) == 2)
        #expect(DisplayWidth.width(of: Character("😀")) == 2)
        #expect(DisplayWidth.width(of: "你好, wörld") == 11)
    }

    @Test func combiningMarkSharesItsBaseCell() {
        let decomposed = Character("e\u{301}")
        #expect(DisplayWidth.width(of: decomposed) == 1)
        #expect(DisplayWidth.glyphs(of: decomposed) == [Glyph(["e", "\u{301}"], width: 1)])
    }

    @Test func loneCombiningMarkGetsASpaceToSitOn() {
        #expect(DisplayWidth.glyphs(of: Character("\u{301}")) == [Glyph([" ", "\u{301}"], width: 1)])
    }

    @Test func controlCharactersNeverReachTheTerminalAndAreShownInstead() {
        let glyphs = DisplayWidth.glyphs(of: "a\u{1B}[2Jb\u{7}")
        #expect(glyphs.map(\.text).joined() == "a\u{241B}[2Jb\u{2407}")
        #expect(glyphs.allSatisfy { $0.width == 1 })
        let hostile = "x\ry\u{85}\u{2028}\u{2029}\u{202E}z\u{2066}\u{200F}\u{7F}"
        let shown = DisplayWidth.glyphs(of: hostile)
        #expect(
            shown.map(\.text).joined()
                == "x\u{240D}y<U+0085><U+2028><U+2029><U+202E>z<U+2066><U+200F>\u{2421}")
        #expect(shown.allSatisfy { $0.width == 1 && $0.scalars.count == 1 })
        #expect(
            shown.allSatisfy {
                $0.scalars[0].value >= 0x20 && $0.scalars[0].properties.generalCategory != .format
            })
        // After a letter, a bidi control is shown, not folded into the letter's cell.
        #expect(DisplayWidth.width(of: "e\u{202E}") == 9)
    }

    @Test func zeroWidthJoinedSequenceIsDrawnAsItsPartsWithoutTheJoiner() {
        let family = Character("👨\u{200D}👩\u{200D}👧")
        let glyphs = DisplayWidth.glyphs(of: family)
        #expect(glyphs == [Glyph(["👨"], width: 2), Glyph(["👩"], width: 2), Glyph(["👧"], width: 2)])
        #expect(DisplayWidth.width(of: family) == 6)
        #expect(DisplayWidth.glyphs(of: Character("👨\u{200D}💻")).map(\.text) == ["👨", "💻"])
        #expect(DisplayWidth.width(of: Character("👨\u{200D}💻")) == 4)
    }

    @Test func emojiPresentationSelectorIsNotDrawnAfterANarrowCharacter() {
        // 🏳️‍🌈 and ❤️‍🔥: a narrow part with U+FE0F, the joiner, a wide part.
        let rainbowFlag = Character("🏳\u{FE0F}\u{200D}🌈")
        #expect(DisplayWidth.glyphs(of: rainbowFlag) == [Glyph(["🏳"], width: 1), Glyph(["🌈"], width: 2)])
        let heartOnFire = Character("❤\u{FE0F}\u{200D}🔥")
        #expect(DisplayWidth.glyphs(of: heartOnFire) == [Glyph(["❤"], width: 1), Glyph(["🔥"], width: 2)])
        #expect(DisplayWidth.width(of: "x\(heartOnFire)y") == 5)
        // After a wide character it changes no width, so it stays.
        #expect(DisplayWidth.glyphs(of: Character("😀\u{FE0F}")) == [Glyph(["😀", "\u{FE0F}"], width: 2)])
    }

    @Test func noGlyphEverHoldsAJoiner() {
        let text = "👨\u{200D}👩\u{200D}👧 🏳\u{FE0F}\u{200D}🌈 👨\u{200D}💻 ❤\u{FE0F}\u{200D}🔥"
        let glyphs = DisplayWidth.glyphs(of: text)
        #expect(!glyphs.contains { $0.scalars.contains("\u{200D}") })
        #expect(glyphs.reduce(0) { $0 + $1.width } == DisplayWidth.width(of: text))
        #expect(glyphs.map(\.text).joined() == "👨👩👧 🏳🌈 👨💻 ❤🔥")
    }
}
