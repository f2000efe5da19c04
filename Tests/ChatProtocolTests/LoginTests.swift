import Testing

@testable import ChatProtocol

@Suite struct LoginTests {
    @Test(arguments: [
        "alice", "Bob_2", "élodie", "Zoë", "李小龍", "🦀", String(repeating: "x", count: 32),
        // Ordinary names in many scripts.
        "日本語", "Ελληνικά", "русский", "김민수", "देवनागरी", "สมชาย", "דוד", "محمد", "Nguyễn", "Ærøskøbing",
        // Latin with digits; Japanese mixing Han, Hiragana and Katakana; Korean with Han; Latin with
        // Han or with one other recommended script.
        "alice42", "R2D2", "東京タワーのひと", "Tanaka田中さん", "韓國사람", "Li李", "Ahmedأحمد", "ㄅㄆ李",
        // Emoji, with a skin tone, and a flag.
        "🦀crab", "🐱", "👍🏽", "🇫🇷",
        // A combining mark that has no composed form is NFC.
        "q\u{301}",
        // A precomposed letter with another mark: two different marks, and Nguyễn's ễ (e, U+0302,
        // U+0303) decomposes to two.
        "\u{E4}\u{301}", "Nguy\u{1EC5}\u{301}n",
    ])
    func accepts(_ login: String) {
        #expect(Login.validate(login) == .success(login))
    }

    @Test func trimsWhiteSpace() {
        #expect(Login.validate("  alice\t\r") == .success("alice"))
        #expect(Login.validate("\u{3000}bob\u{A0}") == .success("bob"))
    }

    @Test func countsCharactersAsPeopleSeeThem() {
        // 32 characters of two scalars each (q and a combining accent): 64 scalars.
        let accented = String(repeating: "q\u{301}", count: 32)
        #expect(Login.validate(accented) == .success(accented))
        #expect(Login.validate(accented + "q") == .failure(.tooLong))
        #expect(Login.validate(String(repeating: "x", count: 33)) == .failure(.tooLong))
    }

