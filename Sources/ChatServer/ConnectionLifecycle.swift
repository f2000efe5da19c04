import ChatProtocol

/// The life of one connection from accept to close, as a state machine: `Connection` reports what
/// happened, the machine says what to do. It holds no channel, so every path through it is tested
/// without sockets.
///
/// ```
/// awaitingLogin ──login──▶ online ──end of input, refusal, timeout, cut-off, shutdown──▶ draining
///       └───────────────refusal, timeout, shutdown, end of input──────────────────────────┘
/// draining ──output written──▶ (output ended) ──peer closes or drain timer──▶ closed
/// any state ──error──▶ close now ──▶ closed
/// ```
///
/// The login passes through `claiming` while the name is asked for: of the connection holding it,
/// whether its client has in fact gone (see `Connection.takeUnreadInput`), and in a cluster of the
/// cluster's registry. Granted, it goes online; refused, timed out or shut down, it drains as
/// from `awaitingLogin`.
///
/// Orthogonal to these, flow control may hold the input back (`isInputPaused`) while the connection
/// is awaiting its login or online: lines already read wait until the queues they feed drain.
struct ConnectionLifecycle {
    enum State: Equatable {
        /// Waiting for the first line; the login timer runs.
        case awaitingLogin
        /// The login line was fine, and the name is asked for (of its holder, or of the
        /// cluster's registry). Input waits; output (a notice) may still go out.
        case claiming
        case online
        /// No more input is taken; what is queued drains, then the output ends.
        case draining
        case closed
    }

    enum Action: Equatable {
        case none
        case armLoginTimer
        case disarmLoginTimer
        /// The name was granted after a claim: disarm the login timer, and take input again unless
        /// something else holds it back.
        case finishLogin
        /// Stop reading: a queue this connection feeds (or its own) is congested.
        case pauseInput
        /// Take the held lines again, then read again if nothing holds the input back anew.
        case resumeInput
        /// Free the login, let go of the senders waiting on this connection and of what it waits
        /// on, write what is queued followed by `notice`, end the output once written, and close
        /// after the drain timeout if the client has not closed by then.
        case drain(notice: Notice?)
        /// End the output: everything queued has been written.
        case endOutput
        /// Close the channel at once.
        case close
        /// Close the channel at once and throw away what the kernel still holds for the client
        /// (a reset): it had its time to take it, and an orphaned socket would keep holding the
        /// bytes, perhaps megabytes, until the kernel gives up on it.
        case abandon
        /// The channel is gone: release everything the connection holds.
        case release
    }

    private(set) var state = State.awaitingLogin
    private(set) var isInputPaused = false
    /// The client ended its input; its last lines may still be held back by flow control.
    private(set) var hasInputEnded = false
    /// The server is shutting down: input stays paused for good.
    private(set) var isServerStopping = false
    /// Why the connection ends, for the log line when it does.
    private(set) var closeReason = "connection closed by peer"
    /// It drains without having logged in (refused, timed out, gone first): nothing but its last
    /// notice is queued for it.
    private(set) var leavesBeforeLogin = false

    /// True while the connection is served: it takes lines (unless paused) and output. False once
    /// it drains.
    var takesInput: Bool { state == .awaitingLogin || state == .claiming || state == .online }

    /// `refusal` is set when the server will not take the connection (over a connection cap).
    mutating func activated(serverIsShuttingDown: Bool, refusal: (Notice, reason: String)? = nil) -> Action {
        guard state == .awaitingLogin else { return .none }
        // Accepted just as the listener closed: it gets the same goodbye as everyone else.
        if serverIsShuttingDown { return startDrain(.shuttingDown, reason: "server shutdown") }
        if let (notice, reason) = refusal { return startDrain(notice, reason: "refused: \(reason)") }
        return .armLoginTimer
    }

    /// The name is this connection's: at once, or after a claim.
    mutating func loggedIn() -> Action {
        switch state {
        case .awaitingLogin:
            state = .online
            return .disarmLoginTimer
        case .claiming:
            state = .online
            isInputPaused = isServerStopping
            return .finishLogin
        case .online, .draining, .closed:
            return .none
        }
    }

