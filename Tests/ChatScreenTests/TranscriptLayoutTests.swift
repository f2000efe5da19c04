import Testing

@testable import ChatScreen

@Suite struct TranscriptLayoutTests {
    init() { #expect(utf8LocaleIsReady) }

    private func wrap(_ text: String, width: Int, indent: Int = 0) -> [String] {
        TranscriptLayout.wrap(StyledRow(text, .plain), width: width, indent: indent).map(\.text)
    }

    @Test func breaksAtSpacesByDisplayWidth() {
        #expect(wrap("the quick brown fox", width: 10) == ["the quick ", "brown fox"])
    }

    @Test func breaksLongWordsAnywhere() {
        #expect(wrap("abcdefghijkl", width: 5) == ["abcde", "fghij", "kl"])
    }

    @Test func wideCharactersNeverStraddleTwoRows() {
        let rows = TranscriptLayout.wrap(StyledRow("a世界世界", .plain), width: 4)
        #expect(rows.map(\.text) == ["a世", "界世", "界"])
        #expect(rows.allSatisfy { $0.width <= 4 })
    }

    /// 👍🏽 is drawn as two wide glyphs, the hand and its skin tone; a row never ends between
    /// them unless the pair is wider than a row.
    @Test func aCharacterOfSeveralGlyphsIsKeptOnOneRow() {
        let thumbs = String(repeating: "👍🏽", count: 3)
        #expect(wrap(thumbs, width: 6) == ["👍🏽", "👍🏽", "👍🏽"])
        #expect(wrap("ab " + thumbs, width: 9) == ["ab 👍🏽", "👍🏽👍🏽"])
        #expect(wrap("bob: 🍜😀👍🏽🍜", width: 11, indent: 2) == ["bob: 🍜😀", "  👍🏽🍜"])
        #expect(wrap("👍🏽", width: 3) == ["👍", "🏽"])
    }

    @Test func textWithoutSpacesBreaksBetweenWideCharacters() {
        // The name stays on its row, with as much of the message as fits after it.
        let text = "00:52 bob: " + String(repeating: "好", count: 15)
        #expect(
            wrap(text, width: 30) == [
                "00:52 bob: " + String(repeating: "好", count: 9), String(repeating: "好", count: 6),
            ])
        #expect(
            wrap(text, width: 40, indent: 6) == [
                "00:52 bob: " + String(repeating: "好", count: 14), "      好",
            ])
        // A latin word next to them still moves whole when it fits on the next row.
        #expect(wrap("你好你好ab cdefgh", width: 12) == ["你好你好ab ", "cdefgh"])
        #expect(wrap("你好你好abcdef", width: 10) == ["你好你", "好abcdef"])
    }

    @Test func aWordLongerThanARowIsBrokenNotMoved() {
        #expect(wrap("bob: abcdefghijklmnop", width: 10) == ["bob: abcde", "fghijklmno", "p"])
        #expect(wrap("bob: abcdefghij", width: 10) == ["bob: ", "abcdefghij"])
    }

    @Test func continuationRowsAreIndented() {
        #expect(wrap("12:00 aaaa bbbb cccc", width: 12, indent: 3) == ["12:00 aaaa ", "   bbbb cccc"])
    }

    @Test func messageRowsCarryTimeSenderAndText() {
        let layout = TranscriptLayout(width: 80, showsTimestamps: false)
        let rows = layout.rows(for: TranscriptEntry(time: 0, kind: .message(from: "bob", text: "hi")))
        #expect(rows.map(\.text) == ["bob: hi"])
        #expect(rows[0][0].style == .sender(SenderPalette.colour(for: "bob")))
        let own = layout.rows(for: TranscriptEntry(time: 0, kind: .sent("bob: hi")))
        #expect(own.map(\.text) == ["→ bob: hi"])
        let timed = TranscriptLayout(width: 80, showsTimestamps: true)
            .rows(for: TranscriptEntry(time: 0, kind: .notice("x")))
        #expect(timed[0].text == TranscriptLayout.clockTime(0) + " -!- x")
    }

    @Test func senderColourIsStable() {
        #expect(SenderPalette.colour(for: "alice") == SenderPalette.colour(for: "alice"))
        for pairs in [CursesTerminal.SenderPairs.basic, CursesTerminal.SenderPairs(first: 7, count: 16)] {
            let colours = Set(
                ["alice", "bob", "carol", "dave", "erin", "frank", "grace"].map {
                    pairs.pair(for: SenderPalette.colour(for: $0))
                })
            #expect(colours.count > 2)
            #expect(colours.allSatisfy { (pairs.first..<pairs.first + pairs.count).contains($0) })
        }
    }

    @Test func noSenderLooksLikeANoticeOrARemark() {
        for pairs in [CursesTerminal.SenderPairs.basic, CursesTerminal.SenderPairs(first: 7, count: 16)] {
            let notice = CursesTerminal.appearance(of: .notice, senderPairs: pairs)
            let remark = CursesTerminal.appearance(of: .info, senderPairs: pairs)
            // trent and victor are logins the old six-colour palette drew in the notices' red.
            for login in ["trent", "victor", "alice", "bob", "carol", "dave", "erin", "frank", "grace"] {
                let sender = CursesTerminal.appearance(
                    of: .sender(SenderPalette.colour(for: login)), senderPairs: pairs)
                #expect(sender.pair != notice.pair, "\(login)")
                #expect(sender.pair != remark.pair, "\(login)")
            }
            let senderPairs = Set(
                (0..<Int(pairs.count)).map {
                    CursesTerminal.appearance(of: .sender($0), senderPairs: pairs).pair
                })
            #expect(senderPairs.count == Int(pairs.count))
            #expect(!senderPairs.contains(notice.pair) && !senderPairs.contains(remark.pair))
        }
    }
}

