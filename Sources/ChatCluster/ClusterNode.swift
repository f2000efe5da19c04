import Logging
import NIOConcurrencyHelpers
import NIOCore
import PostgresNIO

/// This server's membership of a cluster: the login registry, routing to the other nodes, and
/// the lease that makes both safe. See docs/cluster.md.
///
/// Threads. `location`, `route`, `isCongested` and `release` may be called from any thread and
/// never block or suspend: they take a lock for a few hash lookups. `claim` and `leave` are async.
/// `onEvent`, `onDeliveries` and `onUndeliverable` are called on one event loop of the configured
/// group, one call at a time, in the order things happened.
public final class ClusterNode: Sendable {
    public let name: String
    let url: DatabaseURL
    let configuration: ClusterConfiguration
    let logger: Logger
    let statements: Statements
    let directory = Directory()
    let outbox: Outbox
    let lifecycle: NIOLockedValueBox<NodeLifecycle>
    let currentSession = NIOLockedValueBox<Session?>(nil)
    /// Logins granted here and not released since: a claim round that fails may name one of
    /// them again (asked for from another connection), and must not free it (`Registry.swift`).
    let grantedLogins = NIOLockedValueBox<Set<ByteBuffer>>([])
    /// The database's processes of sessions given up, to end before the next does anything
    /// (`Fence.swift`).
    let abandonedBackends = NIOLockedValueBox<[Session.Backend]>([])
    let controlQueue = NIOLockedValueBox<[ControlOperation]>([])
    let controlSerial = NIOLockedValueBox(0)
    /// Claims waiting for the registry worker; closed once it has stopped.
    let pendingClaims = NIOLockedValueBox((claims: [PendingClaim](), isClosed: false))
    let fetchTickets = NIOLockedValueBox(FetchTickets())
    let counters = NIOLockedValueBox(ClusterStatistics())
    let tasks = NIOLockedValueBox<[Task<Void, Never>]>([])
    let callbackLoop: any EventLoop
    /// Where the node's own tasks run.
    let executor: LoopExecutor
    let onEvent: @Sendable (ClusterEvent) -> Void
    let onDeliveries: @Sendable (InboundBatch) -> Void
    let onUndeliverable: @Sendable (InboundBatch) -> Void
    let flushBell: AsyncStream<Void>.Continuation
    let flushRequests: AsyncStream<Void>
    let fetchBell: AsyncStream<Void>.Continuation
    let fetchRequests: AsyncStream<Void>
    let registryBell: AsyncStream<Void>.Continuation
    let registryRequests: AsyncStream<Void>

    struct PendingClaim: Sendable {
        let login: ByteBuffer
        let answer: CheckedContinuation<ClaimResult, Never>
    }

    /// A change this node announces in the background, in order.
    struct ControlOperation: Sendable {
        enum Kind: Sendable {
            case release
            case congestion(Bool)
        }

        let serial: Int
        let kind: Kind
        let login: ByteBuffer
        let lease: Int64
        /// What must be in the database first: a release waits for the deliveries its login's
        /// connection sent to other nodes, so the login's next connection, on whichever node,
        /// comes after them (`claim` then fetches what is in the database).
        let afterWrites: Outbox.WriteMark
    }

    private init(
        name: String,
        url: DatabaseURL,
        configuration: ClusterConfiguration,
        logger: Logger,
        onEvent: @escaping @Sendable (ClusterEvent) -> Void,
        onDeliveries: @escaping @Sendable (InboundBatch) -> Void,
        onUndeliverable: @escaping @Sendable (InboundBatch) -> Void
    ) {
        var logger = logger
        logger[metadataKey: "node"] = "\(name)"
        self.name = name
        self.url = url
        self.configuration = configuration
        self.logger = logger
        self.statements = Statements(logger: logger)
        self.lifecycle = NIOLockedValueBox(
            NodeLifecycle(
                leaseDuration: configuration.leaseDuration, safetyMargin: configuration.leaseSafetyMargin))
        self.callbackLoop = configuration.eventLoopGroup.next()
        self.executor = LoopExecutor(callbackLoop)
        self.onEvent = onEvent
        self.onDeliveries = onDeliveries
        self.onUndeliverable = onUndeliverable
        (flushRequests, flushBell) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
        (fetchRequests, fetchBell) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
        (registryRequests, registryBell) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
        let bell = flushBell
        self.outbox = Outbox(
            softLimit: configuration.peerQueueSoftLimit,
            hardLimit: configuration.peerQueueHardLimit,
            maximumBatchBytes: configuration.maximumBatchBytes,
            requestFlush: { bell.yield() }
        )
    }

