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

    @Test func controlCharactersNeverReachTheTerminal() {
        let glyphs = DisplayWidth.glyphs(of: "a\u{1B}[2Jb\u{7}")
        #expect(glyphs.map(\.text).joined() == "a\u{FFFD}[2Jb\u{FFFD}")
        #expect(glyphs.allSatisfy { $0.width == 1 })
    }

    @Test func zeroWidthJoinedSequenceIsDrawnCellByCell() {
        let family = Character("👨\u{200D}👩\u{200D}👧")
        let glyphs = DisplayWidth.glyphs(of: family)
        #expect(glyphs.count == 3)
        #expect(DisplayWidth.width(of: family) == 6)
        #expect(glyphs[0].scalars == ["👨", "\u{200D}"])
    }
}
