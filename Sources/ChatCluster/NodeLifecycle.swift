/// A node's standing in the cluster: whether it is connected, and whether it holds a lease and
/// until when by its own clock. Each input returns the actions to take; the node performs them.
///
/// The deadline is the node's monotonic clock at the start of its last successful renewal plus
/// the lease, minus the safety margin. The database stamps the lease with its own `now()`, which
/// is later than that start, so the node always gives up before any other node can see the lease
/// expired, with the margin to spare for clock drift and for dropping its clients.
struct NodeLifecycle {
    struct Lease: Equatable {
        let id: Int64
        var deadline: ContinuousClock.Instant
    }

    enum Action: Equatable {
        case emit(ClusterEvent)
        case setRoutingAvailable(Bool)
        /// Forget every queued delivery and everything known about this node's logins.
        case dropQueues
        /// Close the current session's connections, so the supervisor starts a new one.
        case closeSession
        case logLeaseLost(reason: String)
        case logConnectionLost(reason: String)
        case logConnectionBack
    }

    private(set) var lease: Lease?
    /// A lease given up locally whose row may still be in the database: deleted on reconnection,
    /// which frees its logins at once instead of at its expiry.
    private(set) var abandonedLease: Int64?
    private(set) var sessionGeneration: Int?
    private(set) var isLeaving = false
    /// Whether the server was told the database is unavailable (and must hear it is back).
    private var toldUnavailable = false

    let leaseDuration: Duration
    let safetyMargin: Duration

    init(leaseDuration: Duration, safetyMargin: Duration) {
        self.leaseDuration = leaseDuration
        self.safetyMargin = safetyMargin
    }

    /// The lease to claim under, if the node is connected, its lease has time left, and it is
    /// not leaving.
    func usableLease(now: ContinuousClock.Instant) -> Int64? {
        isLeaving ? nil : leaseToWriteUnder(now: now)
    }

    /// Whether the lease is still this node's, connected or not (a node keeps serving its own
    /// clients through a short database outage).
    func holdsLease(now: ContinuousClock.Instant) -> Bool {
        guard let lease else { return false }
        return now < lease.deadline
    }

    /// The lease to write batches under: as `usableLease`, but a leaving node still writes out
    /// what it accepted.
    func leaseToWriteUnder(now: ContinuousClock.Instant) -> Int64? {
        guard sessionGeneration != nil, let lease, now < lease.deadline else { return nil }
        return lease.id
    }

    /// The database granted a new lease, in a statement that started at `startedAt`.
    mutating func registered(_ id: Int64, startedAt: ContinuousClock.Instant) {
        lease = Lease(id: id, deadline: startedAt + leaseDuration - safetyMargin)
    }

    /// The database renewed the lease, in a statement that started at `startedAt`. A lease given
    /// up meanwhile stays given up: the server has already dropped its clients.
    mutating func renewed(_ id: Int64, startedAt: ContinuousClock.Instant) {
        guard lease?.id == id else { return }
        lease!.deadline = max(lease!.deadline, startedAt + leaseDuration - safetyMargin)
    }

    /// The abandoned lease's row is gone.
    mutating func forgotAbandonedLease() {
        abandonedLease = nil
    }

    /// A new session is connected, holds a lease and has read the directory.
    mutating func sessionReady(generation: Int) -> [Action] {
        sessionGeneration = generation
        guard toldUnavailable else { return [.setRoutingAvailable(true)] }
        toldUnavailable = false
        return [.setRoutingAvailable(true), .logConnectionBack, .emit(.databaseAvailable)]
    }

    /// The session broke (or could not be made).
    mutating func sessionLost(reason: String) -> [Action] {
        sessionGeneration = nil
        guard !toldUnavailable, !isLeaving else { return [.setRoutingAvailable(false)] }
        toldUnavailable = true
        return [
            .setRoutingAvailable(false), .logConnectionLost(reason: reason),
            .emit(.databaseUnavailable(reason: reason)),
        ]
    }

    /// Checked often by the watchdog: past the deadline the lease is given up.
    mutating func tick(now: ContinuousClock.Instant) -> [Action] {
        guard let lease, now >= lease.deadline, !isLeaving else { return [] }
        return loseLease(reason: "could not renew it in time")
    }

    /// The database says the lease is no longer this node's (another node freed it). While the
    /// node leaves, that is its own doing: it deleted the row itself.
    mutating func leaseRefused() -> [Action] {
        guard lease != nil, !isLeaving else { return [] }
        return loseLease(reason: "the database no longer holds it")
    }

    private mutating func loseLease(reason: String) -> [Action] {
        abandonedLease = lease?.id
        lease = nil
        // Until a new lease is registered nothing may be claimed or routed: the server hears
        // it as unavailability, then `databaseAvailable` once the node has registered anew.
        toldUnavailable = true
        var actions: [Action] = [
            .setRoutingAvailable(false), .dropQueues, .logLeaseLost(reason: reason), .emit(.leaseLost),
        ]
        if sessionGeneration != nil {
            sessionGeneration = nil
            actions.append(.closeSession)
        }
        return actions
    }

    mutating func leave() {
        isLeaving = true
    }
}