@Suite struct ShownTextTests {
    @Test func shortLinesAreKeptWhole() {
        #expect(TranscriptEntry.shownText("hi") == "hi")
    }

    /// The limit falls inside the character after the x's: "é" as one code point of two bytes,
    /// or as an e and its combining accent, which are one character the cut never parts.
    @Test(arguments: [("é", 102), ("e\u{301}", 103)])
    func hugeLinesAreCutAtACharacterBoundary(straddling character: String, cutBytes: Int) {
        let kept = String(repeating: "x", count: TranscriptEntry.maximumTextBytes - 1)
        let line = kept + character + String(repeating: "y", count: 100)
        #expect(TranscriptEntry.shownText(line) == kept + " … (\(cutBytes) more bytes)")
    }

    /// A line of the user's own is cut on the screen as a received one is; the log gets it whole.
    @Test func theLogGetsAHugeSentLineWhole() {
        var model = ChatScreenModel(
            options: .init(serverName: "127.0.0.1:8080", login: "alice", keepsNewEntries: true), clock: { 0 })
        model.connected()
        _ = model.takeNewEntries()
        let line = "bob: " + String(repeating: "x", count: 20_000)
        model.editor.setText(line)
        #expect(model.handle(.enter) == .send(line))
        #expect(model.takeNewEntries().map(\.kind) == [.sent(line)])
        let kept = String(line.prefix(TranscriptEntry.maximumTextBytes))
        #expect(
            model.scrollback.newest?.kind
                == .sent(kept + " … (\(line.utf8.count - kept.utf8.count) more bytes)"))
    }

    /// The log gets a received line whole; only the scrollback keeps it cut.
    @Test func theLogGetsAHugeLineWhole() {
        var model = ChatScreenModel(
            options: .init(serverName: "127.0.0.1:8080", login: "alice", keepsNewEntries: true), clock: { 0 })
        model.connected()
        _ = model.takeNewEntries()
        let text = String(repeating: "e\u{301}", count: 5000)
        model.receive(serverLine: "from bob: " + text)
        #expect(model.takeNewEntries().map(\.kind) == [.message(from: "bob", text: text)])
        let kept = String(repeating: "e\u{301}", count: TranscriptEntry.maximumTextBytes / 3)
        let cutBytes = text.utf8.count - kept.utf8.count
        #expect(
            model.scrollback.newest?.kind == .message(from: "bob", text: kept + " … (\(cutBytes) more bytes)")
        )
    }
}
