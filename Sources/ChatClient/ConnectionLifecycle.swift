import ChatProtocol

/// The life of the client's connection, from the first connect to quitting, as a state machine:
/// it is told what happened and answers with what to do next, so it holds no socket and no
/// timer and is tested without either. Both front ends run it: the full screen always
/// reconnects unless told not to, plain mode only with `--reconnect`.
public struct ConnectionLifecycle: Sendable {
    public enum Phase: Equatable, Sendable {
        /// A session is connecting; `attempt` is 0 for the first connect, then counts retries.
        case connecting(attempt: Int)
        case online(since: ContinuousClock.Instant)
        /// Nothing runs until `deadline`, when attempt `attempt` starts.
        case waiting(until: ContinuousClock.Instant, attempt: Int)
        /// The server closed the last session for want of a login, and none was given: the next
        /// session starts when the user enters one, not on a timer that would only time out again.
        case awaitingLogin
        /// The login given on the command line was refused; only `/reconnect` tries again.
        case refused
        /// Reconnecting is off, a held login stayed held, or the connection could not be
        /// secured; only `/reconnect` tries again.
        case givenUp
        case quit
    }

    /// How a session ended.
    public enum SessionEnd: Equatable, Sendable {
        /// The connection could not be made, broke, or the server closed it for any reason but
        /// the login.
        case lost
        /// The server closed the connection right after a notice of this kind, which refuses the
        /// login it was sent.
        case loginRefused(Notice.Kind)
        /// The TLS handshake failed for good: the certificate did not verify, or the server does
        /// not speak TLS. Trying again would fail the same way.
        case insecure
        /// The server closed the connection because no login came in time.
        case loginTimedOut
    }

    public enum Action: Equatable, Sendable {
        /// Start a session; `login` goes first when there is one, else the user is asked.
        case connect(login: String?)
        /// Connect again at `deadline` (the phase says so too).
        case wait(until: ContinuousClock.Instant, attempt: Int)
        /// The server says the login is online, most likely still on the lost connection: wait
        /// until `deadline`, then try it again, for the `retry`th time of `limit`.
        case waitForHeldLogin(until: ContinuousClock.Instant, retry: Int, limit: Int)
        /// The login the user typed was refused: ask for another, on the new session this starts.
        case askForAnotherLogin(refused: String)
        /// Ask for the login; the next session starts once it is given.
        case awaitLogin
        /// Nothing more is tried until `/reconnect`.
        case stop(Stop)
        /// Leave with this exit status.
        case exit(status: Int32)
    }

    public enum Stop: Equatable, Sendable {
        /// The login given on the command line was refused.
        case loginRefused
        /// Reconnecting is off.
        case disconnected
        /// The login stayed online elsewhere through every retry.
        case loginStillHeld
        /// The connection could not be secured.
        case insecure
    }

    public let policy: ReconnectPolicy
    /// Whether a refused login may be replaced by another the user types: true when none was
    /// given on the command line and there is someone to ask.
    public let asksForAnotherLogin: Bool
    public private(set) var phase = Phase.connecting(attempt: 0)
    /// The login this run uses: given, or typed; kept for every reconnect.
    public private(set) var login: String?
    /// A session with this login ended without the server refusing it, so a later "already
    /// online" is most likely that session, not a stranger.
    public private(set) var loginWasAccepted = false
    /// Failed attempts since the connection last worked.
    private var failures = 0
    private var heldLoginRetries = 0
    /// 0 to 1, for the jitter of each wait; a test passes a fixed value.
    private let jitter: @Sendable () -> Double

    public init(
        policy: ReconnectPolicy,
        login: String?,
        asksForAnotherLogin: Bool,
        jitter: @escaping @Sendable () -> Double = { Double.random(in: 0...1) }
    ) {
        self.policy = policy
        self.login = login
        self.asksForAnotherLogin = asksForAnotherLogin
        self.jitter = jitter
    }

    /// Whether a session is running: connecting or online.
    public var hasSession: Bool {
        switch phase {
        case .connecting, .online: return true
        case .waiting, .awaitingLogin, .refused, .givenUp, .quit: return false
        }
    }

    /// Whether a working connection has come back after one was lost: true while connecting
    /// again and once online again.
    public private(set) var isReconnect = false

