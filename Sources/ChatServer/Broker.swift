import ChatProtocol
import Logging
import NIOCore

/// One event loop's share of the server: the connections on that loop, the slots of those logged
/// in, and the deliveries to them.
///
/// The broker is a plain class confined to its loop: a login, a logout and a delivery among its
/// own connections are method calls in the order the loop runs them, with no locks and no hops.
/// The peers map itself is the shared `Directory`, so a login is unique across loops. A message
/// to someone on another loop goes into that loop's `LoopMail` and crosses once per iteration.
/// Deliveries are copied into each recipient's outbox and written once per loop iteration
/// (sooner if the outboxes fill up), so a recipient flooded by many senders costs one write, not
/// one per message. With one loop (`--event-loops 1`) nothing ever crosses.
final class Broker {
    let eventLoop: any EventLoop
    /// This broker's index among the server's loops.
    let loopIndex: Int
    let configuration: ChatServerConfiguration
    let logger: Logger
    let directory: Directory
    /// This loop's counters, for the metrics endpoint.
    let statistics: LoopStatistics
    /// Every loop's broker, this one included, by loop index; set once all exist.
    var brokers: [NIOLoopBound<Broker>] = []
    /// Cluster mode: the other servers.
    var cluster: ClusterBridge?
    /// Shut while this loop's queue budget is exceeded, for senders on other loops.
    let budgetGate: CongestionGate
    /// Every loop's budget gate, by loop index.
    var budgetGates: [CongestionGate] = []
    /// Mail from other loops this loop has not taken yet.
    let inbox: LoopInbox
    /// Every loop's inbox, by loop index.
    var inboxes: [LoopInbox] = []
    /// With several loops: the order connections arrived in, for logins that must keep it.
    var arrivals: ArrivalOrder?

    /// The logged-in connections by slot, so a resolved recipient list can name them by index
    /// without keeping a departed connection alive.
    private(set) var online: [Connection?] = []
    /// Bumped each time a slot is taken, so mail from another loop for its previous holder is
    /// not delivered to the next.
    private(set) var generations: [UInt32] = []
    private var freeSlots: [Int] = []
    /// Every open connection, logged in or not, so that shutdown can reach them all.
    private(set) var connections: [ObjectIdentifier: Connection] = [:]
    var outboxesToFlush: [Connection] = []
    var isFlushScheduled = false
    /// Deliveries for other loops, by loop index, waiting for the end of the iteration.
    var outgoingMail: [LoopMail] = []
    /// What each of those batches counts for in its loop's inbox.
    var outgoingMailBytes: [Int] = []
    /// Senders whose awaited queue drained, to be taken up again after the current event.
    var sendersToResume: [(Connection, CongestionGate)] = []
    var isResumeScheduled = false
    /// How many connections are congested right now (plus one while the queue budget is
    /// exceeded): while none is, a delivery need not look.
    var congestedCount = 0
    var budget: QueueBudget
    /// Bytes of deliveries put into outboxes and mail since they were last written.
    var bytesSinceFlush = 0
    private(set) var isShuttingDown = false
    /// Scratch space reused by every delivery, so the hot path does not allocate.
    var formattedDelivery: ByteBuffer
    /// Resolved long recipient lists, by their bytes (see `Broker.largeListCacheEntries`).
    var largeLists: [ByteBuffer: ResolvedRecipients] = [:]
    /// Threads that may share a burst of writes (`Broker+SharedBurst.swift`), and whether the
    /// outboxes waiting hold one.
    let burstSharers: Int
    var isBurstPending = false

    init(
        eventLoop: any EventLoop,
        loopIndex: Int,
        directory: Directory,
        statistics: LoopStatistics,
        configuration: ChatServerConfiguration,
        logger: Logger
    ) {
        self.eventLoop = eventLoop
        self.loopIndex = loopIndex
        self.directory = directory
        self.statistics = statistics
        self.budgetGate = CongestionGate(census: directory)
        self.configuration = configuration
        self.logger = logger
        self.formattedDelivery = ByteBufferAllocator().buffer(capacity: 256)
        self.budget = QueueBudget(
            serverLimit: configuration.queueBudgetBytes, loops: configuration.eventLoops)
        self.inbox = LoopInbox(budgetShare: budget.limit)
        self.burstSharers = Self.burstSharers(eventLoops: configuration.eventLoops)
    }

    /// Connects the brokers of all loops to each other, and to the cluster if there is one.
    func meet(_ brokers: [NIOLoopBound<Broker>], shared: SharedByLoops, cluster: ClusterBridge?) {
        self.brokers = brokers
        self.budgetGates = shared.budgetGates
        self.inboxes = shared.inboxes
        self.arrivals = shared.arrivals
        self.cluster = cluster
        outgoingMail = Array(repeating: LoopMail(), count: brokers.count)
        outgoingMailBytes = Array(repeating: 0, count: brokers.count)
    }

    // MARK: Membership

    func register(_ connection: Connection) {
        connections[ObjectIdentifier(connection)] = connection
    }

