import ChatClient
import ChatProtocol
import Testing

/// The connection's life without sockets or timers: events in, actions out, time passed in.
@Suite struct ConnectionLifecycleTests {
    let start = ContinuousClock.now

    private func lifecycle(
        reconnects: Bool = true, login: String? = "alice", asks: Bool = false, jitter: Double = 0
    ) -> ConnectionLifecycle {
        ConnectionLifecycle(
            policy: ReconnectPolicy(isEnabled: reconnects), login: login, asksForAnotherLogin: asks,
            jitter: { jitter })
    }

    @Test func theBackOffDoublesUpToThirtySeconds() {
        let policy = ReconnectPolicy(isEnabled: true)
        let waits = (1...8).map { policy.delay(beforeAttempt: $0, jitter: 0) }
        #expect(waits == [1, 2, 4, 8, 16, 30, 30, 30].map { Duration.seconds($0) })
        // Jitter only ever shortens a wait, by at most a quarter.
        #expect(policy.delay(beforeAttempt: 3, jitter: 1) == .seconds(3))
        #expect(policy.delay(beforeAttempt: 6, jitter: 0.5) == .milliseconds(26_250))
        #expect(policy.delay(beforeAttempt: Int.max, jitter: 0) == .seconds(30))
        let fast = ReconnectPolicy(isEnabled: true, baseDelay: .milliseconds(100))
        #expect(fast.delay(beforeAttempt: 4, jitter: 0) == .milliseconds(800))
    }

    @Test func aLostConnectionWaitsLongerAfterEachFailedAttempt() {
        var life = lifecycle()
        #expect(life.start() == .connect(login: "alice"))
        life.connected(now: start)
        var now = start + .seconds(60)
        var expected: [Duration] = []
        for attempt in 1...4 {
            guard case .wait(let deadline, attempt)? = life.sessionEnded(.lost, now: now) else {
                Issue.record("attempt \(attempt) did not wait: \(life.phase)")
                return
            }
            expected.append(deadline - now)
            #expect(life.tick(now: deadline - .milliseconds(1)) == nil)
            #expect(life.phase == .waiting(until: deadline, attempt: attempt))
            #expect(life.tick(now: deadline) == .connect(login: "alice"))
            #expect(life.phase == .connecting(attempt: attempt))
            now = deadline + .milliseconds(5)
        }
        #expect(expected == [1, 2, 4, 8].map { Duration.seconds($0) })
        #expect(life.isReconnect)
    }

