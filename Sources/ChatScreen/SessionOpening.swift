/// The start of a session, until it shows that it is up: a line that is not a notice arrives,
/// the user adds something, or a second passes. A server turns a connection away (full, the
/// login still online) with a notice and a close at once, so a session that ends before then
/// was turned away, and the next attempt's lines are held here until it is up. If it is turned
/// away again for the same reason they are dropped: a server that keeps refusing is said so
/// once, not in four lines at every attempt, and no `reconnected` is claimed for it.
struct SessionOpening: Sendable {
    static let settleTime: Duration = .seconds(1)

    let since: ContinuousClock.Instant
    /// The session's lines so far, with what the log gets of each; nil when they show at once.
    var held: [(shown: TranscriptEntry, logged: TranscriptEntry)]?
    var isUp = false

    func isUp(at now: ContinuousClock.Instant) -> Bool {
        isUp || now - since >= Self.settleTime
    }

    /// When the held lines show unless the session ends first.
    var releaseTime: ContinuousClock.Instant? {
        held == nil ? nil : since + Self.settleTime
    }
}

/// Why a session was turned away, to tell the same refusal again from a new one.
struct TurnAway: Equatable, Sendable {
    let reason: String
    let remark: String
}

extension ChatScreenModel {
    /// A line of the session's opening (the connect remarks, a notice): it does not show that the
    /// session is up, and waits while the session may be turned away as the last one was.
    mutating func appendOpening(_ kind: TranscriptEntry.Kind) {
        let logged = TranscriptEntry(time: clock(), kind: kind)
        let shown = TranscriptEntry(time: logged.time, kind: kind.shown)
        if opening?.held != nil {
            opening?.held?.append((shown, logged))
        } else {
            commit(shown, logged: logged)
        }
    }

    /// The session is up: what it held shows, and its next end is no repeat of the last refusal.
    mutating func sessionIsUp() {
        guard var current = opening, !current.isUp else { return }
        current.isUp = true
        let held = current.held ?? []
        current.held = nil
        opening = current
        lastTurnAway = nil
        for (shown, logged) in held { commit(shown, logged: logged) }
    }

    /// An opening that has been up its second shows what it held: called once the loop has taken
    /// everything the session posted, so a refusal already waiting is seen first. Returns
    /// whether anything changed.
    public mutating func showSettledOpening(now: ContinuousClock.Instant) -> Bool {
        guard let release = opening?.releaseTime, now >= release else { return false }
        sessionIsUp()
        return true
    }

    /// The session is over (at `time`); returns whether it repeated the last refusal, in which
    /// case what it held is dropped. `turnAway` is why it ended, and `retries` whether another
    /// attempt follows by itself.
    mutating func closeOpening(_ turnAway: TurnAway, retries: Bool, at time: ContinuousClock.Instant) -> Bool
    {
        guard let ended = opening else {
            lastTurnAway = nil
            return false
        }
        opening = nil
        let wasTurnedAway = !ended.isUp(at: time)
        let isRepeat = retries && wasTurnedAway && ended.held != nil && turnAway == lastTurnAway
        if !isRepeat {
            for (shown, logged) in ended.held ?? [] { commit(shown, logged: logged) }
        }
        lastTurnAway = retries && wasTurnedAway ? turnAway : nil
        return isRepeat
    }
}
