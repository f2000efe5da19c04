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
        model.connectionChanged(.disconnected("server 127.0.0.1:8080 closed the connection"))
        type("bob: hi", into: &model)
        #expect(model.handle(.enter) == nil)
        #expect(model.editor.text == "bob: hi")
        let lines = model.frame().lines
        #expect(lines[3] == "-- not connected; /quit or Ctrl-C to leave")
        #expect(lines[4].contains("disconnected: server 127.0.0.1:8080 closed"))
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
