import Synchronization

/// What the network side tells the UI, in order.
final class Mailbox: Sendable {
    enum Event: Sendable {
        case connected
        case line(String)
        case overlongLine
        case ended(SessionReport)
    }

    private struct State {
        var events: [Event] = []
        var isWakePending = false
    }

    private let state = Mutex(State())
    private let wake: WakePipe
    /// Lines beyond this many waiting would only push each other out of the scrollback, so the
    /// oldest are dropped here already: a flood cannot grow memory while the UI catches up.
    private let capacity: Int

    init(wake: WakePipe, capacity: Int) {
        self.wake = wake
        self.capacity = capacity
    }

    func post(_ event: Event) {
        let mustWake = state.withLock { state in
            state.events.append(event)
            // Subtracting keeps this from overflowing for any capacity up to Int.max.
            if state.events.count - 1024 > capacity {
                let excess = state.events.count - capacity
                let kept = state.events[..<excess].filter {
                    if case .line = $0 { return false }
                    return true
                }
                state.events.replaceSubrange(..<excess, with: kept)
            }
            defer { state.isWakePending = true }
            return !state.isWakePending
        }
        // One wake-up per batch: the loop takes everything at once.
        if mustWake { wake.wake() }
    }

    func takeAll() -> [Event] {
        state.withLock { state in
            state.isWakePending = false
            defer { state.events.removeAll(keepingCapacity: true) }
            return state.events
        }
    }
}
