import Testing

@testable import ChatProtocol

@Suite struct VisibleTextTests {
    @Test(arguments: ["bob", "bob smith", "日本語", "Zoë", "👍🏽", "🇫🇷", "q\u{301}", "देवनागरी"])
    func showsOrdinaryNamesAsTheyAre(_ name: String) {
        #expect(VisibleText.quoted(name) == "'\(name)'")
    }

    @Test(arguments: [
        ("a\u{2028}b", "'a<U+2028>b'"),
        ("a\u{2029}b", "'a<U+2029>b'"),
        ("a\rfrom mallory", "'a<U+000D>from mallory'"),
        ("a\nb", "'a<U+000A>b'"),
        ("\u{1B}[2Jx", "'<U+001B>[2Jx'"),
        ("a\u{9B}31m", "'a<U+009B>31m'"),
        ("a\u{85}b", "'a<U+0085>b'"),
        ("tab\there", "'tab<U+0009>here'"),
        ("no\u{A0}break", "'no<U+00A0>break'"),
        ("\u{202E}evil", "'<U+202E>evil'"),
        ("al\u{200B}ice", "'al<U+200B>ice'"),
        ("alice\u{3164}", "'alice<U+3164>'"),
        ("alice\u{2800}", "'alice<U+2800>'"),
        ("alice\u{FE0F}", "'alice<U+FE0F>'"),
        ("👨\u{200D}💻", "'👨<U+200D>💻'"),
    ])
    func makesControlsAndInvisiblesVisible(_ name: String, _ shown: String) {
        #expect(VisibleText.quoted(name) == shown)
    }

    /// The shortcut for printable ASCII shows exactly what the walk over characters shows, cut
    /// included; a tab, DEL or a byte above ASCII takes the walk.
    @Test func printableASCIIShowsAsTheWalkOverCharactersShowsIt() {
        var generator = SystemRandomNumberGenerator()
        let printable = (0x20...0x7E).map { Character(Unicode.Scalar(UInt8($0))) }
        var texts = ["", " ", "a", String(repeating: "x", count: 40), String(repeating: "y", count: 41)]
        for _ in 0..<500 {
            let length = Int.random(in: 0...90, using: &generator)
            texts.append(String((0..<length).map { _ in printable.randomElement(using: &generator)! }))
        }
        for text in texts {
            #expect(VisibleText.visible(text) == VisibleText.visibleCharacterByCharacter(text))
        }
        #expect(
            VisibleText.visible(String(repeating: "z", count: 45)) == String(repeating: "z", count: 40) + "…")
        #expect(VisibleText.visible("a\u{7F}b") == "a<U+007F>b")
        #expect(VisibleText.visible("tab\there") == "tab<U+0009>here")
    }

    /// Found by the login fuzz target: only a name that is itself `…` may show as `'…'`.
    @Test func showsANameOfAnEllipsisAsItIs() {
        #expect(VisibleText.quoted("…") == "'…'")
        #expect(VisibleText.quoted("……x") == "'……x'")
    }

    @Test func givesALeadingMarkADottedCircleInsteadOfTheQuote() {
        #expect(VisibleText.quoted("\u{301}bob") == "'\u{25CC}\u{301}bob'")
        #expect(VisibleText.quoted("\u{200B}\u{301}") == "'<U+200B>\u{25CC}\u{301}'")
    }

    @Test func cutsAPileOfMarksToWhatCanBeRead() {
        let marks: [Unicode.Scalar] = ["\u{300}", "\u{301}", "\u{302}", "\u{303}", "\u{304}"]
        let heavy = "e" + String(String.UnicodeScalarView((0..<5000).map { marks[$0 % marks.count] })) + "x"
        #expect(VisibleText.quoted(heavy) == "'e\u{300}\u{301}\u{302}\u{303}…x'")
        // Spacing marks and joined emoji count as code points, ten to a character.
        let spacing = "क" + String(repeating: "\u{93E}", count: 5000)
        #expect(VisibleText.quoted(spacing) == "'क" + String(repeating: "\u{93E}", count: 9) + "…'")
    }

    @Test func cutsLongNamesByCharactersAndBytes() {
        #expect(
            VisibleText.quoted(String(repeating: "x", count: 100))
                == "'\(String(repeating: "x", count: 40))…'")
        // 100 separators shown as 8 bytes each would be 800 bytes: cut at 160.
        let separators = String(repeating: "\u{2028}", count: 100)
        #expect(VisibleText.quoted(separators) == "'" + String(repeating: "<U+2028>", count: 20) + "…'")
    }

    /// Whatever one code point between two letters is, a notice about it stays one line of
    /// visible text: no control, format, separator or invisible code point gets through.
    @Test func noCodePointBreaksANotice() {
        let planes = Array(UInt32(0)...0xFFFF) + Array(UInt32(0xE0000)...0xE0FFF) + [0x10_FFFD, 0xF0000]
        for value in planes {
            guard let scalar = Unicode.Scalar(value) else { continue }
            let line = Notice.recipientOffline("a" + String(scalar) + "b").line
            #expect(line.hasSuffix("\n"))
            for shown in line.unicodeScalars.dropLast() where VisibleText.needsCodePoint(shown) {
                Issue.record(
                    "\(Login.codePoint(scalar)) shows \(Login.codePoint(shown)) in \(line.debugDescription)")
            }
        }
    }
}
