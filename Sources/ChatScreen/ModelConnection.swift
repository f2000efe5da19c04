import ChatClient
import ChatProtocol

/// The connection as the screen shows it: the lifecycle decides, the model words it in the
/// scrollback and the status line and hands the loop what to do.
extension ChatScreenModel {
    /// The first connect, once the screen is up.
    public mutating func start() -> ScreenCommand? {
        perform(lifecycle.start())
    }

    /// `time`: when the connection was made, if not now.
    public mutating func connected(at time: ContinuousClock.Instant? = nil) {
        guard case .connecting = lifecycle.phase else { return }
        lifecycle.connected(now: now)
        loginReply = LoginReplyWatch()
        messagesSentOnSession = 0
        lastFailureRemark = nil
        opening = SessionOpening(since: time ?? now, held: lastTurnAway == nil ? nil : [])
        appendOpening(
            .info((lifecycle.isReconnect ? "reconnected to " : "connected to ") + options.serverName))
        // A login given or typed before this goes out first, as the session starts.
        if let login { appendOpening(.info("logging in as \(login)")) }
    }

    /// The session ended; returns what to start next, if anything starts at once.
    /// `time`: when it ended, if not now.
    public mutating func sessionEnded(_ report: SessionReport, at time: ContinuousClock.Instant? = nil)
        -> ScreenCommand?
    {
        let endTime = time ?? now
        let end: ConnectionLifecycle.SessionEnd
        let remark: String
        switch report {
        case .failed(let reason, let sentence):
            (lastReason, remark, end) = (reason, sentence, .lost)
        case .insecure(let reason, let sentence):
            (lastReason, remark, end) = (reason, sentence, .insecure)
        case .closedByServer(let reason, let sentence):
            (lastReason, remark) = (reason, sentence)
            // A notice can only refuse a login that went out. `reason` is the server's last
            // notice when it sent one.
            if lifecycle.login != nil, let kind = loginReply.refusalOnClose {
                end = .loginRefused(kind)
            } else if Notice.kind(ofText: reason) == .loginTimedOut {
                end = .loginTimedOut
            } else {
                end = .lost
            }
        }
        guard let action = lifecycle.sessionEnded(end, now: now) else {
            _ = closeOpening(TurnAway(reason: lastReason, remark: remark), retries: false, at: endTime)
            return nil
        }
        let retries: Bool
        switch (end, action) {
        case (.lost, .wait), (.loginRefused, .waitForHeldLogin): retries = true
        default: retries = false
        }
        if closeOpening(TurnAway(reason: lastReason, remark: remark), retries: retries, at: endTime) {
            // Turned away again as before: the status line counts the attempts.
            lastFailureRemark = remark
            return perform(action)
        }
        if case .loginRefused = end, messagesSentOnSession > 0 {
            // They were shown as sent the moment they went, before the server could refuse.
            let count = messagesSentOnSession
            note(
                count == 1
                    ? "1 line not delivered (login refused; Up brings it back)"
                    : "\(count) lines not delivered (login refused; Up brings them back)"
            )
        }
        switch (end, action) {
        case (.lost, .wait):
            // A server that stays down is said so once, not at every attempt.
            if remark != lastFailureRemark { note(remark) }
            lastFailureRemark = remark
        case (.loginRefused, _), (.loginTimedOut, .awaitLogin):
            // The server's notice said it; the remark that follows says what happens next.
            break
        default:
            note(remark)
        }
        return perform(action)
    }

    /// Time passed: a wait that is over starts its attempt.
    public mutating func tick(now: ContinuousClock.Instant) -> ScreenCommand? {
        self.now = now
        return lifecycle.tick(now: now).flatMap { perform($0) }
    }

    /// When the loop must tick next although nothing else happens: when the countdown in the
    /// status line changes, or the wait is over.
    public var nextTick: ContinuousClock.Instant? {
        if let release = opening?.releaseTime { return release }
        guard case .waiting(let deadline, _) = lifecycle.phase else { return nil }
        let shown = Wording.countdownTenths(deadline - now)
        // Whole seconds count down by one, the last second by tenths.
        let step: Int64 = shown > 10 ? 10 : 1
        return shown > step ? deadline - .milliseconds(100 * (shown - step)) : deadline
    }

    /// `/reconnect`.
    mutating func reconnectNow() -> ScreenCommand? {
        guard let action = lifecycle.reconnectNow() else {
            note(
                lifecycle.phase == .connecting(attempt: 0) || isConnecting
                    ? "already connecting" : "already connected")
            return nil
        }
        note("reconnecting to \(options.serverName)")
        // Asked for, the attempt shows in full however the last one ended.
        lastTurnAway = nil
        return perform(action)
    }

    mutating func quit() -> ScreenCommand {
        if case .exit(let status) = lifecycle.quit() { exitStatus = status }
        return .quit
    }

    /// Whether the connection is gone with no other coming unless the user asks.
    var isDead: Bool {
        switch lifecycle.phase {
        case .refused, .givenUp: return true
        default: return false
        }
    }

    var isConnecting: Bool {
        if case .connecting = lifecycle.phase { return true }
        return false
    }

    /// Words for what the lifecycle decided, and the command that carries it out.
    mutating func perform(_ action: ConnectionLifecycle.Action) -> ScreenCommand? {
        switch action {
        case .connect(let login):
            if lifecycle.phase == .connecting(attempt: 0) { note("connecting to \(options.serverName)") }
            return .connect(login: login)
        case .wait:
            return nil
        case .waitForHeldLogin(_, let retry, let limit):
            note(
                "login \(lifecycle.login ?? "") is still online (likely the lost connection); retry \(retry) of \(limit)"
            )
            return nil
        case .awaitLogin:
            note("enter your login to connect again")
            return nil
        case .askForAnotherLogin(let refused):
            // As with a line refused before it went: the name is there to fix at the next prompt.
            history.record(refused)
            note("login refused; enter another login (Up brings it back)")
            note("connecting to \(options.serverName)")
            return .connect(login: nil)
        case .stop(.loginRefused):
            note("login refused; restart with another login, or /reconnect to retry")
            return nil
        case .stop(.loginStillHeld):
            note("gave up: login \(lifecycle.login ?? "") is still online; /reconnect tries again")
            return nil
        case .stop(.disconnected):
            return nil
        case .stop(.insecure):
            note("nothing was sent; /reconnect tries again")
            return nil
        case .exit(let status):
            exitStatus = status
            return .quit
        }
    }

    /// The state in the status line.
    var connectionStatus: String {
        switch lifecycle.phase {
        case .connecting(0): return "connecting"
        case .connecting(let attempt): return "reconnecting (attempt \(attempt))"
        case .online: return "connected"
        case .waiting(let deadline, let attempt):
            return "reconnecting in \(Wording.countdown(deadline - now)) (attempt \(attempt))"
        case .awaitingLogin: return "waiting for your login"
        case .refused, .givenUp, .quit: return "disconnected: " + lastReason
        }
    }
}
