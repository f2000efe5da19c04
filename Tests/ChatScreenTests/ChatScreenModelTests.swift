import ChatProtocol
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
        model.connectionChanged(.connected)
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
        model.connectionChanged(.connected)
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

    @Test func withoutALoginAfterDisconnectNothingIsSent() {
        var model = makeModel(login: nil, columns: 80)
        model.connectionChanged(.disconnected("connection refused"))
        #expect(model.frame().lines[5] == ">")
        type("alice", into: &model)
        #expect(model.handle(.enter) == nil)
        #expect(model.login == nil)
        #expect(model.editor.text == "")
        let lines = model.frame().lines
        #expect(lines[3] == "-- not sent: disconnected; /quit leaves")
        #expect(lines[5] == ">")
    }

    @Test func quitWorksInEveryState() {
        for login: String? in [nil, "alice"] {
            for state in [ConnectionState.connecting, .connected, .disconnected("connection refused")] {
                for line in ["/quit", " /quit", "/quit\t ", "\u{3000}/quit "] {
                    var model = makeModel(login: login)
                    model.connectionChanged(state)
                    type(line, into: &model)
                    #expect(model.handle(.enter) == .quit, "\(state) \(line.debugDescription)")
                }
            }
        }
    }

    @Test func otherCommandsAreUnknownAndNotSent() {
        for login: String? in [nil, "alice"] {
            for state in [ConnectionState.connecting, .connected, .disconnected("connection refused")] {
                for (line, command) in [("/help", "/help"), (" /quit now ", "/quit now"), ("/", "/")] {
                    var model = makeModel(login: login, columns: 80)
                    model.connectionChanged(state)
                    type(line, into: &model)
                    #expect(model.handle(.enter) == nil)
                    #expect(model.editor.text == "")
                    #expect(model.login == login)
                    #expect(model.frame().lines[3] == "-- unknown command \(command); /quit leaves")
                    _ = model.handle(.up)
                    #expect(model.editor.text == line)
                }
            }
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

    @Test func afterDisconnectEnterClearsTheInputAndSaysItWasNotSent() {
        var model = makeModel(columns: 80)
        model.connectionChanged(.connected)
        model.connectionChanged(
            .disconnected("server closed the connection"),
            remark: "server 127.0.0.1:8080 closed the connection")
        type("bob: hi", into: &model)
        #expect(model.handle(.enter) == nil)
        #expect(model.editor.text == "")
        let lines = model.frame().lines
        #expect(lines[2] == "-- server 127.0.0.1:8080 closed the connection")
        #expect(lines[3] == "-- not sent: disconnected; /quit leaves")
        #expect(lines[4] == " alice | 127.0.0.1:8080 | disconnected: server closed the connection")
        #expect(lines[5] == ">")
    }

    /// Every way a session ends for good: no `login:` prompt, and no remark that promises Up
    /// could still get a line through.
    @Test func aDeadSessionAsksForNothing() {
        let ends: [(name: String, login: String?, end: (inout ChatScreenModel) -> Void)] = [
            ("a failed connect", nil, { $0.connectionChanged(.disconnected("connection refused")) }),
            (
                "a refused LOGIN argument", "bob",
                { model in
                    model.connectionChanged(.connected)
                    model.receive(serverLine: "error: login 'bob' is already online")
                    _ = model.serverClosed(reason: "login 'bob' is already online", remark: "closed")
                }
            ),
            (
                "a shutdown", nil,
                { model in
                    model.connectionChanged(.connected)
                    model.receive(serverLine: "error: server is shutting down")
                    _ = model.serverClosed(reason: "server is shutting down", remark: "closed")
                }
            ),
            (
                "a failed reconnect", nil,
                { model in
                    model.connectionChanged(.connected)
                    _ = model.handle(.character("b"))
                    _ = model.handle(.enter)
                    model.receive(serverLine: "error: login 'b' is already online")
                    _ = model.serverClosed(reason: "login 'b' is already online", remark: "closed")
                    model.connectionChanged(.disconnected("connection refused"))
                }
            ),
        ]
        for end in ends {
            var model = makeModel(login: end.login, columns: 80)
            end.end(&model)
            #expect(model.frame().lines[5] == ">", "\(end.name)")
            type("carol", into: &model)
            #expect(model.handle(.enter) == nil, "\(end.name)")
            #expect(model.editor.text == "", "\(end.name)")
            let lines = model.frame().lines
            #expect(lines[3] == "-- not sent: disconnected; /quit leaves", "\(end.name)")
            #expect(lines[4].hasPrefix(" (no login) | 127.0.0.1:8080 | disconnected: "), "\(end.name)")
            #expect(lines[5] == ">", "\(end.name)")
        }
    }

    @Test func aLoginTypedWhileConnectingIsNotShownAsTheUsersWhenTheConnectFails() {
        var model = makeModel(login: nil, columns: 80)
        type("carol", into: &model)
        #expect(model.handle(.enter) == .send("carol"))
        #expect(model.frame().lines[4] == " carol | 127.0.0.1:8080 | connecting")
        model.connectionChanged(
            .disconnected("connection refused"),
            remark: "cannot connect to 127.0.0.1:8080: connection refused")
        #expect(model.login == nil)
        #expect(model.frame().lines[4] == " (no login) | 127.0.0.1:8080 | disconnected: connection refused")
    }

    @Test func aLoginThatReachedTheServerStaysShownWhenTheConnectionIsLost() {
        var model = makeModel(login: nil, columns: 80)
        type("carol", into: &model)
        _ = model.handle(.enter)
        model.connectionChanged(.connected)
        model.connectionChanged(.disconnected("connection reset"))
        #expect(model.frame().lines[4] == " carol | 127.0.0.1:8080 | disconnected: connection reset")
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

    @Test func tinyTerminalSaysSoInWhatFits() {
        var model = makeModel(rows: 2, columns: 40)
        #expect(model.frame().lines == ["terminal too small", ""])
        model.resize(rows: 8, columns: 10)
        #expect(model.frame().lines[0] == "too small")
        model.resize(rows: 1, columns: 1)
        #expect(model.frame().lines == ["…"])
    }

    /// Every size from 1 × 1 up, in states that each stretch some part of the frame: no row
    /// is wider than the terminal, there are exactly as many rows as it has, the cursor is on
    /// it, and nothing traps.
    @Test func everyFrameFitsEveryTerminalSize() {
        let longReason = "login 'a-rather-long-login-name-for-a-narrow-terminal' is already online"
        let states:
            [(name: String, login: String?, timestamps: Bool, prepare: (inout ChatScreenModel) -> Void)] = [
                ("connecting, no login yet", nil, false, { _ in }),
                (
                    "scrolled up, many lines below", "alice", true,
                    { model in
                        model.connectionChanged(.connected)
                        for index in 1...12 { model.receive(serverLine: "from bob: line \(index)") }
                        _ = model.handle(.pageUp)
                        _ = model.handle(.pageUp)
                        for index in 1...1234 { model.receive(serverLine: "from bob: more \(index) 世界") }
                    }
                ),
                (
                    "long reason", "alice", false,
                    { model in model.connectionChanged(.disconnected(longReason)) }
                ),
                (
                    "long input", nil, false,
                    { model in
                        model.connectionChanged(.connected)
                        for _ in 0..<30 { _ = model.handle(.character("世")) }
                        for _ in 0..<7 { _ = model.handle(.left) }
                    }
                ),
            ]
        for state in states {
            var model = ChatScreenModel(
                options: .init(
                    serverName: "127.0.0.1:8080", login: state.login, showsTimestamps: state.timestamps),
                clock: { 0 })
            model.resize(rows: 24, columns: 80)
            state.prepare(&model)
            for rows in 1...10 {
                for columns in 1...40 {
                    model.resize(rows: rows, columns: columns)
                    _ = model.handle(.pageUp)
                    let frame = model.frame()
                    // One #expect per frame would cost more than the frames.
                    if frame.rows.count != rows || frame.rows.contains(where: { $0.width > columns })
                        || frame.cursor.row >= rows || frame.cursor.column >= columns
                    {
                        Issue.record(
                            "\(state.name), \(columns) × \(rows): \(frame.lines), cursor \(frame.cursor)")
                    }
                }
            }
            if state.name.hasPrefix("scrolled") { #expect(model.scrollback.entriesBelow > 100) }
        }
    }

    @Test func narrowStatusLineKeepsAShortScrollHint() {
        var model = makeModel(rows: 8, columns: 20)
        for index in 1...12 { model.receive(serverLine: "from bob: line \(index)") }
        _ = model.handle(.pageUp)
        #expect(model.frame().lines[6] == " alice | 1… 5 below")
    }

    @Test func unknownEscapeSequencesAreDroppedWhole() {
        var model = makeModel()
        type("ab", into: &model)
        // Shift-Left, Alt-Left, Shift-Right, Ctrl-Up, an SS3 F1 and a bracketed-paste start, as
        // a terminal whose terminfo lacks them delivers them: Escape, then the rest as characters.
        for sequence in ["[1;2D", "[1;3D", "[1;2C", "[1;5A", "OP", "[200~"] {
            _ = model.handle(.escape)
            type(sequence, into: &model)
        }
        type("c", into: &model)
        #expect(model.editor.text == "abc")
        // A sequence cut short by a key that cannot be part of it leaves that key alone.
        _ = model.handle(.escape)
        type("[1", into: &model)
        _ = model.handle(.backspace)
        #expect(model.editor.text == "ab")
        // Alt and a letter still mean what they did.
        _ = model.handle(.escape)
        _ = model.handle(.character("b"))
        #expect(model.editor.cursor == 0)
        _ = model.handle(.escape)
        _ = model.handle(.character("f"))
        _ = model.handle(.escape)
        _ = model.handle(.backspace)
        #expect(model.editor.text == "")
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

    @Test func tabInTheMessageTextIsACharacter() {
        var model = makeModel()
        model.connectionChanged(.connected)
        model.receive(serverLine: "from alice: hi")
        type("bob: a", into: &model)
        _ = model.handle(.tab)
        type("b", into: &model)
        #expect(model.editor.text == "bob: a\tb")
        #expect(model.frame().lines[5] == "> bob: a b")
        #expect(model.frame().cursor == (5, 10))
        #expect(model.handle(.enter) == .send("bob: a\tb"))
        // In the recipient list it still completes; once more, it is a Tab in the text.
        type("a", into: &model)
        _ = model.handle(.tab)
        #expect(model.editor.text == "alice: ")
        _ = model.handle(.tab)
        #expect(model.editor.text == "alice: \t")
    }

    @Test func everyKeyThatEditsTheInputReturnsToTheBottom() {
        let keys: [[Key]] = [
            [.backspace], [.delete], [.control("u")], [.control("k")], [.control("w")],
            [.escape, .backspace],
            [.control("d")], [.tab], [.up], [.character("x")],
        ]
        for sequence in keys {
            var model = makeModel()
            model.connectionChanged(.connected)
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
    // MARK: Lines checked before they are sent

    @Test(arguments: [
        ("al ice", "a login may not contain spaces, ',' or ':'"),
        ("al,ice", "a login may not contain spaces, ',' or ':'"),
        ("alice:", "a login may not contain spaces, ',' or ':'"),
        ("al\u{200B}ice", "a login may not contain invisible or control characters (U+200B)"),
        (String(repeating: "n", count: 33), "a login may have at most 32 characters"),
    ])
    func anInvalidLoginIsNotSentAndUpBringsItBack(login: String, reason: String) {
        for connected in [false, true] {
            var model = makeModel(login: nil, columns: 120)
            if connected { model.connectionChanged(.connected) }
            type(login, into: &model)
            #expect(model.handle(.enter) == nil)
            #expect(model.login == nil)
            #expect(model.editor.text == "")
            let lines = model.frame().lines
            // A zero-width space takes no cell, so the frame has nothing to show for it.
            #expect(
                lines[3] == "-- not sent (\(reason); Up brings it back): "
                    + login.replacing("\u{200B}", with: ""))
            #expect(lines[5] == "login:")
            // Fixed from the history, it goes.
            _ = model.handle(.up)
            #expect(model.editor.text == login)
            _ = model.handle(.control("u"))
            type("alice", into: &model)
            #expect(model.handle(.enter) == .send("alice"))
        }
    }

    @Test(arguments: [
        ("hello bob", "no ':'"), (": hi", "no name before ':'"), (" , : hi", "no name before ':'"),
        (",:", "no name before ':'"), ("bob:", "no text after ':'"), ("bob:   ", "no text after ':'"),
        ("bob, carol: \t ", "no text after ':'"),
    ])
    func aMalformedMessageIsNotSentAndUpBringsItBack(line: String, reason: String) {
        var model = makeModel(columns: 80)
        model.connectionChanged(.connected)
        type(line, into: &model)
        #expect(model.handle(.enter) == nil)
        #expect(model.editor.text == "")
        let lines = model.frame().lines
        // The frame drops trailing blanks, as `tmux capture-pane` does.
        var shown = line
        while shown.last?.isWhitespace == true { shown.removeLast() }
        #expect(lines[3] == "-- not sent (\(reason); Up brings it back): \(shown)")
        #expect(!lines.contains { $0.hasPrefix("→") })
        _ = model.handle(.up)
        #expect(model.editor.text == line)
    }

    /// A paste: each line ends in Enter. A line refused here must not run into the next.
    @Test func aLineAfterARefusedOneIsNotGluedToIt() {
        var model = makeModel(columns: 80)
        model.connectionChanged(.connected)
        type("carol hi there", into: &model)
        #expect(model.handle(.enter) == nil)
        type("carol: second line", into: &model)
        #expect(model.handle(.enter) == .send("carol: second line"))
        let lines = model.frame().lines
        #expect(
            Array(lines[2...3]) == [
                "-- not sent (no ':'; Up brings it back): carol hi there", "→ carol: second line",
            ])
        #expect(model.completion.knownLogins == ["carol"])
        _ = model.handle(.up)
        _ = model.handle(.up)
        #expect(model.editor.text == "carol hi there")
    }

    @Test func completionLearnsNoNameFromALineThatWasNotSent() {
        var model = makeModel(login: nil, columns: 80)
        for line in ["bob", "carol: not yet", "/dave: hi"] {
            type(line, into: &model)
            _ = model.handle(.enter)
        }
        model.connectionChanged(.connected)
        for line in ["erin hi", "frank:", "/gina: hi"] {
            type(line, into: &model)
            #expect(model.handle(.enter) == nil)
        }
        model.connectionChanged(.disconnected("connection reset"))
        type("hank: gone", into: &model)
        #expect(model.handle(.enter) == nil)
        #expect(model.completion.knownLogins.isEmpty)
    }

    @Test func quitIsACommandNotAMessage() {
        var model = makeModel()
        model.connectionChanged(.connected)
        type("/quit", into: &model)
        #expect(model.handle(.enter) == .quit)
    }

    @Test func enterOnWhiteSpaceClearsTheInput() {
        for login: String? in [nil, "alice"] {
            for state in [ConnectionState.connecting, .connected, .disconnected("connection refused")] {
                var model = makeModel(login: login)
                model.connectionChanged(state)
                let before = model.frame().lines
                type("  \t ", into: &model)
                #expect(model.handle(.enter) == nil)
                #expect(model.editor.text == "")
                #expect(model.frame().lines == before, "\(state)")
            }
        }
    }
    // MARK: A refused login

    @Test func aRefusedTypedLoginIsClearedAndAskedForAgainOnANewConnection() {
        var model = makeModel(login: nil, rows: 10, columns: 80)
        model.connectionChanged(.connected)
        type("bob", into: &model)
        #expect(model.handle(.enter) == .send("bob"))
        model.receive(serverLine: "error: login 'bob' is already online")
        let command = model.serverClosed(
            reason: "login 'bob' is already online", remark: "server 127.0.0.1:8080 closed the connection")
        #expect(command == .reconnect)
        #expect(model.login == nil)
        #expect(model.connection == .connecting)
        var lines = model.frame().lines
        #expect(
            Array(lines[4...7]) == [
                "-- logging in as bob",
                "-!- login 'bob' is already online",
                "-- login refused; enter another login (Up brings it back)",
                "-- connecting to 127.0.0.1:8080",
            ])
        #expect(lines[8] == " (no login yet) | 127.0.0.1:8080 | connecting")
        #expect(lines[9] == "login:")
        _ = model.handle(.up)
        #expect(model.editor.text == "bob")
        _ = model.handle(.control("u"))

        model.connectionChanged(.connected)
        type("carol", into: &model)
        #expect(model.handle(.enter) == .send("carol"))
        type("bob: hi", into: &model)
        #expect(model.handle(.enter) == .send("bob: hi"))
        lines = model.frame().lines
        #expect(lines[8].hasPrefix(" carol | 127.0.0.1:8080 | connected"))

        // A notice that answers a message is no refusal, whatever the name in it.
        model.receive(serverLine: "error: 'login' is not online")
        #expect(model.serverClosed(reason: "server is shutting down", remark: "closed") == nil)
        #expect(model.login == "carol")
    }

    @Test func aLoginTypedWhileConnectingAndRefusedIsAskedForAgain() {
        var model = makeModel(login: nil, columns: 80)
        type("bob", into: &model)
        #expect(model.handle(.enter) == .send("bob"))
        model.connectionChanged(.connected)
        model.receive(serverLine: "error: login 'bob' is already online")
        #expect(model.serverClosed(reason: "login 'bob' is already online", remark: "closed") == .reconnect)
        #expect(model.frame().lines[5] == "login:")
    }

    @Test func aRefusedLoginArgumentSaysToRestartAndDoesNotReconnect() {
        var model = makeModel(login: "bob", columns: 80)
        model.connectionChanged(.connected)
        model.receive(serverLine: "error: login 'bob' is already online")
        let command = model.serverClosed(
            reason: "login 'bob' is already online", remark: "server 127.0.0.1:8080 closed the connection")
        #expect(command == nil)
        let lines = model.frame().lines
        #expect(
            Array(lines[2...3]) == [
                "-!- login 'bob' is already online", "-- login refused; restart with another login",
            ])
        #expect(lines[4] == " (no login) | 127.0.0.1:8080 | disconnected: login 'bob' is already online")
        type("carol", into: &model)
        #expect(model.handle(.enter) == nil)
    }

    /// A paste sends messages right behind the login; the refusal still counts as one.
    @Test func aRefusalAfterMessagesWentOutIsStillARefusal() {
        var model = makeModel(login: nil, columns: 80)
        model.connectionChanged(.connected)
        type("bob", into: &model)
        #expect(model.handle(.enter) == .send("bob"))
        type("bob: one", into: &model)
        #expect(model.handle(.enter) == .send("bob: one"))
        model.receive(serverLine: "error: login 'bob' is already online")
        #expect(model.serverClosed(reason: "login 'bob' is already online", remark: "closed") == .reconnect)
        #expect(model.login == nil)
    }

    /// The texts our server refuses a login with, and every other notice it sends.
    @Test func loginNoticesAreToldFromTheOthers() {
        let refusals: [Notice] = [
            .loginRefused(.empty), .loginRefused(.tooLong), .loginRefused(.forbiddenCharacter(" ")),
            .loginRefused(.forbiddenCharacter("\u{200B}")), .loginTaken("bob"),
        ]
        let others: [Notice] = [
            .lineTooLong(limit: 10), .invalidUTF8, .recipientOffline("login"), .recipientOffline("bob"),
            .missingColon, .noRecipients, .tooSlow, .shuttingDown,
        ]
        for notice in refusals { #expect(ChatScreenModel.isAboutTheLogin(notice: notice.text), "\(notice)") }
        for notice in others { #expect(!ChatScreenModel.isAboutTheLogin(notice: notice.text), "\(notice)") }
    }

    /// Only a close that answers the login is a refusal; every other close ends the session as
    /// before, with no new connection, however soon after the login it comes.
    @Test func otherClosesDoNotReconnect() {
        let closes: [(name: String, login: String?, events: (inout ChatScreenModel) -> Void)] = [
            ("a message before the notice", "alice", { $0.receive(serverLine: "from bob: hi") }),
            (
                "a message after a login notice", "alice",
                {
                    $0.receive(serverLine: "error: login 'alice' is already online")
                    $0.receive(serverLine: "from bob: hi")
                }
            ),
            (
                "two notices", "alice",
                {
                    $0.receive(serverLine: "error: 'zed' is not online")
                    $0.receive(serverLine: "error: server is shutting down")
                }
            ),
            ("no notice", "alice", { _ in }),
            ("an overlong line", "alice", { $0.receiveOverlongLine() }),
            ("a shutdown", "alice", { $0.receive(serverLine: "error: server is shutting down") }),
            (
                "a slow reader cut off", "alice",
                { $0.receive(serverLine: "error: you are not reading fast enough; disconnecting") }
            ),
            ("a recipient named login", "alice", { $0.receive(serverLine: "error: 'login' is not online") }),
            // No login went out: the notice cannot be about one.
            (
                "a notice before any login", nil,
                { $0.receive(serverLine: "error: login 'x' is already online") }
            ),
        ]
        for close in closes {
            var model = makeModel(login: nil, columns: 80)
            model.connectionChanged(.connected)
            if let login = close.login {
                type(login, into: &model)
                _ = model.handle(.enter)
            }
            close.events(&model)
            #expect(model.serverClosed(reason: "why", remark: "server closed") == nil, "\(close.name)")
            #expect(model.connection == .disconnected("why"), "\(close.name)")
            #expect(model.login == close.login, "\(close.name)")
            #expect(model.frame().lines[3] == "-- server closed", "\(close.name)")
        }
    }

    @Test func aReconnectThatCannotConnectEndsThere() {
        var model = makeModel(login: nil, columns: 80)
        model.connectionChanged(.connected)
        type("bob", into: &model)
        _ = model.handle(.enter)
        model.receive(serverLine: "error: login 'bob' is already online")
        #expect(model.serverClosed(reason: "login 'bob' is already online", remark: "closed") == .reconnect)
        model.connectionChanged(
            .disconnected("connection refused"),
            remark: "cannot connect to 127.0.0.1:8080: connection refused")
        type("carol", into: &model)
        #expect(model.handle(.enter) == nil)
        let lines = model.frame().lines
        #expect(lines[3] == "-- not sent: disconnected; /quit leaves")
        #expect(lines[4] == " (no login) | 127.0.0.1:8080 | disconnected: connection refused")
        #expect(lines[5] == ">")
    }
}

@Suite struct MailboxTests {
    @Test func anyCapacityIsSafe() throws {
        let wake = try #require(WakePipe())
        defer { wake.close() }
        let mailbox = Mailbox(wake: wake, capacity: Int.max)
        for index in 0..<2000 { mailbox.post(.line("from bob: \(index)")) }
        #expect(mailbox.takeAll().count == 2000)
    }

    @Test func aFloodKeepsTheNewestLinesAndEveryOtherEvent() throws {
        let wake = try #require(WakePipe())
        defer { wake.close() }
        let mailbox = Mailbox(wake: wake, capacity: 10)
        mailbox.post(.connected)
        for index in 0..<2000 { mailbox.post(.line("\(index)")) }
        let events = mailbox.takeAll()
        #expect(events.count <= 10 + 1024 + 1)
        if case .connected = events.first {} else { Issue.record("connected was dropped") }
        if case .line("1999") = events.last {} else { Issue.record("the newest line was dropped") }
    }
}
