import ChatProtocol
import Testing

@testable import ChatScreen

/// The model as connections fail, close and refuse logins, with reconnecting off
/// (`--no-reconnect`): a session that ends stays ended.
@Suite struct ModelConnectionTests {
    init() { #expect(utf8LocaleIsReady) }

    @Test func withoutALoginAfterDisconnectNothingIsSent() {
        var model = makeModel(login: nil, columns: 80, reconnects: false)
        _ = model.connectFailed("connection refused")
        #expect(model.frame().lines[5] == ">")
        type("alice", into: &model)
        #expect(model.handle(.enter) == nil)
        #expect(model.login == nil)
        #expect(model.editor.text == "")
        let lines = model.frame().lines
        #expect(lines[3] == "-- not sent: disconnected; /reconnect tries again, /quit leaves")
        #expect(lines[5] == ">")
    }

    @Test func afterDisconnectEnterClearsTheInputAndSaysItWasNotSent() {
        var model = makeModel(columns: 80, reconnects: false)
        model.connected()
        _ = model.connectFailed(
            "server closed the connection", remark: "server 127.0.0.1:8080 closed the connection")
        type("bob: hi", into: &model)
        #expect(model.handle(.enter) == nil)
        #expect(model.editor.text == "")
        let lines = model.frame().lines
        #expect(lines[2] == "-- server 127.0.0.1:8080 closed the connection")
        #expect(lines[3] == "-- not sent: disconnected; /reconnect tries again, /quit leaves")
        #expect(lines[4] == " alice | 127.0.0.1:8080 | disconnected: server closed the connection")
        #expect(lines[5] == ">")
    }

    /// Every way a session ends for good: no `login:` prompt, and no remark that promises Up
    /// could still get a line through.
    @Test func aDeadSessionAsksForNothing() {
        let ends: [(name: String, login: String?, end: (inout ChatScreenModel) -> Void)] = [
            ("a failed connect", nil, { _ = $0.connectFailed("connection refused") }),
            (
                "a refused LOGIN argument", "bob",
                { model in
                    model.connected()
                    model.receive(serverLine: "error: login 'bob' is already online")
                    _ = model.serverClosed(reason: "login 'bob' is already online", remark: "closed")
                }
            ),
            (
                "a shutdown", nil,
                { model in
                    model.connected()
                    model.receive(serverLine: "error: server is shutting down")
                    _ = model.serverClosed(reason: "server is shutting down", remark: "closed")
                }
            ),
            (
                "a failed reconnect", nil,
                { model in
                    model.connected()
                    _ = model.handle(.character("b"))
                    _ = model.handle(.enter)
                    model.receive(serverLine: "error: login 'b' is already online")
                    _ = model.serverClosed(reason: "login 'b' is already online", remark: "closed")
                    _ = model.connectFailed("connection refused")
                }
            ),
        ]
        for end in ends {
            var model = makeModel(login: end.login, columns: 80, reconnects: false)
            end.end(&model)
            #expect(model.frame().lines[5] == ">", "\(end.name)")
            type("carol", into: &model)
            #expect(model.handle(.enter) == nil, "\(end.name)")
            #expect(model.editor.text == "", "\(end.name)")
            let lines = model.frame().lines
            #expect(
                lines[3] == "-- not sent: disconnected; /reconnect tries again, /quit leaves", "\(end.name)")
            // A refused LOGIN is shown as the one tried, not as the user's.
            let who = end.login.map { "\($0) (refused)" } ?? "(no login)"
            #expect(lines[4].hasPrefix(" \(who) | 127.0.0.1:8080 | disconnected: "), "\(end.name)")
            #expect(lines[5] == ">", "\(end.name)")
        }
    }

