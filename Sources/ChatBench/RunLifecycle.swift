/// The phases of one benchmark run as a state machine: events go in, the actions the driver
/// must take come out. It owns every decision about when a phase starts and ends (how many
/// connections to open next, when the login barrier is reached, when a run has stalled or lost
/// its server, when it is done) and touches no socket, so each rule is tested on its own.
///
/// Idle → logging in → logged in → running → finished → closed; any phase may go straight to
/// closed, and a failed login is final.
struct RunLifecycle {
    enum Phase: Equatable {
        case idle
        case loggingIn
        /// At the barrier: everyone is logged in, nobody sends yet.
        case loggedIn
        case running
        case finished(RunEnd)
        /// The login failed; the run never starts.
        case failed
        case closed
    }

    enum Action: Equatable {
        case none
        /// Connect and log in these clients (indices into the driver's clients).
        case connect(Range<Int>)
        /// A connection that came up after the run closed: close it, hand it no client.
        case closeChannel
        case loginSucceeded
        case loginFailed(String)
        case startSending
        /// The run has ended (see `Phase.finished`): stop the timers, sample the server's memory
        /// and complete the run.
        case runEnded(RunEnd)
    }

    private(set) var phase = Phase.idle
    /// Connections in all, slow readers included.
    let connections: Int
    /// Clients that send and receive, the first `ringClients` of the connections.
    let ringClients: Int
    /// Connections opened or logging in at once.
    let concurrency: Int
    let stallTimeoutNanoseconds: UInt64

    private var connectsStarted = 0
    private(set) var loggedIn = 0
    /// Ring clients the server closed while the run went on.
    private(set) var closedByServer = 0
    private var progressMark = -1
    private var progressTime: UInt64 = 0

    init(connections: Int, ringClients: Int, concurrency: Int, stallTimeoutSeconds: Double) {
        self.connections = connections
        self.ringClients = ringClients
        self.concurrency = Swift.max(1, concurrency)
        self.stallTimeoutNanoseconds = UInt64(stallTimeoutSeconds * 1e9)
    }

    var isRunning: Bool { phase == .running }

    // MARK: Login

    mutating func startLogin(now: UInt64) -> Action {
        guard phase == .idle else { return .none }
        phase = .loggingIn
        progressTime = now
        return connectMore(Swift.min(concurrency, connections))
    }

    /// A connection came up: `.closeChannel` if the run has closed meanwhile.
    func connected() -> Action {
        phase == .closed ? .closeChannel : .none
    }

    mutating func connectFailed(_ reason: String) -> Action {
        failLogin(reason)
    }

    /// A client saw its own hello: it is surely registered.
    mutating func clientLoggedIn() -> Action {
        guard phase == .loggingIn else { return .none }
        loggedIn += 1
        if loggedIn == connections {
            phase = .loggedIn
            return .loginSucceeded
        }
        return connectMore(1)
    }

    /// The server answered a login with something other than the hello.
    mutating func loginRefused(_ login: String, answer: String) -> Action {
        failLogin("\(login) could not log in: \(answer)")
    }

    private mutating func connectMore(_ count: Int) -> Action {
        let end = Swift.min(connections, connectsStarted + count)
        guard end > connectsStarted else { return .none }
        defer { connectsStarted = end }
        return .connect(connectsStarted..<end)
    }

    private mutating func failLogin(_ reason: String) -> Action {
        guard phase == .loggingIn else { return .none }
        phase = .failed
        return .loginFailed(reason)
    }

    // MARK: Run

    mutating func startRun(now: UInt64, expectedDeliveries: Int) -> Action {
        guard phase == .loggedIn else { return .none }
        phase = .running
        progressTime = now
        return expectedDeliveries == 0 ? end(.allArrived) : .startSending
    }

    /// Every delivery that can still arrive has arrived.
    mutating func allArrived() -> Action {
        end(.allArrived)
    }

    /// The server closed a connection. Before the barrier that is a failed login; during the
    /// run, losing every ring client means nothing more can arrive. Slow readers are meant to be
    /// cut off and count for neither.
    mutating func closedByServer(_ login: String, wasLoggedIn: Bool, isSlowReader: Bool) -> Action {
        if phase == .loggingIn && !wasLoggedIn {
            return failLogin("the server closed \(login) before it logged in")
        }
        guard phase == .running, !isSlowReader else { return .none }
        closedByServer += 1
        return closedByServer == ringClients
            ? end(.serverGone("the server closed every connection mid-run")) : .none
    }

    /// Something broke that the run cannot go on without.
    mutating func failed(_ reason: String) -> Action {
        if phase == .loggingIn { return failLogin(reason) }
        return end(.serverGone(reason))
    }

    private mutating func end(_ reason: RunEnd) -> Action {
        guard phase == .running else { return .none }
        phase = .finished(reason)
        return .runEnded(reason)
    }

    // MARK: Watchdog

    /// The periodic check. `mark` is any number that changes whenever the run moves (logins,
    /// deliveries, notices, messages sent); `serverGone` says why the server is known to have
    /// exited; `waitingForClock` is true while a paced run has delivered all it has sent and
    /// waits for the next message to come due, which is not a stall.
    mutating func tick(now: UInt64, mark: Int, serverGone: String?, waitingForClock: Bool) -> Action {
        if let serverGone {
            if phase == .loggingIn { return failLogin(serverGone + " during login") }
            return end(.serverGone(serverGone))
        }
        if mark != progressMark || (phase == .running && waitingForClock) {
            progressMark = mark
            progressTime = now
            return .none
        }
        guard now &- progressTime > stallTimeoutNanoseconds else { return .none }
        switch phase {
        case .loggingIn:
            return failLogin(
                "login stalled: \(loggedIn) of \(connections) clients logged in after \(connectsStarted) connects"
            )
        case .running:
            return end(.stalled)
        default:
            return .none
        }
    }

    /// True while the watchdog should keep ticking.
    var isWatched: Bool {
        switch phase {
        case .loggingIn, .loggedIn, .running: true
        default: false
        }
    }

    // MARK: Close

    /// Ends whatever phase is under way; connections still coming up will be closed.
    mutating func close() -> Action {
        let wasRunning = phase == .running
        phase = .closed
        return wasRunning ? .runEnded(.serverGone("the run was closed")) : .none
    }
}

/// Why a run's message phase ended.
public enum RunEnd: Equatable, Sendable {
    /// Every delivery that could arrive did.
    case allArrived
    /// Nothing moved for the stall timeout.
    case stalled
    /// The server went away (or closed every connection): nothing more can arrive.
    case serverGone(String)
}
