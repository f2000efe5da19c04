import ChatProtocol
import Testing

@testable import ChatScreen

/// Keys, lines entered and lines received, without a terminal.
@Suite struct ChatScreenModelTests {
    init() { #expect(utf8LocaleIsReady) }

    @Test func enterSendsTheLineShowsItAndClearsTheInput() {
        var model = makeModel()
        model.connected()
        type("bob: hi", into: &model)
        #expect(model.handle(.enter) == .send("bob: hi"))
        let frame = model.frame()
        #expect(frame.lines[3] == "→ bob: hi")
        #expect(frame.lines[4].hasPrefix(" alice | 127.0.0.1:8080 | connected"))
        #expect(frame.lines[5] == ">")
        #expect(frame.cursor == (5, 2))
    }

    @Test func linesEnteredBeforeTheConnectionIsUpAreNotSentAndNotGlued() {
        var model = makeModel(columns: 80)
        // Pasted: each line ends in Enter, and none may run into the next.
        for line in ["bob: one", "bob: two", "bob: three"] {
            type(line, into: &model)
            #expect(model.handle(.enter) == nil)
            #expect(model.editor.text == "")
        }
        let lines = model.frame().lines
        #expect(
            Array(lines[1...3]) == [
                "-- not sent (not connected yet; Up brings it back): bob: one",
                "-- not sent (not connected yet; Up brings it back): bob: two",
                "-- not sent (not connected yet; Up brings it back): bob: three",
            ])
        #expect(!lines.contains { $0.contains("→") })
        model.connected()
        _ = model.handle(.up)
        #expect(model.handle(.enter) == .send("bob: three"))
        #expect(model.frame().lines[3] == "→ bob: three")
        _ = model.handle(.up)
        _ = model.handle(.up)
        #expect(model.editor.text == "bob: two")
    }