    @Test func aLoginTypedWhileConnectingIsNotShownAsTheUsersWhenTheConnectFails() {
        var model = makeModel(login: nil, columns: 80, reconnects: false)
        type("carol", into: &model)
        #expect(model.handle(.enter) == .send("carol"))
        #expect(model.frame().lines[4] == " carol | 127.0.0.1:8080 | connecting")
        _ = model.connectFailed(
            "connection refused", remark: "cannot connect to 127.0.0.1:8080: connection refused")
        #expect(model.login == nil)
        #expect(model.frame().lines[4] == " (no login) | 127.0.0.1:8080 | disconnected: connection refused")
    }

    @Test func aLoginThatReachedTheServerStaysShownWhenTheConnectionIsLost() {
        var model = makeModel(login: nil, columns: 80, reconnects: false)
        type("carol", into: &model)
        _ = model.handle(.enter)
        model.connected()
        _ = model.connectFailed("connection reset")
        #expect(model.frame().lines[4] == " carol | 127.0.0.1:8080 | disconnected: connection reset")
    }

    @Test func aRefusedTypedLoginIsClearedAndAskedForAgainOnANewConnection() {
        var model = makeModel(login: nil, rows: 10, columns: 80, reconnects: false)
        model.connected()
        type("bob", into: &model)
        #expect(model.handle(.enter) == .send("bob"))
        model.receive(serverLine: "error: login 'bob' is already online")
        let command = model.serverClosed(
            reason: "login 'bob' is already online", remark: "server 127.0.0.1:8080 closed the connection")
        #expect(command == .connect(login: nil))
        #expect(model.login == nil)
        #expect(model.lifecycle.phase == .connecting(attempt: 0))
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

        model.connected()
        type("carol", into: &model)
        #expect(model.handle(.enter) == .send("carol"))
        // The login, typed over the recalled name, ended the browsing: Down leaves a new draft
        // alone, and Up still finds the refused name, as it was.
        type("bob: draft", into: &model)
        _ = model.handle(.down)
        #expect(model.editor.text == "bob: draft")
        _ = model.handle(.up)
        #expect(model.editor.text == "bob")
        _ = model.handle(.down)
        #expect(model.editor.text == "bob: draft")
        _ = model.handle(.control("u"))
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
        var model = makeModel(login: nil, columns: 80, reconnects: false)
        type("bob", into: &model)
        #expect(model.handle(.enter) == .send("bob"))
        model.connected()
        model.receive(serverLine: "error: login 'bob' is already online")
        #expect(
            model.serverClosed(reason: "login 'bob' is already online", remark: "closed")
                == .connect(login: nil))
        #expect(model.frame().lines[5] == "login:")
    }

    @Test func aRefusedLoginArgumentSaysToRestartAndDoesNotReconnect() {
        var model = makeModel(login: "bob", columns: 80, reconnects: false)
        model.connected()
        model.receive(serverLine: "error: login 'bob' is already online")
        let command = model.serverClosed(
            reason: "login 'bob' is already online", remark: "server 127.0.0.1:8080 closed the connection")
        #expect(command == nil)
        let lines = model.frame().lines
        #expect(
            Array(lines[2...3]) == [
                "-!- login 'bob' is already online",
                "-- login refused; restart with another login, or /reconnect to retry",
            ])
        #expect(lines[4] == " bob (refused) | 127.0.0.1:8080 | disconnected: login 'bob' is already online")
        type("carol", into: &model)
        #expect(model.handle(.enter) == nil)
    }

    /// A paste sends messages right behind the login; the refusal still counts as one.
    @Test func aRefusalAfterMessagesWentOutIsStillARefusal() {
        var model = makeModel(login: nil, columns: 80, reconnects: false)
        model.connected()
        type("bob", into: &model)
        #expect(model.handle(.enter) == .send("bob"))
        type("bob: one", into: &model)
        #expect(model.handle(.enter) == .send("bob: one"))
        model.receive(serverLine: "error: login 'bob' is already online")
        #expect(
            model.serverClosed(reason: "login 'bob' is already online", remark: "closed")
                == .connect(login: nil))
        #expect(model.login == nil)
    }

    /// Lines pasted behind a login went out before the server refused it, and were shown as
    /// sent: the server delivered none of them, which the user must learn.
    @Test func linesSentBehindARefusedLoginAreSaidNotToHaveBeenDelivered() {
        var model = makeModel(login: nil, rows: 12, columns: 100, reconnects: false)
        model.connected()
        type("bob", into: &model)
        #expect(model.handle(.enter) == .send("bob"))
        for line in ["bob: pasted line", "bob: second pasted"] {
            type(line, into: &model)
            #expect(model.handle(.enter) == .send(line))
        }
        model.receive(serverLine: "error: login 'bob' is already online")
        #expect(
            model.serverClosed(reason: "login 'bob' is already online", remark: "closed")
                == .connect(login: nil))
        let lines = model.frame().lines
        #expect(
            Array(lines[4...8]) == [
                "→ bob: pasted line",
                "→ bob: second pasted",
                "-!- login 'bob' is already online",
                "-- 2 lines not delivered (login refused; Up brings them back)",
                "-- login refused; enter another login (Up brings it back)",
            ])
        for expected in ["bob", "bob: second pasted", "bob: pasted line"] {
            _ = model.handle(.up)
            #expect(model.editor.text == expected)
        }

        // The next connection starts counting afresh: a refusal of a login given on the command
        // line, one line behind it.
        model = makeModel(login: "bob", rows: 12, columns: 100, reconnects: false)
        model.connected()
        type("carol: hi", into: &model)
        #expect(model.handle(.enter) == .send("carol: hi"))
        model.receive(serverLine: "error: login 'bob' is already online")
        #expect(model.serverClosed(reason: "login 'bob' is already online", remark: "closed") == nil)
        #expect(
            model.frame().lines.contains(
                "-- 1 line not delivered (login refused; Up brings it back)"))
    }

    /// Lines sent on a connection that ends any other way were delivered, as far as anyone knows.
    @Test func linesSentBeforeAnotherCloseAreNotCalledUndelivered() {
        var model = makeModel(rows: 12, columns: 100, reconnects: false)
        model.connected()
        type("bob: hi", into: &model)
        #expect(model.handle(.enter) == .send("bob: hi"))
        model.receive(serverLine: "error: server is shutting down")
        _ = model.serverClosed(reason: "server is shutting down", remark: "closed")
        #expect(!model.frame().lines.contains { $0.contains("not delivered") })
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
            var model = makeModel(login: nil, columns: 80, reconnects: false)
            model.connected()
            if let login = close.login {
                type(login, into: &model)
                _ = model.handle(.enter)
            }
            close.events(&model)
            #expect(model.serverClosed(reason: "why", remark: "server closed") == nil, "\(close.name)")
            #expect(model.lifecycle.phase == .givenUp, "\(close.name)")
            #expect(model.frame().lines[4].hasSuffix("| disconnected: why"), "\(close.name)")
            #expect(model.login == close.login, "\(close.name)")
            #expect(model.frame().lines[3] == "-- server closed", "\(close.name)")
        }
    }

    @Test func aReconnectThatCannotConnectEndsThere() {
        var model = makeModel(login: nil, columns: 80, reconnects: false)
        model.connected()
        type("bob", into: &model)
        _ = model.handle(.enter)
        model.receive(serverLine: "error: login 'bob' is already online")
        #expect(
            model.serverClosed(reason: "login 'bob' is already online", remark: "closed")
                == .connect(login: nil))
        _ = model.connectFailed(
            "connection refused", remark: "cannot connect to 127.0.0.1:8080: connection refused")
        type("carol", into: &model)
        #expect(model.handle(.enter) == nil)
        let lines = model.frame().lines
        #expect(lines[3] == "-- not sent: disconnected; /reconnect tries again, /quit leaves")
        #expect(lines[4] == " (no login) | 127.0.0.1:8080 | disconnected: connection refused")
        #expect(lines[5] == ">")
    }
}
