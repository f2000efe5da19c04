import ChatClient
import Testing

@testable import ChatScreen

/// A server that accepts the connection and turns it away with a notice, at every attempt: said
/// once, with no `reconnected` claimed for an attempt that did not get in; time moves only when
/// a test ticks it.
@Suite struct ModelTurnAwayTests {
    init() { #expect(utf8LocaleIsReady) }

    private let full = "error: server is full; try again later"

    /// One attempt turned away as a full server does: the notice, then the close, at once.
    private func turnedAway(_ model: inout ChatScreenModel, at now: inout ContinuousClock.Instant) {
        guard let deadline = model.lifecycle.waitDeadline else {
            Issue.record("not waiting for the next attempt")
            return
        }
        now = deadline
        #expect(model.tick(now: now) == .connect(login: "alice"))
        model.connected()
        model.receive(serverLine: full)
        #expect(model.serverClosed(reason: "server is full; try again later", remark: "closed") == nil)
    }

    @Test func aServerThatKeepsTurningTheLoginAwayIsSaidSoOnce() {
        var model = makeModel(rows: 12, columns: 80)
        var now = testEpoch
        _ = model.start()
        model.connected()
        model.receive(serverLine: full)
        #expect(model.serverClosed(reason: "server is full; try again later", remark: "closed") == nil)
        let firstRefusal = [
            "-- connecting to 127.0.0.1:8080",
            "-- connected to 127.0.0.1:8080",
            "-- logging in as alice",
            "-!- server is full; try again later",
            "-- closed",
        ]
        #expect(Array(model.frame().lines[5...9]) == firstRefusal)
        for _ in 1...3 { turnedAway(&model, at: &now) }
        var lines = model.frame().lines
        #expect(Array(lines[5...9]) == firstRefusal)
        #expect(lines[10] == " alice | 127.0.0.1:8080 | reconnecting in 8 s (attempt 4)")
        // Let in at last: the attempt shows once it has been up for a second with nothing said.
        now = model.lifecycle.waitDeadline ?? now
        #expect(model.tick(now: now) == .connect(login: "alice"))
        model.connected()
        #expect(model.nextTick == now + SessionOpening.settleTime)
        #expect(Array(model.frame().lines[5...9]) == firstRefusal)
        #expect(model.tick(now: now + .milliseconds(999)) == nil)
        let shownEarly = model.showSettledOpening(now: now + .milliseconds(999))
        #expect(!shownEarly)
        #expect(!model.frame().lines.contains("-- reconnected to 127.0.0.1:8080"))
        #expect(model.tick(now: now + SessionOpening.settleTime) == nil)
        let shownAfterASecond = model.showSettledOpening(now: now + SessionOpening.settleTime)
        #expect(shownAfterASecond)
        lines = model.frame().lines
        #expect(
            Array(lines[3...10]) == firstRefusal + [
                "-- reconnected to 127.0.0.1:8080", "-- logging in as alice",
                " alice | 127.0.0.1:8080 | connected",
            ])
        #expect(model.nextTick == nil)
    }

    /// The UI took the refusal a second and a half after the connect, though it came a
    /// millisecond after: the times they happened at decide, so it was still turned away, and
    /// the next attempt's lines are held.
    @Test func aRefusalTakenLateIsStillATurnAway() {
        var model = makeModel(rows: 12, columns: 80)
        var now = testEpoch
        _ = model.start()
        model.connected(at: now)
        model.receive(serverLine: full)
        let refusedAt = now + .milliseconds(1)
        now = now + .milliseconds(1500)
        _ = model.tick(now: now)
        _ = model.serverClosed(reason: "server is full; try again later", remark: "closed", at: refusedAt)
        turnedAway(&model, at: &now)
        #expect(model.frame().lines.count { $0 == "-!- server is full; try again later" } == 1)
    }

    @Test func aHeldAttemptShowsAtItsFirstMessage() {
        var model = makeModel(rows: 12, columns: 80)
        var now = testEpoch
        _ = model.start()
        model.connected()
        model.receive(serverLine: full)
        _ = model.serverClosed(reason: "server is full; try again later", remark: "closed")
        turnedAway(&model, at: &now)
        now = model.lifecycle.waitDeadline ?? now
        _ = model.tick(now: now)
        model.connected()
        model.receive(serverLine: "from bob: you are in")
        #expect(
            Array(model.frame().lines[7...9]) == [
                "-- reconnected to 127.0.0.1:8080", "-- logging in as alice", "bob: you are in",
            ])
    }

    @Test func aDifferentRefusalIsShownInFull() {
        var model = makeModel(rows: 14, columns: 80)
        var now = testEpoch
        _ = model.start()
        model.connected()
        model.receive(serverLine: full)
        _ = model.serverClosed(reason: "server is full; try again later", remark: "closed")
        now = model.lifecycle.waitDeadline ?? now
        _ = model.tick(now: now)
        model.connected()
        model.receive(serverLine: "error: more than 4 connections from your address; try again later")
        _ = model.serverClosed(
            reason: "more than 4 connections from your address; try again later", remark: "closed")
        #expect(
            Array(model.frame().lines[7...11]) == [
                "-- closed",
                "-- reconnected to 127.0.0.1:8080",
                "-- logging in as alice",
                "-!- more than 4 connections from your address; try again later",
                "-- closed",
            ])
    }

    @Test func aLoginStillHeldSaysReconnectedOnceThenCountsTheRetries() {
        var model = makeModel(rows: 12, columns: 100)
        var now = testEpoch
        _ = model.start()
        model.connected()
        model.receive(serverLine: "from bob: hello")
        _ = model.connectFailed("connection reset", remark: "connection lost")
        for _ in 1...3 {
            now = model.lifecycle.waitDeadline ?? now
            #expect(model.tick(now: now) == .connect(login: "alice"))
            model.connected()
            model.receive(serverLine: "error: login 'alice' is already online")
            _ = model.serverClosed(reason: "login 'alice' is already online", remark: "closed")
        }
        let lines = model.frame().lines
        #expect(
            Array(lines[2...9]) == [
                "bob: hello",
                "-- connection lost",
                "-- reconnected to 127.0.0.1:8080",
                "-- logging in as alice",
                "-!- login 'alice' is already online",
                "-- login alice is still online (likely the lost connection); retry 1 of 3",
                "-- login alice is still online (likely the lost connection); retry 2 of 3",
                "-- login alice is still online (likely the lost connection); retry 3 of 3",
            ])
    }
}