    @Test func withoutALoginTheLoginTypedWhileConnectingIsSentFirstOnceConnected() {
        var model = makeModel(login: nil, columns: 60)
        type("alice ", into: &model)
        // The session reads typed lines only once connected: the login waits there, first.
        #expect(model.handle(.enter) == .send("alice"))
        #expect(model.login == "alice")
        #expect(model.editor.text == "")
        type("bob: hi", into: &model)
        #expect(model.handle(.enter) == nil)
        #expect(model.editor.text == "")
        model.connected()
        let lines = model.frame().lines
        #expect(
            Array(lines[0...3]) == [
                "-- will log in as alice once connected",
                "-- not sent (not connected yet; Up brings it back): bob: hi",
                "-- connected to 127.0.0.1:8080",
                "-- logging in as alice",
            ])
        #expect(lines[5] == ">")
    }

    @Test func quitWorksInEveryState() {
        for login: String? in [nil, "alice"] {
            for state in TestConnection.all {
                for line in ["/quit", " /quit", "/quit\t ", "\u{3000}/quit "] {
                    var model = makeModel(login: login)
                    model.enter(state)
                    type(line, into: &model)
                    #expect(model.handle(.enter) == .quit, "\(state) \(line.debugDescription)")
                }
            }
        }
    }

    /// The protocol allows a login that starts with `/`; a first word with `:` or `,` names it.
    @Test func aLineToALoginStartingWithSlashIsAMessage() {
        for line in ["/x: hi", " /x, bob: hi", "/x,/y: hi"] {
            var model = makeModel()
            model.connected()
            type(line, into: &model)
            #expect(model.handle(.enter) == .send(line), "\(line)")
            #expect(model.frame().lines[3] == "→ \(line)")
        }
        var model = makeModel(columns: 80)
        model.connected()
        type("/x : hi", into: &model)
        #expect(model.handle(.enter) == nil)
        #expect(model.frame().lines[3] == "-- unknown command /x : hi; /help lists the commands")
    }

    @Test func otherCommandsAreUnknownAndNotSent() {
        for login: String? in [nil, "alice"] {
            for state in TestConnection.all {
                for (line, command) in [("/hepl", "/hepl"), (" /quitt now ", "/quitt now"), ("/", "/")] {
                    var model = makeModel(login: login, columns: 80)
                    model.enter(state)
                    type(line, into: &model)
                    #expect(model.handle(.enter) == nil)
                    #expect(model.editor.text == "")
                    #expect(model.login == login)
                    #expect(
                        model.frame().lines[3] == "-- unknown command \(command); /help lists the commands")
                    _ = model.handle(.up)
                    #expect(model.editor.text == line)
                }
            }
        }
    }

    @Test func altAndControlArrowsMoveByWords() {
        var model = makeModel()
        model.connected()
        type("bob: hello world", into: &model)
        _ = model.handle(.alt(.character("b")))
        #expect(model.editor.cursor == 11)
        #expect(model.editor.text == "bob: hello world")
        _ = model.handle(.controlLeft)
        #expect(model.editor.cursor == 5)
        _ = model.handle(.alt(.character("f")))
        #expect(model.editor.cursor == 10)
        _ = model.handle(.controlRight)
        #expect(model.editor.cursor == 16)
        _ = model.handle(.alt(.backspace))
        #expect(model.editor.text == "bob: hello ")
        // Alt with a key of no meaning does nothing; after it, keys mean what they always do.
        for key: Key in [.character("x"), .character("."), .character("1"), .enter, .left] {
            #expect(model.handle(.alt(key)) == nil)
        }
        type("b", into: &model)
        #expect(model.editor.text == "bob: hello b")
        #expect(model.editor.cursor == 12)
        _ = model.handle(.alt(.character("b")))
        _ = model.handle(.alt(.character("b")))
        _ = model.handle(.alt(.character("d")))
        #expect(model.editor.text == "bob:  b")
        #expect(model.editor.cursor == 5)
        // Escape pressed on its own, then a key: Alt and that key where it means something,
        // else the key alone.
        _ = model.handle(.afterEscape(.character("d")))
        #expect(model.editor.text == "bob: ")
        _ = model.handle(.afterEscape(.character("x")))
        _ = model.handle(.afterEscape(.left))
        #expect(model.editor.text == "bob: x")
        #expect(model.editor.cursor == 5)
    }

    @Test func editsToARecalledLineSurviveUpAndDown() {
        var model = makeModel()
        model.connected()
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
        model.connected()
        #expect(model.frame().lines[5] == "login:")
        #expect(model.frame().lines[4].contains("(no login yet)"))
        // Sent as the transcript shows it: the tutorial's server would keep the spaces.
        type(" alice\u{3000}", into: &model)
        #expect(model.handle(.enter) == .send("alice"))
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
        model.connected()
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

    @Test func tabCyclesAlsoWhenTheInputIsWiderThanTheScreen() {
        var model = makeModel(columns: 20)
        model.receive(serverLine: "from alice: hi")
        model.receive(serverLine: "from anna: hi")
        type("bob, carol, dave, erin, frank, a", into: &model)
        _ = model.frame()
        _ = model.handle(.tab)
        #expect(model.editor.text.hasSuffix(", anna: "))
        // Drawing scrolls the input sideways; that is no edit and must not end the cycle.
        _ = model.frame()
        _ = model.handle(.tab)
        #expect(model.editor.text.hasSuffix(", alice: "))
        _ = model.frame()
        _ = model.handle(.tab)
        #expect(model.editor.text == "bob, carol, dave, erin, frank, anna: ")
    }

    @Test func tabInTheMessageTextCompletesAMentionAndNeverInsertsATab() {
        var model = makeModel()
        model.connected()
        model.receive(serverLine: "from alice: hi")
        type("bob: a", into: &model)
        _ = model.handle(.tab)
        type("b", into: &model)
        #expect(model.editor.text == "bob: alice b")
        #expect(model.handle(.enter) == .send("bob: alice b"))
        // No name to complete: the Tab does nothing at all.
        type("bob: x", into: &model)
        _ = model.handle(.tab)
        _ = model.handle(.tab)
        #expect(model.editor.text == "bob: x")
        _ = model.handle(.control("u"))
        // In the recipient list it completes as before; once more after the ':', nothing.
        type("a", into: &model)
        _ = model.handle(.tab)
        #expect(model.editor.text == "alice: ")
        _ = model.handle(.tab)
        #expect(model.editor.text == "alice: ")
        #expect(!model.editor.text.contains("\t"))
    }

    @Test func everyKeyThatEditsTheInputReturnsToTheBottom() {
        let keys: [[Key]] = [
            [.backspace], [.delete], [.control("u")], [.control("k")], [.control("w")],
            [.alt(.backspace)],
            [.control("d")], [.tab], [.up], [.character("x")],
        ]
        for sequence in keys {
            var model = makeModel()
            model.connected()
            type("bob: hello", into: &model)
            _ = model.handle(.enter)
            type("bob: hi there", into: &model)
            _ = model.handle(.left)
            for index in 1...20 { model.receive(serverLine: "from bob: line \(index)") }
            _ = model.handle(.pageUp)
            #expect(!model.scrollback.isAtBottom)
            for key in sequence { _ = model.handle(key) }
            #expect(model.scrollback.isAtBottom, "\(sequence)")
        }
    }
}