    @Test func boundsTheBytesOfALoginToo() {
        // One character, 40 KB: a "character" may carry any number of combining marks.
        #expect(Login.validate("a" + String(repeating: "\u{301}", count: 20_000)) == .failure(.tooLong))
        #expect(
            Login.validate(String(repeating: "a\u{301}\u{302}\u{303}\u{304}", count: 32))
                == .failure(.tooLong))
        for login in [String(repeating: "李", count: 32), String(repeating: "🇫🇷", count: 32), "👍🏽"] {
            #expect(Login.validate(login) == .success(login))
        }
    }

    @Test(arguments: [
        ("", Login.Refusal.empty),
        ("   ", .empty),
        ("al,ice", .forbiddenCharacter(",")),
        ("al:ice", .forbiddenCharacter(":")),
        ("al ice", .forbiddenCharacter(" ")),
        ("al\u{1B}ice", .forbiddenCharacter("\u{1B}")),
        ("a\u{7F}", .forbiddenCharacter("\u{7F}")),
        ("a\u{2003}b", .forbiddenCharacter("\u{2003}")),
        ("a\u{2028}b", .forbiddenCharacter("\u{2028}")),
        // Invisible: a zero-width space, bidi overrides and isolates, a BOM, a tag, private use.
        ("al\u{200B}ice", .forbiddenCharacter("\u{200B}")),
        ("\u{202E}alice", .forbiddenCharacter("\u{202E}")),
        ("a\u{2066}b", .forbiddenCharacter("\u{2066}")),
        ("a\u{FEFF}", .forbiddenCharacter("\u{FEFF}")),
        ("a\u{E0041}", .forbiddenCharacter("\u{E0041}")),
        ("a\u{E000}", .forbiddenCharacter("\u{E000}")),
        ("👨\u{200D}💻", .forbiddenCharacter("\u{200D}")),
        // Issue 11's list, each accepted as another person while `alice` was online: a variation
        // selector, the combining grapheme joiner, the Hangul fillers, the blank braille pattern, a
        // variation selector supplement, Mongolian and Khmer invisibles.
        ("alice\u{FE0F}", .forbiddenCharacter("\u{FE0F}")),
        ("al\u{34F}ice", .forbiddenCharacter("\u{34F}")),
        ("alice\u{3164}", .forbiddenCharacter("\u{3164}")),
        ("alice\u{FFA0}", .forbiddenCharacter("\u{FFA0}")),
        ("alice\u{1160}", .forbiddenCharacter("\u{1160}")),
        ("alice\u{115F}", .forbiddenCharacter("\u{115F}")),
        ("alice\u{2800}", .forbiddenCharacter("\u{2800}")),
        ("alice\u{E0100}", .forbiddenCharacter("\u{E0100}")),
        ("alice\u{180B}", .forbiddenCharacter("\u{180B}")),
        ("alice\u{180F}", .forbiddenCharacter("\u{180F}")),
        ("alice\u{17B4}", .forbiddenCharacter("\u{17B4}")),
        ("alice\u{17B5}", .forbiddenCharacter("\u{17B5}")),
        ("❤\u{FE0F}", .forbiddenCharacter("\u{FE0F}")),
        // A Cyrillic а for the Latin one, at the start and inside.
        ("\u{430}lice", .mixedScripts("\u{430}", "l")),
        ("p\u{430}ypal", .mixedScripts("p", "\u{430}")),
        // Greek with Latin, Cyrillic with Greek, Hiragana with Hangul, Latin with Cherokee (not a
        // recommended script) are refused too.
        ("\u{3B1}lpha", .mixedScripts("\u{3B1}", "l")),
        ("мир\u{3C9}", .mixedScripts("м", "\u{3C9}")),
        ("ひ한", .mixedScripts("ひ", "한")),
        ("\u{13AA}lice", .mixedScripts("\u{13AA}", "l")),
        // The decomposed form of é, alone and in a name.
        ("e\u{301}", .notComposed("e\u{301}")),
        ("\u{E9}le\u{300}ne", .notComposed("e\u{300}")),
        ("a\u{301}\u{301}", .notComposed("a\u{301}\u{301}")),
        // A mark with nothing to sit on.
        ("\u{301}", .leadingMark("\u{301}")),
        ("\u{301}alice", .leadingMark("\u{301}")),
        // Marks piled up, or doubled so that two look like one.
        ("q\u{300}\u{301}\u{302}\u{303}\u{304}", .stackedMarks("\u{304}")),
        ("q\u{301}\u{301}", .stackedMarks("\u{301}")),
        // The same, hidden in a precomposed letter: ä is a and U+0308, ḉ is c, U+0327, U+0301.
        ("\u{E4}\u{308}", .stackedMarks("\u{308}")),
        ("x\u{E1}\u{301}y", .stackedMarks("\u{301}")),
        ("\u{1E09}\u{300}\u{302}\u{303}", .stackedMarks("\u{303}")),
    ])
    func refuses(_ login: String, _ refusal: Login.Refusal) {
        #expect(Login.validate(login) == .failure(refusal))
    }

    /// Every Default_Ignorable_Code_Point the standard library knows, assigned or not.
    @Test func refusesEveryDefaultIgnorableCodePoint() {
        var count = 0
        for value in UInt32(0)...0x10_FFFF {
            guard let scalar = Unicode.Scalar(value), scalar.properties.isDefaultIgnorableCodePoint else {
                continue
            }
            count += 1
            let login = "a" + String(scalar) + "b"
            #expect(
                Login.validate(login) == .failure(.forbiddenCharacter(scalar)), "\(Login.codePoint(scalar))")
        }
        #expect(count > 4000, "the E0000 block alone holds 4096")
    }

    @Test func namesScripts() {
        #expect(Login.scriptName(of: "a") == "Latin")
        #expect(Login.scriptName(of: "\u{430}") == "Cyrillic")
        #expect(Login.scriptName(of: "李") == "Han")
        #expect(Login.scriptName(of: "1") == "Common")
        // The Japanese prolonged sound mark belongs to Hiragana and Katakana.
        #expect(Login.scriptName(of: "\u{30FC}") == "Hiragana or Katakana")
        #expect(ScriptSet.unicodeVersion == "15.0.0")
    }

    @Test func theGeneratedTableIsSortedAndItsRangesAreDisjoint() {
        var previousLast: UInt64?
        for range in ScriptSet.ranges {
            let first = range >> 40
            let last = (range >> 16) & 0xFF_FFFF
            #expect(first <= last && last <= 0x10_FFFF)
            if let previousLast { #expect(first > previousLast) }
            previousLast = last
            #expect(Int(range & 0xFFFF) * 3 + 2 < ScriptSet.setWords.count)
        }
    }

    @Test func validatingAValidLoginAgainChangesNothing() {
        for login in ["  alice ", "Tanaka田中さん\t", "\u{3000}🦀crab"] {
            guard case .success(let valid) = Login.validate(login) else {
                Issue.record("\(login.debugDescription) refused")
                continue
            }
            #expect(Login.validate(valid) == .success(valid))
        }
    }

    /// The notice names the character that was sent otherwise than NFC writes it, not a fixed
    /// example: two scalars for one, one for another (Ångström's sign), one for two.
    @Test(arguments: [
        ("e\u{301}lodie", "send 'é' as U+00E9, not U+0065 U+0301"),
        ("\u{212B}ngstr\u{F6}m", "send 'Å' as U+00C5, not U+212B"),
        ("\u{1100}\u{1161}", "send '가' as U+AC00, not U+1100 U+1161"),
        ("\u{958}", "send 'क़' as U+0915 U+093C, not U+0958"),
    ])
    func aLoginNotComposedIsToldWhichCharacter(_ login: String, _ advice: String) throws {
        guard case .failure(let refusal) = Login.validate(login) else {
            Issue.record("\(login.debugDescription) was accepted")
            return
        }
        #expect(Notice.loginRefused(refusal).text.hasSuffix(advice), "\(Notice.loginRefused(refusal).text)")
    }
}
