import ChatClient
import Testing

@testable import ChatScreen

/// Unread messages, the bell and the title; mentions; `/search`, Ctrl-R, `/clear`, `/help`; the
/// wheel; the entries the log gets.
@Suite struct ModelAttentionTests {
    init() { #expect(utf8LocaleIsReady) }

    @Test func aMessageUnseenRingsAndCountsUntilTheUserIsBack() {
        var model = makeModel()
        model.connected()
        model.receive(serverLine: "from bob: seen at once")
        #expect(model.attention == Attention())
        for index in 1...10 { model.receive(serverLine: "from bob: line \(index)") }
        _ = model.handle(.pageUp)
        model.receive(serverLine: "from bob: while scrolled up")
        model.receive(serverLine: "error: 'zed' is not online")
        #expect(model.attention.unread == 1)
        #expect(model.attention.bells == 1)
        #expect(model.attention.title(login: "alice", serverName: "s") == "(1) alice - a-chat s")
        _ = model.handle(.end)
        #expect(model.attention.unread == 0)
        #expect(model.attention.title(login: "alice", serverName: "s") == "alice - a-chat s")
        // A window without the focus: unseen although at the bottom, until the focus is back.
        _ = model.handle(.focusOut)
        model.receive(serverLine: "from bob: while away")
        model.receive(serverLine: "from carol: also")
        #expect(model.attention.unread == 2)
        #expect(model.attention.bells == 3)
        _ = model.handle(.focusIn)
        #expect(model.attention.unread == 0)
    }

    @Test func withoutTheBellUnreadMessagesAreStillCounted() {
        var model = ChatScreenModel(
            options: .init(serverName: "s", login: "alice", showsTimestamps: false, rings: false),
            clock: { 0 })
        _ = model.handle(.focusOut)
        model.receive(serverLine: "from bob: hi")
        #expect(model.attention.unread == 1)
        #expect(model.attention.bells == 0)
    }

    @Test func mentionsOfTheUsersLoginAreHighlighted() {
        let layout = TranscriptLayout(width: 80, showsTimestamps: false, mentionedLogin: "alice")
        let rows = layout.rows(
            for: TranscriptEntry(time: 0, kind: .message(from: "bob", text: "hi Alice, malice")))
        #expect(rows[0].text == "bob: hi Alice, malice")
        let styles = rows[0].map(\.style)
        #expect(styles[8..<13].allSatisfy { $0 == .mention })
        #expect(!styles[0..<8].contains(.mention) && !styles[13...].contains(.mention))
        #expect(Mentions.ranges(of: "alice", in: "@alice: alice_x ALICE") == [1..<6, 16..<21])
        #expect(Mentions.ranges(of: "日本", in: "日本語 日本") == [4..<6])
    }

    @Test func searchFindsTheNewestMatchThenOlderOnes() {
        var model = makeModel(rows: 8, columns: 40)
        model.connected()
        for index in 1...30 {
            model.receive(serverLine: "from bob: line \(index)\(index % 10 == 0 ? " lunch" : "")")
        }
        type("/search LUNCH", into: &model)
        #expect(model.handle(.enter) == nil)
        var lines = model.frame().lines
        #expect(lines[5] == "bob: line 30 lunch")
        #expect(model.scrollback[model.search.match!].isSearchMatch)
        // Ctrl-R with nothing typed: the one before.
        _ = model.handle(.control("r"))
        lines = model.frame().lines
        #expect(lines[5] == "bob: line 20 lunch")
        #expect(lines[6].contains("more below"))
        let rows = model.frame().rows
        #expect(rows[5].allSatisfy { $0.style == .searchMatch })
        // The same /search again: older still, then no more.
        type("/search lunch", into: &model)
        _ = model.handle(.enter)
        #expect(model.frame().lines[5] == "bob: line 10 lunch")
        _ = model.handle(.control("r"))
        #expect(model.frame().lines[5] == "-- no earlier line contains \"lunch\"")
        // Ctrl-R after typing: that text, from the newest line.
        type("line 2", into: &model)
        _ = model.handle(.control("r"))
        #expect(model.editor.text == "")
        #expect(model.frame().lines[5] == "bob: line 29")
        // Typing returns to the bottom and the highlight goes.
        type("x", into: &model)
        #expect(model.scrollback.isAtBottom)
        #expect(
            !(0..<model.scrollback.count).contains {
                model.scrollback[model.scrollback.firstSequence + $0].isSearchMatch
            })
    }