    public mutating func start() -> Action {
        phase = .connecting(attempt: 0)
        return .connect(login: login)
    }

    public mutating func connected(now: ContinuousClock.Instant) {
        guard case .connecting = phase else { return }
        phase = .online(since: now)
    }

    /// The user chose a login: it goes out on the running session, if there is one, and on
    /// every later one; awaited, it starts one.
    @discardableResult
    public mutating func loginChosen(_ name: String) -> Action? {
        login = name
        loginWasAccepted = false
        guard phase == .awaitingLogin else { return nil }
        phase = .connecting(attempt: 0)
        return .connect(login: name)
    }

    public mutating func sessionEnded(_ end: SessionEnd, now: ContinuousClock.Instant) -> Action? {
        let wasOnline: Bool
        switch phase {
        case .connecting:
            wasOnline = false
        case .online(let since):
            wasOnline = true
            if now - since >= policy.stableAfter {
                failures = 0
                heldLoginRetries = 0
            }
        case .waiting, .awaitingLogin, .refused, .givenUp, .quit:
            return nil
        }
        switch end {
        case .loginRefused(let kind):
            return loginRefused(kind, now: now)
        case .insecure:
            phase = .givenUp
            return .stop(.insecure)
        case .loginTimedOut where login == nil && asksForAnotherLogin:
            phase = .awaitingLogin
            return .awaitLogin
        case .loginTimedOut, .lost:
            break
        }
        // The server kept the connection and never refused the login sent on it.
        if wasOnline, login != nil { loginWasAccepted = true }
        guard policy.isEnabled else {
            // A login typed while connecting never reached a server, so it is nobody's login; one
            // given on the command line stays, as the name this run was for.
            if !wasOnline, asksForAnotherLogin, !loginWasAccepted { login = nil }
            phase = .givenUp
            return .stop(.disconnected)
        }
        failures += 1
        isReconnect = isReconnect || wasOnline
        let deadline = now + policy.delay(beforeAttempt: failures, jitter: jitter())
        phase = .waiting(until: deadline, attempt: failures)
        return .wait(until: deadline, attempt: failures)
    }

    private mutating func loginRefused(_ kind: Notice.Kind, now: ContinuousClock.Instant) -> Action {
        if kind == .loginTaken, loginWasAccepted, policy.isEnabled {
            guard heldLoginRetries < policy.heldLoginRetries else {
                phase = .givenUp
                return .stop(.loginStillHeld)
            }
            heldLoginRetries += 1
            let deadline = now + policy.delay(beforeAttempt: heldLoginRetries, jitter: jitter())
            phase = .waiting(until: deadline, attempt: heldLoginRetries)
            return .waitForHeldLogin(until: deadline, retry: heldLoginRetries, limit: policy.heldLoginRetries)
        }
        guard asksForAnotherLogin, let refused = login else {
            phase = .refused
            return .stop(.loginRefused)
        }
        // Each new session waits for a new login, so this never loops on its own.
        login = nil
        loginWasAccepted = false
        phase = .connecting(attempt: 0)
        return .askForAnotherLogin(refused: refused)
    }

    /// Time passed: a wait that is over starts its attempt.
    public mutating func tick(now: ContinuousClock.Instant) -> Action? {
        guard case .waiting(let deadline, let attempt) = phase, now >= deadline else { return nil }
        phase = .connecting(attempt: attempt)
        return .connect(login: login)
    }

    /// `/reconnect`: connect now, unless a session is already running. A held login gets its
    /// retries again.
    public mutating func reconnectNow() -> Action? {
        switch phase {
        case .waiting(_, let attempt):
            phase = .connecting(attempt: attempt)
        case .refused, .givenUp, .awaitingLogin:
            heldLoginRetries = 0
            phase = .connecting(attempt: max(1, failures))
        case .connecting, .online, .quit:
            return nil
        }
        return .connect(login: login)
    }

    /// 0 when the connection works, has not failed yet, or waits for the user's login; 1 when
    /// the user leaves a session that is not working.
    public mutating func quit() -> Action {
        let status: Int32
        switch phase {
        case .online, .connecting(attempt: 0), .awaitingLogin: status = 0
        case .connecting, .waiting, .refused, .givenUp, .quit: status = 1
        }
        phase = .quit
        return .exit(status: status)
    }
}
