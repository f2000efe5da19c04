import Testing

@testable import ChatScreen

/// How a command word is recognised: in any case, and with words after it where they do no harm.
@Suite struct ModelCommandTests {
    init() { #expect(utf8LocaleIsReady) }

    @Test func aCommandWordMatchesInAnyCase() {
        for line in ["/QUIT", "/Quit", " /qUiT "] {
            var model = makeModel()
            model.connected()
            type(line, into: &model)
            #expect(model.handle(.enter) == .quit, "\(line.debugDescription)")
        }
        var model = makeModel(rows: 30, columns: 100)
        model.connected()
        type("/HELP", into: &model)
        #expect(model.handle(.enter) == nil)
        #expect(model.frame().lines.contains { $0.hasPrefix("--   /quit: ") })
    }

    @Test func quitAndHelpIgnoreWordsAfterThem() {
        var model = makeModel()
        model.connected()
        type("/quit now, bye", into: &model)
        #expect(model.handle(.enter) == .quit)

        model = makeModel(rows: 30, columns: 100)
        model.connected()
        type("/help foo", into: &model)
        #expect(model.handle(.enter) == nil)
        let lines = model.frame().lines
        #expect(lines.contains { $0.hasPrefix("--   /search TEXT: ") })
        #expect(!lines.contains { $0.contains("unknown command") })
        #expect(model.editor.text == "")
    }

    /// The search text keeps its case; only the command word is folded.
    @Test func searchKeepsTheCaseOfItsText() {
        var model = makeModel(rows: 8, columns: 60)
        model.connected()
        model.receive(serverLine: "from bob: Lunch at noon")
        type("/SEARCH Lunch", into: &model)
        #expect(model.handle(.enter) == nil)
        #expect(model.search.term == "Lunch")
    }

    /// Words after a command that takes none may have meant something it cannot do: it is not run.
    @Test func clearAndReconnectWithWordsAfterThemAreNotRun() {
        for (line, name) in [("/clear all", "/clear"), ("/Reconnect now", "/reconnect")] {
            var model = makeModel(columns: 80, reconnects: false)
            model.connected()
            model.receive(serverLine: "from bob: still here")
            type(line, into: &model)
            #expect(model.handle(.enter) == nil)
            let lines = model.frame().lines
            #expect(lines.contains("bob: still here"))
            #expect(lines[3] == "-- \(name) takes nothing after it; not run")
            _ = model.handle(.up)
            #expect(model.editor.text == line)
        }
    }
}
