import Testing

@testable import ChatScreen

@Suite struct ChatScreenModelTests {
    init() { #expect(utf8LocaleIsReady) }

    private func makeModel(login: String? = "alice", rows: Int = 6, columns: Int = 40) -> ChatScreenModel {
        var model = ChatScreenModel(
            options: .init(serverName: "127.0.0.1:8080", login: login, showsTimestamps: false),
            clock: { 0 }
        )
        model.resize(rows: rows, columns: columns)
        return model
    }

    private func type(_ text: String, into model: inout ChatScreenModel) {
        for scalar in text.unicodeScalars { #expect(model.handle(.character(scalar)) == nil) }
    }

    @Test func enterSendsTheLineShowsItAndClearsTheInput() {
        var model = makeModel()
        model.connectionChanged(.connected)
        type("bob: hi", into: &model)
        #expect(model.handle(.enter) == .send("bob: hi"))
        let frame = model.frame()
        #expect(frame.lines[3] == "→ bob: hi")
        #expect(frame.lines[4].hasPrefix(" alice | 127.0.0.1:8080 | connected"))
        #expect(frame.lines[5] == ">")
        #expect(frame.cursor == (5, 2))
    }

    @Test func linesAreNotSentBeforeTheConnectionIsUp() {
        var model = makeModel(columns: 60)
        type("bob: are you there?", into: &model)
        #expect(model.handle(.enter) == nil)
        #expect(model.editor.text == "bob: are you there?")
        var lines = model.frame().lines
        #expect(lines[3] == "-- not sent: not connected yet")
        #expect(!lines.contains { $0.contains("→") })
        #expect(model.history.entries.isEmpty)
        model.connectionChanged(.connected)
        #expect(model.handle(.enter) == .send("bob: are you there?"))
        lines = model.frame().lines
        #expect(lines[3] == "→ bob: are you there?")
        #expect(lines[5] == ">")
    }

    @Test func withoutALoginTheLoginAlsoWaitsForTheConnection() {
        var model = makeModel(login: nil)
        type("alice", into: &model)
        #expect(model.handle(.enter) == nil)
        #expect(model.login == nil)
        #expect(model.frame().lines[5] == "login: alice")
        model.connectionChanged(.connected)
        #expect(model.handle(.enter) == .send("alice"))
        #expect(model.login == "alice")
    }

    @Test func quitWorksInEveryState() {
        for state in [ConnectionState.connecting, .connected, .disconnected("connection refused")] {
            var model = makeModel()
            model.connectionChanged(state)
            type("/quit", into: &model)
            #expect(model.handle(.enter) == .quit)
        }
    }

    @Test func statusLineGivesTheShortReasonAndTheScrollbackTheSentence() {
        var model = makeModel(columns: 80)
        model.connectionChanged(
            .disconnected("connection refused"), remark: "cannot connect to 127.0.0.1:1: connection refused")
        let lines = model.frame().lines
        #expect(lines[3] == "-- cannot connect to 127.0.0.1:1: connection refused")
        #expect(lines[4] == " alice | 127.0.0.1:8080 | disconnected: connection refused")
    }

    @Test func altAndControlArrowsMoveByWords() {
        var model = makeModel()
        model.connectionChanged(.connected)
        type("bob: hello world", into: &model)
        _ = model.handle(.escape)
        _ = model.handle(.character("b"))
        #expect(model.editor.cursor == 11)
        #expect(model.editor.text == "bob: hello world")
        _ = model.handle(.controlLeft)
        #expect(model.editor.cursor == 5)
        _ = model.handle(.escape)
        _ = model.handle(.character("f"))
        #expect(model.editor.cursor == 10)
        _ = model.handle(.controlRight)
        #expect(model.editor.cursor == 16)
        _ = model.handle(.escape)
        _ = model.handle(.backspace)
        #expect(model.editor.text == "bob: hello ")
        // Escape pairs with one key only; after it, keys mean what they always do.
        _ = model.handle(.escape)
        _ = model.handle(.character("x"))
        type("b", into: &model)
        #expect(model.editor.text == "bob: hello xb")
    }

    @Test func editsToARecalledLineSurviveUpAndDown() {
        var model = makeModel()
        model.connectionChanged(.connected)
        for line in ["bob: one", "bob: two"] {
            type(line, into: &model)
            _ = model.handle(.enter)
        }
        type("draft", into: &model)
        _ = model.handle(.up)
        _ = model.handle(.backspace)
        type("o!", into: &model)
        #expect(model.editor.text == "bob: two!")
        _ = model.handle(.up)
        #expect(model.editor.text == "bob: one")
        _ = model.handle(.down)
        #expect(model.editor.text == "bob: two!")
        _ = model.handle(.down)
        #expect(model.editor.text == "draft")
        _ = model.handle(.up)
        #expect(model.handle(.enter) == .send("bob: two!"))
        _ = model.handle(.up)
        _ = model.handle(.up)
        #expect(model.editor.text == "bob: two")
    }

    @Test func withoutALoginTheFirstLineIsTheLogin() {
        var model = makeModel(login: nil)
        model.connectionChanged(.connected)
        #expect(model.frame().lines[5] == "login:")
        #expect(model.frame().lines[4].contains("(no login yet)"))
        type(" alice ", into: &model)
        #expect(model.handle(.enter) == .send(" alice "))
        #expect(model.login == "alice")
        let frame = model.frame()
        #expect(frame.lines[3] == "-- logging in as alice")
        #expect(frame.lines[5] == ">")
        // The login is not a message: it is kept out of history.
        #expect(model.history.entries.isEmpty)
    }

    @Test func incomingLinesAreParsedAndSendersBecomeCompletions() {
        var model = makeModel()
        model.receive(serverLine: "from bob: hello")
        model.receive(serverLine: "error: 'zed' is not online")
        model.receive(serverLine: "something else")
        let lines = model.frame().lines
        #expect(Array(lines[1...3]) == ["bob: hello", "-!- 'zed' is not online", "something else"])
        #expect(model.handle(.tab) == nil)
        #expect(model.editor.text == "bob: ")
    }

    @Test func wideCharactersPutTheCursorAfterTheirTwoCells() {
        var model = makeModel()
        type("bob: 你好", into: &model)
        #expect(model.frame().cursor == (5, 11))
        _ = model.handle(.backspace)
        #expect(model.editor.text == "bob: 你")
        #expect(model.frame().cursor == (5, 9))
    }

    @Test func quitKeys() {
        var model = makeModel()
        #expect(model.handle(.control("c")) == .quit)
        #expect(model.handle(.control("d")) == .quit)
        type("x", into: &model)
        _ = model.handle(.left)
        #expect(model.handle(.control("d")) == nil)
        #expect(model.editor.text == "")
        type("/quit", into: &model)
        #expect(model.handle(.enter) == .quit)
    }

    @Test func historyRecallsSentLines() {
        var model = makeModel()
        model.connectionChanged(.connected)
        type("bob: one", into: &model)
        _ = model.handle(.enter)
        type("bob: two", into: &model)
        _ = model.handle(.enter)
        type("draft", into: &model)
        _ = model.handle(.up)
        #expect(model.editor.text == "bob: two")
        _ = model.handle(.up)
        #expect(model.editor.text == "bob: one")
        _ = model.handle(.down)
        _ = model.handle(.down)
        #expect(model.editor.text == "draft")
    }

    @Test func pageUpShowsOlderLinesAndTypingReturnsToTheBottom() {
        var model = makeModel()
        for index in 1...20 { model.receive(serverLine: "from bob: line \(index)") }
        #expect(model.frame().lines[3] == "bob: line 20")
        _ = model.handle(.pageUp)
        let scrolled = model.frame().lines
        #expect(scrolled[3] == "bob: line 17")
        #expect(scrolled[4].hasSuffix("more below: 3 lines"))
        type("x", into: &model)
        #expect(model.frame().lines[3] == "bob: line 20")
        _ = model.handle(.pageUp)
        _ = model.handle(.end)
        #expect(model.scrollback.isAtBottom)
    }

    @Test func afterDisconnectEnterKeepsTheText() {
        var model = makeModel(columns: 80)
        model.connectionChanged(.connected)
        model.connectionChanged(
            .disconnected("server closed the connection"),
            remark: "server 127.0.0.1:8080 closed the connection")
        type("bob: hi", into: &model)
        #expect(model.handle(.enter) == nil)
        #expect(model.editor.text == "bob: hi")
        let lines = model.frame().lines
        #expect(lines[2] == "-- server 127.0.0.1:8080 closed the connection")
        #expect(lines[3] == "-- not sent: not connected; /quit or Ctrl-C to leave")
        #expect(lines[4] == " alice | 127.0.0.1:8080 | disconnected: server closed the connection")
    }

    @Test func resizeRewrapsAndKeepsEverything() {
        var model = makeModel(rows: 6, columns: 40)
        model.receive(serverLine: "from bob: " + String(repeating: "word ", count: 10))
        #expect(model.frame().lines[2...3].joined().contains("word word"))
        model.resize(rows: 10, columns: 20)
        let lines = model.frame().lines
        #expect(lines.count == 10)
        #expect(lines.filter { $0.contains("word") }.count == 3)
        #expect(lines.allSatisfy { DisplayWidth.width(of: $0) <= 20 })
    }

    @Test func tinyTerminalSaysSo() {
        var model = makeModel(rows: 2, columns: 40)
        #expect(model.frame().lines[0] == "terminal too small")
    }
}
