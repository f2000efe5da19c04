import ChatProtocol
import Testing

@testable import ChatScreen

/// What Enter does with a line: a login or a message the server would refuse is checked before it
/// is sent and stays in the input with a remark, costing neither the connection nor the line;
/// commands and blank lines are never sent as messages.
@Suite struct ModelLineCheckTests {
    init() { #expect(utf8LocaleIsReady) }

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
            if connected { model.connected() }
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
        model.connected()
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

    /// A paste gone wrong: more than a server takes in one line (64 KiB by default) is not sent,
    /// and the remark shows only its start.
    @Test func aLineOverTheServersLimitIsNotSentAndUpBringsItBack() {
        var model = makeModel(rows: 8, columns: 80)
        model.connected()
        let longest = "bob: " + String(repeating: "x", count: LineFramer.defaultMaximumLineBytes - 5)
        model.editor.setText(longest)
        #expect(model.handle(.enter) == .send(longest))
        let tooLong = longest + "y"
        model.editor.setText(tooLong)
        #expect(model.handle(.enter) == nil)
        #expect(model.editor.text == "")
        #expect(
            model.scrollback.newest?.kind
                == .info(
                    "not sent (longer than 65536 bytes; Up brings it back): "
                        + TranscriptEntry.shownText(tooLong)))
        #expect(model.frame().lines.contains { $0.hasSuffix("xxx … (57345 more bytes)") })
        _ = model.handle(.up)
        #expect(model.editor.text == tooLong)
    }

    /// A paste: each line ends in Enter. A line refused here must not run into the next.
    @Test func aLineAfterARefusedOneIsNotGluedToIt() {
        var model = makeModel(columns: 80)
        model.connected()
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
        for line in ["bob", "carol: not yet", "/dave hi"] {
            type(line, into: &model)
            _ = model.handle(.enter)
        }
        model.connected()
        for line in ["erin hi", "frank:", "/gina hi"] {
            type(line, into: &model)
            #expect(model.handle(.enter) == nil)
        }
        _ = model.connectFailed("connection reset")
        type("hank: gone", into: &model)
        #expect(model.handle(.enter) == nil)
        #expect(model.completion.knownLogins.isEmpty)
    }

    @Test func quitIsACommandNotAMessage() {
        var model = makeModel()
        model.connected()
        type("/quit", into: &model)
        #expect(model.handle(.enter) == .quit)
    }

    @Test func enterOnWhiteSpaceClearsTheInput() {
        for login: String? in [nil, "alice"] {
            for state in TestConnection.all {
                var model = makeModel(login: login)
                model.enter(state)
                let before = model.frame().lines
                type("  \t ", into: &model)
                #expect(model.handle(.enter) == nil)
                #expect(model.editor.text == "")
                #expect(model.frame().lines == before, "\(state)")
            }
        }
    }
}
