import ChatProtocol
import NIOCore
import Testing

@testable import ChatServer

/// Every path through a connection's life, without a socket.
@Suite struct ConnectionLifecycleTests {
    @Test func aLoginThenEndOfInputDrainsThenReleases() {
        var life = ConnectionLifecycle()
        #expect(act(&life) { $0.activated(serverIsShuttingDown: false) } == .armLoginTimer)
        #expect(act(&life) { $0.loggedIn() } == .disarmLoginTimer)
        #expect(life.state == .online)
        life.inputEnded()
        #expect(act(&life) { $0.inputProcessed() } == .drain(notice: nil))
        #expect(life.closeReason == "end of input")
        #expect(act(&life) { $0.outputWritten() } == .endOutput)
        #expect(act(&life) { $0.channelClosed() } == .release)
        #expect(act(&life) { $0.channelClosed() } == .none, "released once")
    }

    @Test func aConnectionAcceptedDuringShutdownIsSentAway() {
        var life = ConnectionLifecycle()
        #expect(act(&life) { $0.activated(serverIsShuttingDown: true) } == .drain(notice: .shuttingDown))
        #expect(!life.takesInput)
    }

    @Test func theLoginTimerOnlyMattersBeforeTheLogin() {
        var waiting = ConnectionLifecycle()
        _ = waiting.activated(serverIsShuttingDown: false)
        #expect(
            act(&waiting) { $0.loginTimerFired(after: "30 seconds") }
                == .drain(notice: .loginTimedOut("30 seconds")))
        var online = ConnectionLifecycle()
        _ = online.activated(serverIsShuttingDown: false)
        _ = online.loggedIn()
        #expect(act(&online) { $0.loginTimerFired(after: "30 seconds") } == .none)
    }

    @Test func aRefusedLoginDrainsWithItsNotice() {
        var life = ConnectionLifecycle()
        _ = life.activated(serverIsShuttingDown: false)
        #expect(
            act(&life) { $0.loginRefused(.loginTaken("bob"), reason: "already online") }
                == .drain(notice: .loginTaken("bob")))
        #expect(act(&life) { $0.loggedIn() } == .none, "no login after a refusal")
        #expect(life.closeReason == "login refused: already online")
    }

    @Test func aClaimHoldsTheInputUntilTheNameIsGranted() {
        var life = ConnectionLifecycle()
        _ = life.activated(serverIsShuttingDown: false)
        #expect(act(&life) { $0.claimStarted() } == .pauseInput)
        #expect(life.state == .claiming && life.takesInput)
        #expect(act(&life) { $0.relieved() } == .none, "flow control does not end a claim")
        #expect(act(&life) { $0.loggedIn() } == .finishLogin)
        #expect(life.state == .online && !life.isInputPaused)

        var stopping = ConnectionLifecycle()
        _ = stopping.activated(serverIsShuttingDown: false)
        _ = stopping.claimStarted()
        _ = stopping.serverStopping()
        #expect(act(&stopping) { $0.loggedIn() } == .finishLogin)
        #expect(stopping.isInputPaused, "granted during a shutdown, it takes no more lines")

        var timedOut = ConnectionLifecycle()
        _ = timedOut.activated(serverIsShuttingDown: false)
        _ = timedOut.claimStarted()
        #expect(
            act(&timedOut) { $0.loginTimerFired(after: "1 second") }
                == .drain(notice: .loginTimedOut("1 second")))
        #expect(act(&timedOut) { $0.loggedIn() } == .none, "no login after the timeout")
    }

    @Test func inputEndedWhileHeldBackWaitsForTheHeldLines() {
        var life = ConnectionLifecycle()
        _ = life.activated(serverIsShuttingDown: false)
        _ = life.loggedIn()
        #expect(act(&life) { $0.congested() } == .pauseInput)
        #expect(act(&life) { $0.congested() } == .none, "paused once")
        life.inputEnded()
        #expect(act(&life) { $0.inputProcessed() } == .none, "the held lines still have to go")
        #expect(act(&life) { $0.relieved() } == .resumeInput)
        #expect(act(&life) { $0.inputProcessed() } == .drain(notice: nil))
    }

    @Test func drainingIgnoresFlowControlAndFurtherEndings() {
        var life = ConnectionLifecycle()
        _ = life.activated(serverIsShuttingDown: false)
        _ = life.loggedIn()
        _ = life.congested()
        #expect(
            act(&life) { $0.cutOff(.stalled("10 seconds"), reason: "stalled") }
                == .drain(notice: .stalled("10 seconds")))
        #expect(!life.isInputPaused)
        #expect(act(&life) { $0.relieved() } == .none)
        #expect(act(&life) { $0.congested() } == .none)
        #expect(act(&life) { $0.shutdown() } == .none)
        #expect(act(&life) { $0.cutOff(.tooSlow, reason: "again") } == .none)
        #expect(life.closeReason == "stalled")
    }

    @Test func aDrainThatTimesOutClosesAndSaysSo() {
        var life = ConnectionLifecycle()
        _ = life.activated(serverIsShuttingDown: false)
        _ = life.loggedIn()
        _ = life.shutdown()
        #expect(act(&life) { $0.drainTimerFired(after: "3 seconds") } == .abandon)
        #expect(life.closeReason == "server shutdown, then did not finish within 3 seconds")
        #expect(act(&life) { $0.channelClosed() } == .release)
        #expect(act(&life) { $0.drainTimerFired(after: "3 seconds") } == .none)
    }

    /// Only a notice is left for a connection that never logged in: its drain ends in a close,
    /// not a reset, which a NIO client would take before the notice.
    @Test func aConnectionTurnedAwayBeforeItsLoginIsClosedNotReset() {
        var life = ConnectionLifecycle()
        _ = life.activated(serverIsShuttingDown: false)
        #expect(act(&life) { $0.loginRefused(.loginTaken("bob"), reason: "already online") } != .none)
        #expect(life.leavesBeforeLogin)
        #expect(act(&life) { $0.drainTimerFired(after: "1 second") } == .close)
        var online = ConnectionLifecycle()
        _ = online.activated(serverIsShuttingDown: false)
        _ = online.loggedIn()
        _ = online.cutOff(.tooSlow, reason: "stalled")
        #expect(!online.leavesBeforeLogin)
        #expect(act(&online) { $0.drainTimerFired(after: "1 second") } == .abandon)
    }

    @Test func aLoginTimeoutBeforeTheTLSHandshakeResetsAtOnce() {
        var life = ConnectionLifecycle()
        _ = life.activated(serverIsShuttingDown: false)
        #expect(act(&life) { $0.loginTimerFired(after: "1 second", canBeTold: false) } == .abandon)
        #expect(life.closeReason == "no TLS handshake within 1 second")
        #expect(!life.takesInput)
    }

    @Test func aLeavingConnectionWhoseLastOutputIsGivenUpIsReset() {
        var life = ConnectionLifecycle()
        _ = life.activated(serverIsShuttingDown: false)
        #expect(act(&life) { $0.lastOutputGivenUp(because: "it took nothing") } == .none)
        _ = life.cutOff(.tooSlow, reason: "too slow")
        #expect(act(&life) { $0.lastOutputGivenUp(because: "it took nothing") } == .abandon)
        #expect(life.closeReason == "too slow, then it took nothing")
        _ = life.channelClosed()
        #expect(act(&life) { $0.lastOutputGivenUp(because: "it took nothing") } == .none)
    }

    @Test func anErrorClosesAtOnceAndKeepsTheDrainsReason() {
        var online = ConnectionLifecycle()
        _ = online.activated(serverIsShuttingDown: false)
        #expect(act(&online) { $0.failed(reason: "connection reset by peer") } == .close)
        #expect(online.closeReason == "connection reset by peer")
        var draining = ConnectionLifecycle()
        _ = draining.activated(serverIsShuttingDown: false)
        _ = draining.shutdown()
        #expect(act(&draining) { $0.failed(reason: "connection reset by peer") } == .close)
        #expect(draining.closeReason == "server shutdown")
    }
}

/// Runs a mutating event on `life` and returns its action (a `#expect` cannot mutate in place).
private func act(
    _ life: inout ConnectionLifecycle,
    _ event: (inout ConnectionLifecycle) -> ConnectionLifecycle.Action
) -> ConnectionLifecycle.Action {
    event(&life)
}

@Suite struct StallMonitorTests {
    @Test func anyProgressRestartsTheClock() {
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
        var monitor = StallMonitor(taken: 0, now: start, timeout: .seconds(10))
        var verdicts: [Bool] = []
        for (taken, seconds) in [(0, 9), (1, 9), (1, 18), (1, 19)] {
            verdicts.append(monitor.isStalled(taken: taken, now: start + .seconds(Int64(seconds))))
        }
        #expect(verdicts == [false, false, false, true])
    }

    @Test func checksOftenEnoughAndNeverBusily() {
        #expect(
            StallMonitor(taken: 0, now: .now(), timeout: .seconds(10)).checkInterval == .milliseconds(2500))
        #expect(
            StallMonitor(taken: 0, now: .now(), timeout: .milliseconds(2)).checkInterval == .milliseconds(1)
        )
    }
}
