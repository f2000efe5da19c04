import ChatProtocol
import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// What all connections' queues hold together, against `queueBudgetBytes`.
///
/// Each connection is bounded on its own, but many readers that stop reading would add up: a
/// thousand of them, each fed to its soft limit, hold a quarter of a gibibyte. Past the budget
/// the server (1) holds back any sender whose next line would feed a queue holding more than its
/// fair share of the budget, (2) cuts off, early, readers that take nothing at all, and (3) once
/// back under three quarters of the budget, lets the held senders go and hands the freed memory
/// back to the system.
struct QueueBudget {
    let limit: Int
    /// Bytes in every connection's outbox and channel, as last accounted.
    var total = 0
    /// Connections whose accounted queue is not empty.
    var queuedConnections = 0
    private(set) var isOver = false
    var sweep: Scheduled<Void>?
    /// The most the queues held since memory was last given back, as accounted.
    var highWater = 0
    var giveBack: Scheduled<Void>?
    /// Set while the budget is back under, until it has stayed under for
    /// `Broker.budgetStallTimeout`: an episode of pressure ends only then.
    var episodeEnd: Scheduled<Void>?
    /// Times the budget was exceeded in this episode.
    var timesExceeded = 0

    /// Each loop keeps its share of the server's budget, so no loop need ask another.
    init(serverLimit: Int, loops: Int) {
        self.limit = max(1, serverLimit / max(loops, 1))
    }

    /// A queue above this is among the fullest while the budget is exceeded.
    var fairShare: Int { limit / max(queuedConnections, 1) }

    var resumeBelow: Int { limit / 4 * 3 }

    mutating func enter() { isOver = true }
    mutating func leave() { isOver = false }
}

extension Broker {
    /// How often, while over budget, queues are re-measured and stalled readers looked for.
    static let budgetSweepInterval = TimeAmount.milliseconds(100)

    /// Under budget pressure a reader that took nothing for this long (or the stall timeout, if
    /// shorter) counts as stalled; the time counts through moments back under the budget within
    /// one episode (`endBudgetEpisode`).
    static let budgetStallTimeout = TimeAmount.seconds(1)

    /// A burst that queued this much leaves the allocator holding the memory once it has
    /// drained: 300 readers that never read, flooded and then gone, left the server at 124 to
    /// 131 MB against 28 MB before they came; under the budget, nothing gave it back.
    static let burstToGiveBack = 16 << 20

    /// How often, after such a burst, the queues are looked at until they have drained.
    static let giveBackInterval = TimeAmount.seconds(2)

    /// Called when a connection's accounted queue changes from `old` to `new` bytes.
    /// (`Connection.enqueue` does the same inline, for the hot path.)
    func accountQueue(from old: Int, to new: Int) {
        budget.total &+= new &- old
        if old == 0 && new > 0 { budget.queuedConnections += 1 }
        if old > 0 && new == 0 { budget.queuedConnections -= 1 }
        if budget.total > budget.limit { budgetMayBeExceeded() }
        if budget.total > budget.highWater {
            budget.highWater = budget.total
            if budget.highWater >= Self.burstToGiveBack { scheduleGiveBack() }
        }
    }

