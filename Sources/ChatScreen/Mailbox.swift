import Synchronization

/// What the network side tells the UI, in order.
final class Mailbox: Sendable {
    /// The session's start and end carry when they happened, not when the UI took them: a UI
    /// busy for a second must not take a refusal at once for a session that was up that long.
    enum Event: Sendable {
        case connected(at: ContinuousClock.Instant)
        case line(String)
        case overlongLine
        case ended(SessionReport, at: ContinuousClock.Instant)
    }

    /// What happens to lines posted faster than the UI takes them.
    enum Overflow: Sendable {
        /// The oldest go: beyond the scrollback they would only push each other out of it, and a
        /// flood cannot grow memory while the UI catches up.
        case dropOldestLines
        /// The network side waits for the UI, so every line reaches the log; meanwhile the
        /// server's flow control holds the senders back.
        case waitForRoom
    }

    private struct State {
        var events: [Event] = []
        /// The bytes of the lines in `events`.
        var lineBytes = 0
        var isWakePending = false
        var roomWaiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())
    private let wake: WakePipe
    /// Lines beyond this many (and 1,024 more, so that a burst is taken whole) are too many.
    private let capacity: Int
    private let overflow: Overflow
    /// Past this many bytes of waiting lines the network side waits for the UI, in either
    /// overflow: lines come whole (up to the client's 1 MiB limit, for the log), and a flood of
    /// long ones would otherwise hold gigabytes before it reached the line count.
    static let maximumLineBytes = 16 << 20
    private let maximumLineBytes: Int

    init(
        wake: WakePipe, capacity: Int, overflow: Overflow = .dropOldestLines,
        maximumLineBytes: Int = Mailbox.maximumLineBytes
    ) {
        self.wake = wake
        self.capacity = capacity
        self.overflow = overflow
        self.maximumLineBytes = maximumLineBytes
    }

    func post(_ event: Event) async {
        let (mustWake, mustWait) = state.withLock { state in
            state.events.append(event)
            if case .line(let text) = event { state.lineBytes += text.utf8.count }
            if hasTooManyLines(state), overflow == .dropOldestLines {
                let excess = state.events.count - capacity
                let kept = state.events[..<excess].filter {
                    guard case .line(let text) = $0 else { return true }
                    state.lineBytes -= text.utf8.count
                    return false
                }
                state.events.replaceSubrange(..<excess, with: kept)
            }
            defer { state.isWakePending = true }
            return (!state.isWakePending, isOverfull(state))
        }
        // One wake-up per batch: the loop takes everything at once.
        if mustWake { wake.wake() }
        if mustWait { await waitForRoom() }
    }

    /// Until the UI takes what waits, or the task is cancelled (the UI has quit and takes no more).
    private func waitForRoom() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let waits = state.withLock { state in
                    guard isOverfull(state), !Task.isCancelled else { return false }
                    state.roomWaiter = continuation
                    return true
                }
                if !waits { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.roomWaiter.take() }?.resume()
        }
    }

    /// Subtracting keeps this from overflowing for any capacity up to Int.max.
    private func hasTooManyLines(_ state: State) -> Bool {
        state.events.count - 1024 > capacity
    }

    private func isOverfull(_ state: State) -> Bool {
        hasTooManyLines(state) || state.lineBytes > maximumLineBytes
    }

    func takeAll() -> [Event] {
        let (events, waiter) = state.withLock { state in
            state.isWakePending = false
            defer {
                state.events.removeAll(keepingCapacity: true)
                state.lineBytes = 0
            }
            return (state.events, state.roomWaiter.take())
        }
        waiter?.resume()
        return events
    }
}