    /// Steps back go on while the user steps; once the search has run out, or the user is back
    /// at the newest line (End, scrolling down, sending), it starts from the newest line again.
    @Test func aSearchStartsFromTheNewestLineOnceTheUserIsBack() {
        var model = makeModel(rows: 8, columns: 40)
        model.connected()
        for index in 1...10 { model.receive(serverLine: "from bob: line \(index)") }
        for index in 1...3 { model.receive(serverLine: "from bob: lunch \(index)") }
        func search() -> String {
            type("/search lunch", into: &model)
            _ = model.handle(.enter)
            return model.frame().lines[5]
        }
        #expect(search() == "bob: lunch 3")
        #expect(search() == "bob: lunch 2")
        #expect(search() == "bob: lunch 1")
        #expect(search() == "-- no earlier line contains \"lunch\"")
        #expect(search() == "bob: lunch 3")
        #expect(search() == "bob: lunch 2")
        _ = model.handle(.end)
        model.receive(serverLine: "from bob: lunch 4")
        #expect(search() == "bob: lunch 4")
        #expect(search() == "bob: lunch 3")
        _ = model.handle(.pageDown)
        #expect(model.scrollback.isAtBottom)
        #expect(search() == "bob: lunch 4")
        _ = model.handle(.control("r"))
        #expect(model.frame().lines[5] == "bob: lunch 3")
        type("bob: back", into: &model)
        #expect(model.handle(.enter) == .send("bob: back"))
        _ = model.handle(.control("r"))
        #expect(model.frame().lines[5] == "bob: lunch 4")
    }

    @Test func searchLooksInTheConversationNotInRemarks() {
        var model = makeModel(columns: 60)
        type("/search connected", into: &model)
        _ = model.handle(.enter)
        model.connected()
        type("/search connected", into: &model)
        _ = model.handle(.enter)
        #expect(model.frame().lines[3] == "-- no line contains \"connected\"")
        type("/search", into: &model)
        _ = model.handle(.enter)
        #expect(model.frame().lines[3] == "-- /search needs the text to find: /search TEXT")
    }

    @Test func clearEmptiesTheScreenButNotTheLog() {
        var model = ChatScreenModel(
            options: .init(serverName: "s", login: "alice", showsTimestamps: false, keepsNewEntries: true),
            clock: { 0 })
        model.resize(rows: 6, columns: 40)
        model.connected()
        model.receive(serverLine: "from bob: hi")
        type("/clear", into: &model)
        #expect(model.handle(.enter) == nil)
        #expect(model.frame().lines[0...3].allSatisfy { $0.isEmpty })
        #expect(model.scrollback.isEmpty)
        let logged = model.takeNewEntries().map { $0.loggedLine(ownLogin: model.login).text }
        #expect(logged == ["-- connected to s", "-- logging in as alice", "bob: hi"])
        #expect(model.takeNewEntries().isEmpty)
    }

    @Test func helpListsTheCommandsAndKeys() {
        var model = makeModel(rows: 30, columns: 100)
        type("/help", into: &model)
        #expect(model.handle(.enter) == nil)
        let lines = model.frame().lines
        for command in ["/help", "/search TEXT", "/clear", "/reconnect", "/quit"] {
            #expect(lines.contains { $0.hasPrefix("--   \(command): ") }, "\(command)")
        }
        #expect(lines.contains { $0.hasPrefix("--   Tab: ") })
        #expect(model.editor.text == "")
    }

    @Test func theWheelScrollsAFewRows() {
        var model = makeModel(rows: 8, columns: 40)
        for index in 1...30 { model.receive(serverLine: "from bob: line \(index)") }
        _ = model.handle(.wheelUp)
        #expect(model.frame().lines[5] == "bob: line 27")
        _ = model.handle(.wheelUp)
        _ = model.handle(.wheelDown)
        #expect(model.frame().lines[5] == "bob: line 27")
        _ = model.handle(.wheelDown)
        #expect(model.scrollback.isAtBottom)
    }
}
