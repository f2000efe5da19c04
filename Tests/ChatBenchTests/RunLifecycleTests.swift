import Testing

@testable import ChatBench

/// The run's phases without a socket: each event in, the action out.
@Suite struct RunLifecycleTests {
    let second: UInt64 = 1_000_000_000

    func lifecycle(connections: Int = 5, ring: Int = 4, concurrency: Int = 2) -> RunLifecycle {
        RunLifecycle(
            connections: connections, ringClients: ring, concurrency: concurrency, stallTimeoutSeconds: 10)
    }

    /// Logged in and running, with every connection up.
    func running() -> RunLifecycle {
        var machine = lifecycle(concurrency: 5)
        _ = machine.startLogin(now: 0)
        for _ in 0..<5 { _ = machine.clientLoggedIn() }
        #expect(machine.startRun(now: 0, expectedDeliveries: 10) == .startSending)
        return machine
    }

    @Test func loginOpensAFewConnectionsAtATimeAndReachesTheBarrier() {
        var machine = lifecycle()
        #expect(machine.startLogin(now: 0) == .connect(0..<2))
        #expect(machine.startLogin(now: 0) == .none)
        #expect(machine.clientLoggedIn() == .connect(2..<3))
        #expect(machine.clientLoggedIn() == .connect(3..<4))
        #expect(machine.clientLoggedIn() == .connect(4..<5))
        #expect(machine.clientLoggedIn() == .none)
        #expect(machine.phase == .loggingIn)
        #expect(machine.clientLoggedIn() == .loginSucceeded)
        #expect(machine.phase == .loggedIn)
        // Nobody sends before the run starts, and a late login changes nothing.
        #expect(machine.clientLoggedIn() == .none)
        #expect(machine.startRun(now: 2, expectedDeliveries: 8) == .startSending)
        #expect(machine.phase == .running)
    }

    @Test func aRunWithNothingToDeliverEndsAsItStarts() {
        var machine = lifecycle(connections: 1, ring: 1)
        _ = machine.startLogin(now: 0)
        _ = machine.clientLoggedIn()
        #expect(machine.startRun(now: 0, expectedDeliveries: 0) == .runEnded(.allArrived))
        #expect(machine.phase == .finished(.allArrived))
    }

    @Test(arguments: [
        ("refused", "b-1 could not log in: error: login taken"),
        ("closed", "the server closed b-1 before it logged in"),
        ("connect", "cannot connect to 127.0.0.1:9: connection refused"),
    ])
    func aLoginFailsOnceAndForGood(event: String, message: String) {
        var machine = lifecycle()
        _ = machine.startLogin(now: 0)
        let action =
            switch event {
            case "refused": machine.loginRefused("b-1", answer: "error: login taken")
            case "closed": machine.closedByServer("b-1", wasLoggedIn: false, isSlowReader: false)
            default: machine.connectFailed("cannot connect to 127.0.0.1:9: connection refused")
            }
        #expect(action == .loginFailed(message))
        #expect(machine.phase == .failed)
        #expect(machine.clientLoggedIn() == .none)
        #expect(machine.connectFailed("again") == .none)
        #expect(machine.startRun(now: 1, expectedDeliveries: 1) == .none)
        #expect(!machine.isWatched)
    }

    @Test func aLoginThatStopsMovingStallsAfterTheTimeout() {
        var machine = lifecycle()
        _ = machine.startLogin(now: 0)
        _ = machine.clientLoggedIn()
        #expect(machine.tick(now: 1 * second, mark: 1, serverGone: nil, waitingForClock: false) == .none)
        #expect(machine.tick(now: 11 * second, mark: 1, serverGone: nil, waitingForClock: false) == .none)
        #expect(
            machine.tick(now: 11 * second + 1, mark: 1, serverGone: nil, waitingForClock: false)
                == .loginFailed("login stalled: 1 of 5 clients logged in after 3 connects"))
    }

    @Test func aServerThatExitsEndsLoginOrRunAtOnce() {
        var login = lifecycle()
        _ = login.startLogin(now: 0)
        #expect(
            login.tick(now: 1, mark: 0, serverGone: "the server (pid 7) exited", waitingForClock: false)
                == .loginFailed("the server (pid 7) exited during login"))

        var run = running()
        #expect(
            run.tick(now: 1, mark: 3, serverGone: "the server (pid 7) exited", waitingForClock: false)
                == .runEnded(.serverGone("the server (pid 7) exited")))
        #expect(!run.isWatched)
    }

    @Test func progressOrAPacedRunWaitingForItsClockIsNotAStall() {
        var machine = running()
        #expect(machine.tick(now: 1, mark: 1, serverGone: nil, waitingForClock: false) == .none)
        #expect(machine.tick(now: 9 * second, mark: 2, serverGone: nil, waitingForClock: false) == .none)
        #expect(machine.tick(now: 18 * second, mark: 2, serverGone: nil, waitingForClock: true) == .none)
        #expect(machine.tick(now: 28 * second, mark: 2, serverGone: nil, waitingForClock: false) == .none)
        #expect(
            machine.tick(now: 28 * second + 1, mark: 2, serverGone: nil, waitingForClock: false)
                == .runEnded(.stalled))
        #expect(machine.phase == .finished(.stalled))
        #expect(machine.allArrived() == .none)
    }

    /// Slow readers are meant to be cut off; losing every ring client ends the run.
    @Test func theRunEndsWhenTheServerHasClosedEveryRingClient() {
        var machine = running()
        #expect(machine.closedByServer("b-s0", wasLoggedIn: true, isSlowReader: true) == .none)
        for index in 0..<3 {
            #expect(machine.closedByServer("b-\(index)", wasLoggedIn: true, isSlowReader: false) == .none)
        }
        #expect(
            machine.closedByServer("b-3", wasLoggedIn: true, isSlowReader: false)
                == .runEnded(.serverGone("the server closed every connection mid-run")))
    }

    @Test func everyDeliveryEndsTheRunOnceAndCloseAfterwardsChangesNothing() {
        var machine = running()
        #expect(machine.allArrived() == .runEnded(.allArrived))
        #expect(machine.allArrived() == .none)
        #expect(machine.close() == .none)
        #expect(machine.connected() == .closeChannel)
    }

    @Test func closingMidRunEndsTheRun() {
        var machine = running()
        #expect(machine.connected() == .none)
        #expect(machine.close() == .runEnded(.serverGone("the run was closed")))
        #expect(machine.phase == .closed)
    }
}