    /// The login line passed; the name is asked for.
    mutating func claimStarted() -> Action {
        guard state == .awaitingLogin else { return .none }
        state = .claiming
        if isInputPaused { return .none }
        isInputPaused = true
        return .pauseInput
    }

    mutating func loginRefused(_ notice: Notice, reason: String) -> Action {
        startDrain(notice, reason: "login refused: \(reason)")
    }

    /// `canBeTold`: false while a TLS handshake is still under way, when no notice could reach
    /// the client; it is then reset at once rather than drained for the drain timeout.
    mutating func loginTimerFired(after timeout: String, canBeTold: Bool = true) -> Action {
        guard state == .awaitingLogin || state == .claiming else { return .none }
        guard canBeTold else {
            state = .draining
            closeReason = "no TLS handshake within \(timeout)"
            return .abandon
        }
        return startDrain(.loginTimedOut(timeout), reason: "no login within \(timeout)")
    }

    /// Flow control: a queue the next line would feed is congested.
    mutating func congested() -> Action {
        guard takesInput, !isInputPaused else { return .none }
        isInputPaused = true
        return .pauseInput
    }

    /// Flow control: the queue this connection waited on has drained (or its owner left).
    mutating func relieved() -> Action {
        guard takesInput, isInputPaused, !isServerStopping, state != .claiming else { return .none }
        isInputPaused = false
        return .resumeInput
    }

    /// The client closed its sending side. Its last lines are taken first; `inputProcessed`
    /// then says whether it is done.
    mutating func inputEnded() {
        hasInputEnded = true
    }

    /// Called after each round of taking lines: input that has ended, with nothing held back,
    /// means the client is done sending.
    mutating func inputProcessed() -> Action {
        guard takesInput, hasInputEnded, !isInputPaused else { return .none }
        return startDrain(nil, reason: "end of input")
    }

    /// The client's queue would pass the absolute limit, or it took nothing for the stall timeout.
    mutating func cutOff(_ notice: Notice, reason: String) -> Action {
        startDrain(notice, reason: reason)
    }

    /// The first step of a shutdown, taken on every loop before any connection drains: no more
    /// lines are taken, so no loop delivers into another that has already said goodbye.
    mutating func serverStopping() -> Action {
        guard takesInput, !isServerStopping else { return .none }
        isServerStopping = true
        if isInputPaused { return .none }
        isInputPaused = true
        return .pauseInput
    }

    mutating func shutdown() -> Action {
        startDrain(.shuttingDown, reason: "server shutdown")
    }

    mutating func outputWritten() -> Action {
        state == .draining ? .endOutput : .none
    }

    mutating func drainTimerFired(after timeout: String) -> Action {
        guard state == .draining else { return .none }
        closeReason += ", then did not finish within \(timeout)"
        // One that never logged in has only its notice left, if that: closed, not reset, so a
        // client slow to read still finds it. NIO takes a reset for the end at once, before the
        // bytes that came ahead of it: the bench, loaded in CI, saw "EOF during handshake"
        // instead of a plain server's notice.
        return leavesBeforeLogin ? .close : .abandon
    }

    /// A leaving connection whose last output is given up (it takes nothing while the queue
    /// budget is exceeded): reset rather than closed, so that the kernel lets go at once of what
    /// it still holds for the socket.
    mutating func lastOutputGivenUp(because reason: String) -> Action {
        guard state == .draining else { return .none }
        closeReason += ", then \(reason)"
        return .abandon
    }

    mutating func failed(reason: String) -> Action {
        switch state {
        case .closed:
            return .none
        case .draining:
            // The drain's reason is the story; a reset that ends it is only its last line.
            return .close
        case .awaitingLogin, .claiming, .online:
            closeReason = reason
            state = .draining
            return .close
        }
    }

    mutating func channelClosed() -> Action {
        guard state != .closed else { return .none }
        state = .closed
        isInputPaused = false
        return .release
    }

    private mutating func startDrain(_ notice: Notice?, reason: String) -> Action {
        guard takesInput else { return .none }
        leavesBeforeLogin = state != .online
        state = .draining
        isInputPaused = false
        closeReason = reason
        return .drain(notice: notice)
    }
}
