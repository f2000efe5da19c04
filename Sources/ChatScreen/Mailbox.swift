import Synchronization

/// What the network side tells the UI, in order.
final class Mailbox: Sendable {
    enum Event: Sendable {
        case connected
        case line(String)
        case overlongLine
        case ended(SessionReport)
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
        var isWakePending = false
        var roomWaiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())
    private let wake: WakePipe
    /// Lines beyond this many (and 1,024 more, so that a burst is taken whole) are too many.
    private let capacity: Int
    private let overflow: Overflow

    init(wake: WakePipe, capacity: Int, overflow: Overflow = .dropOldestLines) {
        self.wake = wake
        self.capacity = capacity
        self.overflow = overflow
    }

    func post(_ event: Event) async {
        let (mustWake, mustWait) = state.withLock { state in
            state.events.append(event)
            var mustWait = false
            if isOverfull(state) {
                switch overflow {
                case .dropOldestLines:
                    let excess = state.events.count - capacity
                    let kept = state.events[..<excess].filter {
                        if case .line = $0 { return false }
                        return true
                    }
                    state.events.replaceSubrange(..<excess, with: kept)
                case .waitForRoom:
                    mustWait = true
                }
            }
            defer { state.isWakePending = true }
            return (!state.isWakePending, mustWait)
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
    private func isOverfull(_ state: State) -> Bool {
        state.events.count - 1024 > capacity
    }

    func takeAll() -> [Event] {
        let (events, waiter) = state.withLock { state in
            state.isWakePending = false
            defer { state.events.removeAll(keepingCapacity: true) }
            return (state.events, state.roomWaiter.take())
        }
        waiter?.resume()
        return events
    }
}