    private func scheduleGiveBack() {
        // One at a time: the high-water mark rises with each accounting of a growing burst, and
        // re-measuring accounts every queue anew.
        guard budget.giveBack == nil else { return }
        budget.giveBack = eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: Self.giveBackInterval) {
            self.budget.giveBack = nil
            self.giveBackAfterBurst()
        }
    }

    /// Once the queues hold under a quarter of their high-water mark, what the burst took goes
    /// back to the system.
    private func giveBackAfterBurst() {
        remeasureQueues()
        guard budget.total <= budget.highWater / 4 else { return scheduleGiveBack() }
        budget.highWater = budget.total
        returnFreeMemory()
    }

    /// The running total passed the budget: if the budget was not already exceeded, see whether
    /// it really is.
    @inline(never)
    func budgetMayBeExceeded() {
        if !budget.isOver { budgetExceeded() }
    }

    /// True if a delivery to `recipient` must wait for the budget's sake.
    func budgetHoldsBack(_ recipient: Connection) -> Bool {
        guard budget.isOver, recipient.accountedQueueBytes > budget.fairShare else { return false }
        recipient.holdBackForBudget()
        return true
    }

    private func budgetExceeded() {
        // The running total only learns that the kernel took bytes at flushes and writability
        // changes; measure before believing it.
        remeasureQueues()
        guard budget.total > budget.limit else { return }
        budget.enter()
        budgetGate.setCongested(true)
        congestedCount += 1
        budget.timesExceeded += 1
        if let episodeEnd = budget.episodeEnd {
            episodeEnd.cancel()
            budget.episodeEnd = nil
        } else {
            logger.warning(
                "queue budget exceeded",
                metadata: ["queued": "\(budget.total)", "budget": "\(budget.limit)"])
        }
        holdBackTheFullestQueues()
        scheduleBudgetSweep()
    }

    private func scheduleBudgetSweep() {
        budget.sweep = eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: Self.budgetSweepInterval) {
            self.sweepBudget()
        }
    }

    private func sweepBudget() {
        remeasureQueues()
        let stallTimeout = min(configuration.stallTimeout, Self.budgetStallTimeout)
        let now = NIODeadline.now()
        for connection in connections.values {
            connection.cutOffIfStalled(under: stallTimeout, now: now)
        }
        guard budget.total < budget.resumeBelow else {
            holdBackTheFullestQueues()
            return scheduleBudgetSweep()
        }
        budget.leave()
        open(budgetGate)
        congestedCount -= 1
        for connection in connections.values where connection.isHoldingBackForBudget {
            connection.stopHoldingBackForBudget()
        }
        returnFreeMemory()
        // Shutting down, the episode ends with the broker: nothing is left to log it for.
        guard !isShuttingDown else { return }
        budget.episodeEnd = eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(
            in: Self.budgetStallTimeout
        ) {
            self.budget.episodeEnd = nil
            self.endBudgetEpisode()
        }
    }

    /// An episode of pressure lasts until the budget has stayed under for `budgetStallTimeout`.
    /// Senders let go the moment it is back under can take it over again within milliseconds
    /// (20 to 27 times in 8 s, two loops, readers that never read and one reading 100 KB/s):
    /// had the stall monitors started again each time, those readers would be cut off seconds
    /// late, and the log would have a pair of lines each time.
    private func endBudgetEpisode() {
        logger.notice(
            "queue budget recovered",
            metadata: ["queued": "\(budget.total)", "exceeded": "\(budget.timesExceeded)"])
        budget.timesExceeded = 0
        for connection in connections.values { connection.budgetStallMonitor = nil }
    }

    /// Marks every queue above its fair share as one that holds its senders back (on any loop,
    /// through its gate), and lets go of those back under it.
    private func holdBackTheFullestQueues() {
        let share = budget.fairShare
        for connection in connections.values {
            if connection.accountedQueueBytes > share {
                connection.holdBackForBudget()
            } else if connection.isHoldingBackForBudget {
                connection.stopHoldingBackForBudget()
            }
        }
    }

    private func remeasureQueues() {
        for connection in connections.values {
            connection.remeasureQueue()
        }
    }

    /// glibc keeps freed memory for reuse; after a burst (over the budget, or of
    /// `burstToGiveBack`), give it back.
    /// (`malloc_trim` is glibc's own, not in the Glibc module's headers, hence the look-up.)
    private func returnFreeMemory() {
        #if canImport(Glibc)
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return }
            typealias MallocTrim = @convention(c) (Int) -> Int32
            _ = unsafeBitCast(symbol, to: MallocTrim.self)(0)
        #endif
    }

    func cancelBudgetSweep() {
        budget.sweep?.cancel()
        budget.sweep = nil
        budget.giveBack?.cancel()
        budget.giveBack = nil
        budget.episodeEnd?.cancel()
        budget.episodeEnd = nil
    }
}