    /// Connects to the cluster's database, creates or upgrades its tables, registers this node
    /// with a lease and reads where every login is. Returns once the node can claim and route.
    ///
    /// - Parameters:
    ///   - url: `postgres://USER:PASSWORD@HOST:PORT/DATABASE`.
    ///   - nodeName: Unique in the cluster; by default `host-pid-random`. A name still held by a
    ///     crashed earlier run is taken over once that run's lease expires.
    ///   - onEvent: Lease, database and flow-control events (see `ClusterEvent`).
    ///   - onDeliveries: Deliveries for this node's logins, per sending peer in routing order.
    ///   - onUndeliverable: Deliveries this node's clients sent that will never arrive: their
    ///     recipient's node went (crashed, cut off past its lease, stopped) before taking them.
    ///     `from` is this node. Tell their senders.
    /// - Throws: `ClusterError`, whose description is one line for a person.
    public static func join(
        url: String,
        nodeName: String? = nil,
        configuration: ClusterConfiguration = ClusterConfiguration(),
        logger: Logger,
        onEvent: @escaping @Sendable (ClusterEvent) -> Void,
        onDeliveries: @escaping @Sendable (InboundBatch) -> Void,
        onUndeliverable: @escaping @Sendable (InboundBatch) -> Void
    ) async throws -> ClusterNode {
        if let problem = configuration.problem() { throw ClusterError("cluster configuration: \(problem)") }
        let databaseURL = try DatabaseURL(url)
        let name = nodeName ?? ClusterConfiguration.defaultNodeName()
        guard !name.isEmpty, name.utf8.count <= 100,
            name.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0 != "\u{7F}" })
        else {
            throw ClusterError("node name must be 1 to 100 bytes without spaces or control characters")
        }
        let node = ClusterNode(
            name: name, url: databaseURL, configuration: configuration, logger: logger, onEvent: onEvent,
            onDeliveries: onDeliveries, onUndeliverable: onUndeliverable)
        let encrypted = try await node.executor.run {
            let session: Session
            let encrypted: Bool?
            do {
                session = try await node.establish(generation: 1, isFirst: true)
                // Only said in the log, so a failure is "unknown" rather than a failed join (a
                // timeout drops the session, as any query's does, and the node connects again).
                encrypted = try? await session.isEncrypted(
                    timeout: configuration.queryTimeout, logger: node.logger)
            } catch {
                throw ClusterError(
                    "cannot join the cluster at \(databaseURL): \(DatabaseErrors.reason(error, host: databaseURL.host))"
                )
            }
            let (ready, readiness) = AsyncStream<String?>.makeStream()
            node.start(first: session, readiness: readiness)
            // The first session reports once it has read the directory, or why it could not.
            for await failure in ready {
                if let failure {
                    await node.stop(removingLease: true)
                    throw ClusterError("cannot join the cluster at \(databaseURL): \(failure)")
                }
                break
            }
            return encrypted
        }
        if encrypted == false && databaseURL.tls.mode == .prefer {
            node.logger.notice(
                "the database did not offer TLS, so this node's traffic to it is not encrypted; sslmode=disable in the URL says that is meant, sslmode=require refuses it"
            )
        }
        node.logger.info(
            "joined the cluster",
            metadata: [
                "database": "\(databaseURL)", "peers": "\(node.directory.peers.count - 1)",
                "tls": "\(encrypted.map { $0 ? "yes" : "no" } ?? "unknown")",
            ])
        return node
    }

    /// This node as its peers know it; it changes if the node has to register anew after losing
    /// its lease.
    public var peer: ClusterPeer? {
        lifecycle.withLockedValue { $0.lease }.map { ClusterPeer(id: $0.id, name: name) }
    }

    /// Whether this node still holds its lease by its own clock. Its watchdog drops its clients
    /// once the lease runs out, but a node that was frozen past that (SIGSTOP, a paused virtual
    /// machine) wakes with its clients' lines and the watchdog's tick due at once: a line served
    /// before the tick may reach a login that another node has taken meanwhile.
    public var holdsLease: Bool { lifecycle.withLockedValue { $0.holdsLease(now: .now) } }

    /// Every node of the cluster as this node knows them, itself included.
    public var peers: [ClusterPeer] { directory.peers }

    // MARK: Logins

    /// Claims `login` for a connection on this node, unique across the cluster. Claims made
    /// together go to the database together, after any release made before them.
    /// A login granted here is answered once what the database held for this node's logins
    /// before has been fetched and handed to the server: the login's last connection, on
    /// another node, may have sent lines that its new one must not overtake.
    public func claim(_ login: ByteBuffer) async -> ClaimResult {
        guard lifecycle.withLockedValue({ $0.usableLease(now: .now) }) != nil,
            currentSession.withLockedValue({ $0 }) != nil
        else { return .unavailable }
        let result = await withCheckedContinuation { answer in
            let accepted = pendingClaims.withLockedValue { pending in
                if !pending.isClosed { pending.claims.append(PendingClaim(login: login, answer: answer)) }
                return !pending.isClosed
            }
            if accepted {
                registryBell.yield()
            } else {
                answer.resume(returning: .unavailable)
            }
        }
        if result == .claimed { await catchUp() }
        return result
    }

    /// Frees `login` for the whole cluster, at once (the database is told in the background, in
    /// order with this node's other releases and claims, once what was routed before it is
    /// written). Does nothing if the lease was lost: its logins are freed with it.
    public func release(_ login: ByteBuffer) {
        grantedLogins.withLockedValue { _ = $0.remove(login) }
        guard let lease = lifecycle.withLockedValue({ $0.lease?.id }) else { return }
        _ = directory.apply(.released(login, node: lease))
        enqueueControl(.release, login: login, lease: lease, afterWrites: outbox.writeMark())
    }

    /// Changes whenever this node's view of who is where changes: a lookup made at one version
    /// still stands while the version does.
    public var membershipVersion: Int { directory.version }

    /// Where `login` is online as far as this node knows: a peer, this node itself, or nil.
    /// Kept current by the database's notifications, so it lags a claim elsewhere by a few
    /// milliseconds.
    public func location(of login: ByteBuffer) -> ClusterPeer? {
        directory.location(of: login)
    }

    // MARK: Routing

    /// Queues `delivery` for `login` on `peer`. Never blocks; see `RouteResult` for what to do.
    /// Deliveries routed from one thread to one peer reach it in the order routed.
    public func route(_ delivery: UnsafeRawBufferPointer, to login: ByteBuffer, on peer: ClusterPeer)
        -> RouteResult
    {
        guard let congested = directory.congestion(of: login, on: peer.id) else { return .unavailable }
        let result = outbox.route(delivery, to: login, on: peer.id)
        return result == .queued && congested ? .queuedRecipientBusy : result
    }

    public func route(_ delivery: ByteBuffer, to login: ByteBuffer, on peer: ClusterPeer) -> RouteResult {
        delivery.withUnsafeReadableBytes { route($0, to: login, on: peer) }
    }

    /// Tells the other nodes that `login`, online here, is (or no longer is) falling behind, so
    /// they pause (or resume) the senders writing to it.
    public func setCongested(_ login: ByteBuffer, _ congested: Bool) {
        guard let lease = lifecycle.withLockedValue({ $0.lease?.id }) else { return }
        enqueueControl(.congestion(congested), login: login, lease: lease)
    }

    /// Whether the node where `login` is online reports it congested.
    public func isCongested(_ login: ByteBuffer) -> Bool {
        directory.isCongested(login)
    }

    public var statistics: ClusterStatistics { counters.withLockedValue { $0 } }

    // MARK: Leaving

    /// Leaves the cluster: writes what is queued for peers (for up to the query timeout), frees
    /// every login of this node at once, and closes the connections.
    public func leave() async {
        let alreadyLeaving = lifecycle.withLockedValue { lifecycle in
            defer { lifecycle.leave() }
            return lifecycle.isLeaving
        }
        guard !alreadyLeaving else { return }
        let deadline = ContinuousClock.now + configuration.queryTimeout
        while outbox.unwrittenBytes > 0 || !controlQueue.withLockedValue({ $0.isEmpty }),
            currentSession.withLockedValue({ $0 }) != nil, ContinuousClock.now < deadline
        {
            try? await Task.sleep(for: .milliseconds(5))
        }
        await executor.run { await stop(removingLease: true) }
        logger.info("left the cluster")
    }

    /// What a crash looks like to the others: the connections close, the lease is not renewed,
    /// and nothing is freed.
    func stopAsIfCrashed() async {
        await executor.run { await stop(removingLease: false) }
    }

    /// Stops every task and closes the connections; with `removingLease`, deletes this node's
    /// row first, which frees its logins for everyone.
    func stop(removingLease: Bool) async {
        lifecycle.withLockedValue { $0.leave() }
        outbox.setAvailable(false)
        let session = currentSession.withLockedValue { $0 }
        if removingLease, let session, let lease = lifecycle.withLockedValue({ $0.lease?.id }) {
            let statements = self.statements
            do {
                try await withTimeout(configuration.queryTimeout, closing: session.control) {
                    try await statements.removeNode(lease, on: session.control)
                }
            } catch {
                logger.warning(
                    "could not free this node's logins on leaving; the others will when its lease expires",
                    metadata: ["reason": "\(DatabaseErrors.reason(error))"])
            }
        }
        let running = tasks.withLockedValue { $0 }
        for task in running { task.cancel() }
        session?.close()
        flushBell.finish()
        fetchBell.finish()
        registryBell.finish()
        for task in running { await task.value }
        closeCatchUps()
    }

    // MARK: Plumbing shared by the node's tasks

    func enqueueControl(
        _ kind: ControlOperation.Kind, login: ByteBuffer, lease: Int64, afterWrites: Outbox.WriteMark = [:]
    ) {
        controlQueue.withLockedValue { queue in
            let serial = controlSerial.withLockedValue {
                $0 += 1
                return $0
            }
            queue.append(
                ControlOperation(
                    serial: serial, kind: kind, login: login, lease: lease, afterWrites: afterWrites))
        }
        registryBell.yield()
    }

    /// A release waits until what was routed before it is written or dropped (`Registry.swift`):
    /// whatever writes or drops deliveries rings the registry.
    func ringIfReleasesWait() {
        if !controlQueue.withLockedValue({ $0.isEmpty }) { registryBell.yield() }
    }

    func emit(_ events: [ClusterEvent]) {
        guard !events.isEmpty else { return }
        let onEvent = self.onEvent
        callbackLoop.execute {
            for event in events { onEvent(event) }
        }
    }

    func perform(_ actions: [NodeLifecycle.Action]) {
        var events: [ClusterEvent] = []
        for action in actions {
            switch action {
            case .emit(let event):
                events.append(event)
            case .setRoutingAvailable(let available):
                outbox.setAvailable(available)
            case .dropQueues:
                let dropped = outbox.dropAll()
                counters.withLockedValue { $0.batchesDropped += dropped.batches }
                controlQueue.withLockedValue { $0.removeAll() }
                grantedLogins.withLockedValue { $0.removeAll() }
            case .closeSession:
                currentSession.withLockedValue { $0 }?.close()
            case .logLeaseLost(let reason):
                logger.error("lease lost: \(reason); this node's clients must go", metadata: [:])
            case .logConnectionLost(let reason):
                logger.warning("database connection lost", metadata: ["reason": "\(reason)"])
            case .logConnectionBack:
                logger.notice("database connection back")
            }
        }
        emit(events)
    }
}
