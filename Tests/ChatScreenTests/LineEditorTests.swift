import Testing

@testable import ChatScreen

@Suite struct LineEditorTests {
    init() { #expect(utf8LocaleIsReady) }

    @Test func insertsAtTheCursorAndMovesIt() {
        var editor = LineEditor()
        editor.insert("bob hi")
        editor.moveLeft()
        editor.moveLeft()
        editor.moveLeft()
        editor.insert(":")
        #expect(editor.text == "bob: hi")
        #expect(editor.cursor == 4)
    }

    /// Re-segmenting only around the insertion point gives what re-segmenting the whole line
    /// gives, for pieces that join their neighbours: combining marks, joiners between emoji,
    /// regional indicators (which pair from the start of their run), Hangul jamo, a virama.
    @Test func insertingGivesWhatSegmentingTheWholeLineGives() {
        let pieces = [
            "a", "e", "\u{301}", "👩", "\u{200D}", "🇺", "🇸", "🇫", "世", "\u{1100}", "\u{1161}", "\u{11A8}",
            "क", "\u{94D}", "ष", " ", "\t",
        ]
        var random = SplitMix(seed: 7)
        for _ in 0..<300 {
            var editor = LineEditor()
            var reference: [Character] = []
            var cursor = 0
            for _ in 0..<12 {
                let position = Int(random.next() % UInt64(reference.count + 1))
                let piece = pieces[Int(random.next() % UInt64(pieces.count))]
                editor.moveToStart()
                for _ in 0..<position { editor.moveRight() }
                editor.insert(piece)
                // The whole line re-segmented, as `insert` once did.
                let before = String(reference[..<position]) + piece
                let combined = Array(before + String(reference[position...]))
                cursor = min(before.count, combined.count)
                reference = combined
                #expect(editor.characters == reference, "\(reference.map { $0.unicodeScalars.map(\.value) })")
                #expect(editor.cursor == cursor)
            }
        }
    }

    @Test func backspaceRemovesOneWholeCharacter() {
        var editor = LineEditor("a世😀e\u{301}")
        #expect(editor.characters.count == 4)
        editor.deleteBackward()
        #expect(editor.text == "a世😀")
        editor.deleteBackward()
        #expect(editor.text == "a世")
        editor.deleteBackward()
        #expect(editor.text == "a")
    }

    @Test func combiningMarkTypedAfterALetterJoinsIt() {
        var editor = LineEditor("cafe")
        editor.insert("\u{301}")
        #expect(editor.characters.count == 4)
        #expect(editor.text == "café")
        #expect(editor.cursor == 4)
    }

    @Test func deleteAndHomeEnd() {
        var editor = LineEditor("hello")
        editor.moveToStart()
        editor.deleteForward()
        #expect(editor.text == "ello")
        editor.moveToEnd()
        editor.deleteForward()
        #expect(editor.text == "ello")
        #expect(editor.cursor == 4)
    }

    @Test func killCommands() {
        var editor = LineEditor("bob: hello there")
        editor.deleteWordBackward()
        #expect(editor.text == "bob: hello ")
        editor.deleteWordBackward()
        #expect(editor.text == "bob: ")
        editor.moveLeft()
        editor.moveLeft()
        editor.deleteToEnd()
        #expect(editor.text == "bob")
        editor.moveLeft()
        editor.deleteToStart()
        #expect(editor.text == "b")
        #expect(editor.cursor == 0)
    }

    @Test func wordMovementAsInReadline() {
        var editor = LineEditor("bob, carol: hi there")
        editor.moveWordLeft()
        #expect(editor.cursor == 15)
        editor.moveWordLeft()
        #expect(editor.cursor == 12)
        // Punctuation is not part of a word: "carol:" is left at its "c".
        editor.moveWordLeft()
        #expect(editor.cursor == 5)
        editor.moveWordLeft()
        #expect(editor.cursor == 0)
        editor.moveWordLeft()
        #expect(editor.cursor == 0)
        editor.moveWordRight()
        #expect(editor.cursor == 3)
        editor.moveWordRight()
        #expect(editor.cursor == 10)
        editor.moveToEnd()
        editor.moveWordRight()
        #expect(editor.cursor == 20)
    }

    @Test func wordMovementCountsWholeCharacters() {
        var editor = LineEditor("日本語 café 😀 x")
        editor.moveWordLeft()
        #expect(editor.cursor == 11)
        // The emoji is no word: it is skipped like a space.
        editor.moveWordLeft()
        #expect(editor.cursor == 4)
        editor.moveWordLeft()
        #expect(editor.cursor == 0)
        editor.moveWordRight()
        #expect(editor.cursor == 3)
    }

    @Test func altBackspaceDeletesBackToTheWordStart() {
        var editor = LineEditor("bob, carol: see you")
        editor.moveWordLeft()
        editor.deleteToWordStart()
        #expect(editor.text == "bob, carol: you")
        #expect(editor.cursor == 12)
        editor.deleteToWordStart()
        #expect(editor.text == "bob, you")
        editor.moveToEnd()
        editor.deleteToWordStart()
        editor.deleteToWordStart()
        #expect(editor.text == "")
    }

    @Test func altDDeletesOnToTheWordEnd() {
        var editor = LineEditor("bob, carol: see you")
        editor.moveToStart()
        editor.deleteToWordEnd()
        #expect(editor.text == ", carol: see you")
        #expect(editor.cursor == 0)
        editor.deleteToWordEnd()
        #expect(editor.text == ": see you")
        editor.moveToEnd()
        editor.deleteToWordEnd()
        #expect(editor.text == ": see you")
        editor.moveWordLeft()
        editor.moveLeft()
        editor.deleteToWordEnd()
        #expect(editor.text == ": see")
    }

    @Test func cursorColumnCountsDisplayWidth() {
        var editor = LineEditor("你好a")
        #expect(editor.visibleGlyphs(width: 20).cursorColumn == 5)
        editor.moveLeft()
        #expect(editor.visibleGlyphs(width: 20).cursorColumn == 4)
        editor.moveToStart()
        #expect(editor.visibleGlyphs(width: 20).cursorColumn == 0)
    }

    @Test func longLineScrollsToKeepTheCursorInView() {
        var editor = LineEditor(String(repeating: "x", count: 30) + "世界")
        let view = editor.visibleGlyphs(width: 10)
        #expect(view.cursorColumn == 9)
        #expect(view.glyphs.reduce(0) { $0 + $1.width } == 9)
        #expect(view.glyphs.suffix(2).map(\.text) == ["世", "界"])
        editor.moveToStart()
        let start = editor.visibleGlyphs(width: 10)
        #expect(start.cursorColumn == 0)
        #expect(start.glyphs.count == 10)
    }

    @Test func wideCharacterIsNeverCutAtTheRightEdge() {
        var editor = LineEditor("abcd世")
        editor.moveToStart()
        let view = editor.visibleGlyphs(width: 5)
        #expect(view.glyphs.map(\.text).joined() == "abcd")
    }
}

/// A small deterministic generator, so a failing case can be run again.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
