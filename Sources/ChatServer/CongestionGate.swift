import NIOCore
import Synchronization

/// Whether a connection's queue is congested, readable from any loop, and the senders waiting
/// for it to drain, wherever they live.
///
/// Its owner sets the flag as its channel's writability changes; a sender that finds it set
/// waits here and is sent back to its own loop when the owner releases the gate. A sender adds
/// itself under the lock and checks the flag again there, and the owner clears the flag before
/// it takes the lock to release, so no wake-up is lost in between. A gate that senders shut
/// themselves (the cluster's, a loop inbox's) has no such order with whoever opens it; its
/// waiters look again by themselves after `recheckAfter`.
final class CongestionGate: Sendable {
    /// For a gate whose opening may be missed (the cluster's, a loop inbox's), how soon a
    /// waiting sender looks again by itself.
    let recheckAfter: TimeAmount?
    /// Counts this gate in while it is shut.
    private let census: Directory?
    private let congested = Atomic<Bool>(false)
    private let waiters = Mutex<[NIOLoopBound<Connection>]>([])

    init(census: Directory? = nil, recheckAfter: TimeAmount? = nil) {
        self.census = census
        self.recheckAfter = recheckAfter
    }

    var isCongested: Bool { congested.load(ordering: .relaxed) }

    func setCongested(_ value: Bool) {
        let (exchanged, _) = congested.compareExchange(
            expected: !value, desired: value, ordering: .sequentiallyConsistent)
        if exchanged { census?.shutGates.wrappingAdd(value ? 1 : -1, ordering: .relaxed) }
    }

    /// Adds `sender` to the waiters; false, without adding it, if the gate is open by now.
    func wait(_ sender: NIOLoopBound<Connection>) -> Bool {
        waiters.withLock { waiters in
            guard congested.load(ordering: .sequentiallyConsistent) else { return false }
            waiters.append(sender)
            return true
        }
    }

    /// Lets every waiting sender go, in the order they came.
    func release() -> [NIOLoopBound<Connection>] {
        waiters.withLock { waiters in
            defer { waiters = [] }
            return waiters
        }
    }
}