    /// Claims `login` for `connection`; false if someone else, on any loop, holds it.
    func claim(_ login: ByteBuffer, for connection: Connection) -> Bool {
        let slot = freeSlots.popLast() ?? online.count
        if slot == online.count {
            online.append(nil)
            generations.append(0)
        }
        generations[slot] &+= 1
        let location = Directory.Location(
            loop: loopIndex, slot: slot, generation: generations[slot], gate: connection.gate)
        guard directory.claim(login, at: location) else {
            freeSlots.append(slot)
            return false
        }
        online[slot] = connection
        connection.slot = slot
        statistics.loggedIn()
        return true
    }

    /// Whether `login` is online on this server (on any of its loops).
    func isOnlineHere(_ login: ByteBuffer) -> Bool {
        directory.location(of: login) != nil
    }

    /// A connection on one of this server's loops, found by `find` on that loop when it runs
    /// there (nil if it is gone meanwhile).
    typealias ConnectionOnLoop = (loop: Int, find: @Sendable (Broker) -> Connection?)

    /// Has each connection's loop take what its client sent that the loop has not read yet
    /// (`Connection.takeUnreadInput`), and then calls `done` on this loop, in a later task.
    func letCatchUp(_ connections: [ConnectionOnLoop], then done: @escaping () -> Void) {
        guard !connections.isEmpty else { return eventLoop.assumeIsolatedUnsafeUnchecked().execute(done) }
        let waiting = NIOLoopBoundBox((remaining: connections.count, done: done), eventLoop: eventLoop)
        let loop = eventLoop
        for (index, find) in connections {
            let othersBroker = brokers[index]
            othersBroker.eventLoop.execute {
                find(othersBroker.value)?.takeUnreadInput()
                loop.execute {
                    waiting.value.remaining -= 1
                    if waiting.value.remaining == 0 { waiting.value.done() }
                }
            }
        }
    }

    /// The connection holding `login` on this server, on whichever loop.
    func holder(of login: ByteBuffer) -> ConnectionOnLoop? {
        directory.location(of: login).map { location in
            (
                location.loop,
                { broker in
                    let slot = location.slot
                    guard slot < broker.online.count, broker.generations[slot] == location.generation else {
                        return nil
                    }
                    return broker.online[slot]
                }
            )
        }
    }

    /// Frees `connection`'s login, if it holds one, here and in the cluster. Safe to call more
    /// than once.
    func releaseLogin(of connection: Connection) {
        guard let slot = connection.slot, let login = connection.login else { return }
        // Whatever this login sent to other loops goes before the name is free, so that a new
        // connection under the name finds it in its loop's inbox and waits for it there
        // (`Connection.claim`): its first lines cannot overtake its last ones.
        sendMail()
        directory.release(login)
        cluster?.node.release(login)
        statistics.loggedOut()
        online[slot] = nil
        freeSlots.append(slot)
        connection.slot = nil
        connection.lastRecipients = nil
    }

    /// Forgets a connection whose channel has closed.
    func unregister(_ connection: Connection) {
        releaseLogin(of: connection)
        connections[ObjectIdentifier(connection)] = nil
    }

    /// Cluster mode: this server lost its lease, so the others are about to free its logins.
    /// Everyone here goes first, so that no login is ever served twice.
    func dropEveryoneForLostLease() {
        for connection in connections.values {
            connection.perform(connection.lifecycle.cutOff(.leaseLost, reason: "the cluster lease was lost"))
        }
    }

    // MARK: Shutdown

    /// The first step of a shutdown, on every loop: no connection takes another line, and the
    /// mail already written for other loops is sent, so that once every loop has taken this
    /// step, everything accepted anywhere is in the queues it goes out from.
    /// Returns how many connections were open.
    func stopTakingInput() -> Int {
        isShuttingDown = true
        for connection in connections.values {
            connection.perform(connection.lifecycle.serverStopping())
        }
        flushOutboxes()
        return connections.count
    }

    /// The second step: stops every connection from reading, lets each take what is queued for it, and closes it;
    /// whatever is still open after the grace period is closed regardless. The future completes
    /// when every connection is closed.
    func shutDown() -> EventLoopFuture<Void> {
        isShuttingDown = true
        cancelBudgetSweep()
        let open = Array(connections.values)
        let closed = open.map { $0.closeFuture }
        for connection in open {
            connection.shutDown()
        }
        let deadline = eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(
            in: configuration.shutdownGracePeriod
        ) {
            for connection in self.connections.values {
                connection.countCutOff(.shutdownGracePeriod)
                connection.closeNow(reason: "shutdown grace period over")
            }
        }
        return EventLoopFuture.andAllComplete(closed, on: eventLoop).always { _ in deadline.cancel() }
    }
}

/// What each loop's broker shows the others, by loop index.
struct SharedByLoops {
    var budgetGates: [CongestionGate] = []
    var inboxes: [LoopInbox] = []
    var arrivals: ArrivalOrder?
}