    @Test func aConnectionThatStayedUpStartsTheBackOffAfresh() {
        var life = lifecycle()
        _ = life.start()
        for _ in 0..<3 {
            life.connected(now: start)
            guard case .wait(let deadline, _)? = life.sessionEnded(.lost, now: start + .seconds(1)) else {
                return
            }
            _ = life.tick(now: deadline)
        }
        #expect(life.phase == .connecting(attempt: 3))
        // Up for longer than `stableAfter`: the next loss is attempt 1 again.
        life.connected(now: start + .seconds(20))
        #expect(
            life.sessionEnded(.lost, now: start + .seconds(40))
                == .wait(until: start + .seconds(41), attempt: 1))
        #expect(life.isReconnect)
    }

    @Test func theServerDownAtStartIsTriedAgainAndAgain() {
        var life = lifecycle()
        _ = life.start()
        var now = start
        for attempt in 1...10 {
            guard case .wait(let deadline, attempt)? = life.sessionEnded(.lost, now: now) else {
                Issue.record("no wait at attempt \(attempt)")
                return
            }
            now = deadline
            #expect(life.tick(now: now) == .connect(login: "alice"))
        }
        life.connected(now: now)
        #expect(!life.isReconnect)
        #expect(life.quit() == .exit(status: 0))
    }

    @Test func withReconnectingOffALostConnectionStops() {
        var life = lifecycle(reconnects: false)
        _ = life.start()
        life.connected(now: start)
        #expect(life.sessionEnded(.lost, now: start) == .stop(.disconnected))
        #expect(life.phase == .givenUp)
        #expect(life.tick(now: start + .seconds(3600)) == nil)
        #expect(life.quit() == .exit(status: 1))
    }

    @Test func aTypedLoginThatNeverReachedAServerIsDroppedWhenNothingMoreIsTried() {
        var life = lifecycle(reconnects: false, login: nil, asks: true)
        _ = life.start()
        life.loginChosen("carol")
        #expect(life.sessionEnded(.lost, now: start) == .stop(.disconnected))
        #expect(life.login == nil)
        // Reconnecting, it is kept for the next attempt.
        var again = lifecycle(login: nil, asks: true)
        _ = again.start()
        again.loginChosen("carol")
        guard case .wait(let deadline, 1)? = again.sessionEnded(.lost, now: start) else { return }
        #expect(again.tick(now: deadline) == .connect(login: "carol"))
    }

    @Test func aRefusedTypedLoginAsksForAnotherOnANewSession() {
        var life = lifecycle(login: nil, asks: true)
        _ = life.start()
        life.connected(now: start)
        life.loginChosen("bob")
        #expect(
            life.sessionEnded(.loginRefused(.loginTaken), now: start) == .askForAnotherLogin(refused: "bob"))
        #expect(life.login == nil)
        #expect(life.phase == .connecting(attempt: 0))
    }

    @Test func aRefusedLoginArgumentIsNotTriedAgain() {
        for kind in Notice.Kind.allCases.filter(\.refusesLogin) {
            var life = lifecycle(login: "bob")
            _ = life.start()
            life.connected(now: start)
            #expect(life.sessionEnded(.loginRefused(kind), now: start) == .stop(.loginRefused), "\(kind)")
            #expect(life.phase == .refused)
            #expect(life.quit() == .exit(status: 1))
        }
    }

    @Test func aLoginStillHeldByTheLostConnectionIsTriedAFewTimes() {
        var life = lifecycle()
        _ = life.start()
        life.connected(now: start)
        guard case .wait(var deadline, 1)? = life.sessionEnded(.lost, now: start + .seconds(1)) else {
            return
        }
        #expect(life.loginWasAccepted)
        for retry in 1...3 {
            _ = life.tick(now: deadline)
            life.connected(now: deadline)
            let action = life.sessionEnded(.loginRefused(.loginTaken), now: deadline)
            guard case .waitForHeldLogin(let next, retry, 3)? = action else {
                Issue.record("retry \(retry): \(String(describing: action))")
                return
            }
            deadline = next
        }
        _ = life.tick(now: deadline)
        life.connected(now: deadline)
        #expect(life.sessionEnded(.loginRefused(.loginTaken), now: deadline) == .stop(.loginStillHeld))
        #expect(life.phase == .givenUp)
        // /reconnect gives it another round.
        #expect(life.reconnectNow() == .connect(login: "alice"))
        life.connected(now: deadline)
        #expect(
            life.sessionEnded(.loginRefused(.loginTaken), now: deadline)
                == .waitForHeldLogin(until: deadline + .seconds(1), retry: 1, limit: 3))
    }

    @Test func aLoginTimeoutWithNoLoginTypedWaitsForTheUser() {
        var life = lifecycle(login: nil, asks: true)
        _ = life.start()
        life.connected(now: start)
        #expect(life.sessionEnded(.loginTimedOut, now: start + .seconds(30)) == .awaitLogin)
        #expect(life.phase == .awaitingLogin)
        #expect(!life.hasSession)
        // No timer starts anything: only the login does.
        #expect(life.tick(now: start + .seconds(3600)) == nil)
        #expect(life.loginChosen("carol") == .connect(login: "carol"))
        #expect(life.phase == .connecting(attempt: 0))
        // With a login (given, or typed and sent), a timeout is a lost connection like any other.
        var given = lifecycle(login: "alice")
        _ = given.start()
        given.connected(now: start)
        #expect(
            given.sessionEnded(.loginTimedOut, now: start) == .wait(until: start + .seconds(1), attempt: 1))
        var idle = lifecycle(login: nil, asks: true)
        _ = idle.start()
        _ = idle.sessionEnded(.loginTimedOut, now: start)
        #expect(idle.quit() == .exit(status: 0))
    }

    @Test func reconnectNowConnectsOnlyWhenNoSessionRuns() {
        var life = lifecycle()
        #expect(life.reconnectNow() == nil)
        _ = life.start()
        #expect(life.reconnectNow() == nil)
        life.connected(now: start)
        #expect(life.reconnectNow() == nil)
        _ = life.sessionEnded(.lost, now: start)
        #expect(life.reconnectNow() == .connect(login: "alice"))
        #expect(life.phase == .connecting(attempt: 1))
        // The wait it cut short is over: its deadline starts nothing.
        #expect(life.tick(now: start + .seconds(10)) == nil)
    }

    @Test func quittingSaysWhetherTheConnectionWorked() {
        var connecting = lifecycle()
        _ = connecting.start()
        #expect(connecting.quit() == .exit(status: 0))
        var online = lifecycle()
        _ = online.start()
        online.connected(now: start)
        #expect(online.quit() == .exit(status: 0))
        var waiting = lifecycle()
        _ = waiting.start()
        _ = waiting.sessionEnded(.lost, now: start)
        #expect(waiting.quit() == .exit(status: 1))
        // Nothing that happens after quitting starts anything.
        #expect(waiting.sessionEnded(.lost, now: start) == nil)
        #expect(waiting.tick(now: start + .seconds(60)) == nil)
        #expect(waiting.reconnectNow() == nil)
    }
}
