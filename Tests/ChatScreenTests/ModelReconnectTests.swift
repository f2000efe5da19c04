import ChatClient
import Testing

@testable import ChatScreen

/// The model reconnecting: the countdown, the remarks, what happens to lines and logins entered
/// meanwhile, `/reconnect`, and the exit status; time moves only when a test ticks it.
@Suite struct ModelReconnectTests {
    init() { #expect(utf8LocaleIsReady) }

    private func statusLine(_ model: inout ChatScreenModel) -> String {
        let lines = model.frame().lines
        return lines[lines.count - 2]
    }

    @Test func aLostConnectionCountsDownAndComesBackWithTheSameLogin() {
        var model = makeModel(rows: 12, columns: 80)
        #expect(model.start() == .connect(login: "alice"))
        model.connected()
        model.receive(serverLine: "from bob: before")
        #expect(
            model.serverClosed(reason: "server is shutting down", remark: "server closed the connection")
                == nil)
        #expect(statusLine(&model) == " alice | 127.0.0.1:8080 | reconnecting in 1 s (attempt 1)")
        // The last second counts down by tenths.
        #expect(model.nextTick == testEpoch + .milliseconds(100))
        #expect(model.tick(now: testEpoch + .seconds(1)) == .connect(login: "alice"))
        #expect(statusLine(&model) == " alice | 127.0.0.1:8080 | reconnecting (attempt 1)")
        // The server is still down: attempt 2 waits 2 s, and the countdown ticks each second.
        #expect(
            model.connectFailed("connection refused", remark: "cannot connect: connection refused") == nil)
        #expect(statusLine(&model) == " alice | 127.0.0.1:8080 | reconnecting in 2 s (attempt 2)")
        #expect(model.nextTick == testEpoch + .seconds(2))
        #expect(model.tick(now: testEpoch + .milliseconds(1950)) == nil)
        #expect(statusLine(&model) == " alice | 127.0.0.1:8080 | reconnecting in 2 s (attempt 2)")
        #expect(model.tick(now: testEpoch + .milliseconds(2000)) == nil)
        #expect(statusLine(&model) == " alice | 127.0.0.1:8080 | reconnecting in 1 s (attempt 2)")
        #expect(model.tick(now: testEpoch + .milliseconds(2500)) == nil)
        #expect(statusLine(&model) == " alice | 127.0.0.1:8080 | reconnecting in 0.5 s (attempt 2)")
        #expect(model.tick(now: testEpoch + .seconds(3)) == .connect(login: "alice"))
        // Again refused: said once, however often it happens.
        _ = model.connectFailed("connection refused", remark: "cannot connect: connection refused")
        #expect(statusLine(&model) == " alice | 127.0.0.1:8080 | reconnecting in 4 s (attempt 3)")
        #expect(model.tick(now: testEpoch + .seconds(7)) == .connect(login: "alice"))
        model.connected()
        let lines = model.frame().lines
        #expect(
            Array(lines[2...10]) == [
                "-- connecting to 127.0.0.1:8080",
                "-- connected to 127.0.0.1:8080",
                "-- logging in as alice",
                "bob: before",
                "-- server closed the connection",
                "-- cannot connect: connection refused",
                "-- reconnected to 127.0.0.1:8080",
                "-- logging in as alice",
                " alice | 127.0.0.1:8080 | connected",
            ])
        #expect(model.quit() == .quit)
        #expect(model.exitStatus == 0)
    }

    /// Short of room, the status line leaves out the server before the state.
    @Test func aNarrowStatusLineKeepsTheStateOverTheAddress() {
        var model = makeModel(rows: 12, columns: 36)
        #expect(model.start() == .connect(login: "alice"))
        model.connected()
        #expect(statusLine(&model) == " alice | 127.0.0.1:8080 | connected")
        // Exactly as wide as the text: the address stays (no trailing space is kept room for).
        model.resize(rows: 12, columns: 35)
        #expect(statusLine(&model) == " alice | 127.0.0.1:8080 | connected")
        model.resize(rows: 12, columns: 34)
        #expect(statusLine(&model) == " alice | connected")
        model.resize(rows: 12, columns: 36)
        _ = model.serverClosed(reason: "server is shutting down", remark: "server closed the connection")
        #expect(statusLine(&model) == " alice | reconnecting in 1 s (attem…")
    }

    /// `--reconnect-delay 0.3`: the status line says 0.3 s, not a whole second it will not wait.
    @Test func aWaitOfLessThanASecondIsShownInTenths() {
        var model = ChatScreenModel(
            options: .init(
                serverName: "127.0.0.1:8080", login: "alice", showsTimestamps: false,
                reconnect: ReconnectPolicy(isEnabled: true, baseDelay: .milliseconds(300))),
            clock: { 0 }, now: testEpoch, jitter: { 0 })
        model.resize(rows: 6, columns: 80)
        _ = model.start()
        _ = model.connectFailed("connection refused")
        #expect(statusLine(&model) == " alice | 127.0.0.1:8080 | reconnecting in 0.3 s (attempt 1)")
        #expect(model.nextTick == testEpoch + .milliseconds(100))
        #expect(model.tick(now: testEpoch + .milliseconds(150)) == nil)
        #expect(statusLine(&model) == " alice | 127.0.0.1:8080 | reconnecting in 0.2 s (attempt 1)")
        #expect(model.nextTick == testEpoch + .milliseconds(200))
        #expect(model.tick(now: testEpoch + .milliseconds(300)) == .connect(login: "alice"))
    }

    @Test func linesEnteredWhileReconnectingAreNotSentAndUpBringsThemBack() {
        var model = makeModel(columns: 80)
        _ = model.start()
        model.connected()
        _ = model.connectFailed("connection reset", remark: "connection lost")
        type("bob: are you there?", into: &model)
        #expect(model.handle(.enter) == nil)
        #expect(
            model.frame().lines[3] == "-- not sent (reconnecting; Up brings it back): bob: are you there?")
        _ = model.handle(.up)
        #expect(model.editor.text == "bob: are you there?")
        #expect(model.quit() == .quit)
        #expect(model.exitStatus == 1)
    }

    @Test func aLoginTypedWhileWaitingGoesFirstOnTheNextConnection() {
        var model = makeModel(login: nil, columns: 80)
        _ = model.start()
        _ = model.connectFailed("connection refused", remark: "cannot connect")
        // A connection is coming, so the prompt still asks for the login.
        #expect(model.frame().lines[5] == "login:")
        type("carol", into: &model)
        #expect(model.handle(.enter) == nil)
        #expect(model.frame().lines[3] == "-- will log in as carol once connected")
        #expect(model.tick(now: testEpoch + .seconds(1)) == .connect(login: "carol"))
        model.connected()
        #expect(model.frame().lines[3] == "-- logging in as carol")
    }

    @Test func reconnectCommandConnectsNowOrSaysWhyNot() {
        var model = makeModel(columns: 80)
        _ = model.start()
        type("/reconnect", into: &model)
        #expect(model.handle(.enter) == nil)
        #expect(model.frame().lines[3] == "-- already connecting")
        model.connected()
        type("/reconnect", into: &model)
        #expect(model.handle(.enter) == nil)
        #expect(model.frame().lines[3] == "-- already connected")
        _ = model.connectFailed("connection reset", remark: "connection lost")
        type(" /reconnect ", into: &model)
        #expect(model.handle(.enter) == .connect(login: "alice"))
        #expect(model.frame().lines[3] == "-- reconnecting to 127.0.0.1:8080")
        #expect(model.frame().lines[4].hasSuffix("| reconnecting (attempt 1)"))
        // The wait it cut short starts nothing when it is over.
        #expect(model.tick(now: testEpoch + .seconds(5)) == nil)
    }

    @Test func aLoginStillHeldIsRetriedThenGivenUpWithARemark() {
        var model = makeModel(rows: 20, columns: 100)
        _ = model.start()
        model.connected()
        var now = testEpoch
        _ = model.connectFailed("connection reset", remark: "connection lost")
        for retry in 0...3 {
            guard let deadline = model.lifecycle.waitDeadline else {
                Issue.record("not waiting before retry \(retry)")
                return
            }
            now = deadline
            #expect(model.tick(now: now) == .connect(login: "alice"))
            model.connected()
            model.receive(serverLine: "error: login 'alice' is already online")
            #expect(model.serverClosed(reason: "login 'alice' is already online", remark: "closed") == nil)
        }
        let lines = model.frame().lines
        #expect(
            lines.contains(
                "-- login alice is still online (likely the lost connection); retry 1 of 3"))
        #expect(
            lines.contains(
                "-- login alice is still online (likely the lost connection); retry 3 of 3"))
        #expect(lines[17] == "-- gave up: login alice is still online; /reconnect tries again")
        #expect(lines[18] == " alice | 127.0.0.1:8080 | disconnected: login 'alice' is already online")
        #expect(lines[19] == ">")
        type("/reconnect", into: &model)
        #expect(model.handle(.enter) == .connect(login: "alice"))
    }

    @Test func aServerThatTimedOutTheLoginIsReconnectedToOnceTheLoginIsEntered() {
        var model = makeModel(login: nil, columns: 80)
        _ = model.start()
        model.connected()
        model.receive(serverLine: "error: no login within 30 s; disconnecting")
        #expect(model.serverClosed(reason: "no login within 30 s; disconnecting", remark: "closed") == nil)
        var lines = model.frame().lines
        #expect(lines[2] == "-!- no login within 30 s; disconnecting")
        #expect(lines[3] == "-- enter your login to connect again")
        #expect(lines[4] == " (no login yet) | 127.0.0.1:8080 | waiting for your login")
        #expect(lines[5] == "login:")
        #expect(model.nextTick == nil)
        type("carol", into: &model)
        #expect(model.handle(.enter) == .connect(login: "carol"))
        lines = model.frame().lines
        #expect(
            Array(lines[2...4]) == [
                "-- will log in as carol once connected", "-- connecting to 127.0.0.1:8080",
                " carol | 127.0.0.1:8080 | connecting",
            ])
    }

    @Test func withReconnectingOffTheOldDeadSessionRemains() {
        var model = makeModel(columns: 80, reconnects: false)
        _ = model.start()
        model.connected()
        #expect(model.serverClosed(reason: "server is shutting down", remark: "closed") == nil)
        #expect(model.nextTick == nil)
        #expect(statusLine(&model) == " alice | 127.0.0.1:8080 | disconnected: server is shutting down")
    }
}

extension ConnectionLifecycle {
    /// When the wait under way ends, if one is.
    var waitDeadline: ContinuousClock.Instant? {
        if case .waiting(let deadline, _) = phase { return deadline }
        return nil
    }
}
