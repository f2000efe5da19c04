import Logging
import NIOConcurrencyHelpers
import NIOCore
import PostgresNIO

/// Connecting, keeping the lease, reconnecting with back-off.
extension ClusterNode {
    /// Connects and makes sure this node holds a lease: the one it had if the database still
    /// has it, otherwise a new one (after deleting the row of a lease it gave up).
    func establish(generation: Int, isFirst: Bool) async throws -> Session {
        var session = try await Session.connect(
            generation: generation, to: url, nodeName: name, configuration: configuration, logger: logger)
        logger.trace("connected", metadata: ["session": "\(generation)"])
        do {
            session.backends = try await identifyBackends(of: session)
            try await endAbandonedBackends(before: session)
            let control = session.control
            let statements = self.statements
            let (timeout, leaseDuration, logger) = (
                configuration.queryTimeout, configuration.leaseDuration, self.logger
            )
            if isFirst {
                try await withTimeout(timeout, closing: control) {
                    try await Schema.prepare(on: control, logger: logger)
                }
            }
            logger.trace("schema ready")
            if let lease = lifecycle.withLockedValue({ $0.lease?.id }) {
                let started = ContinuousClock.now
                let reaping = try await withTimeout(timeout, closing: control) {
                    try await statements.renewAndReap(node: lease, lease: leaseDuration, on: control)
                }
                if reaping.renewed {
                    lifecycle.withLockedValue { $0.renewed(lease, startedAt: started) }
                } else {
                    perform(lifecycle.withLockedValue { $0.leaseRefused() })
                }
            }
            if let abandoned = lifecycle.withLockedValue({ $0.abandonedLease }) {
                try await withTimeout(timeout, closing: control) {
                    try await statements.removeNode(abandoned, on: control)
                }
                lifecycle.withLockedValue { $0.forgotAbandonedLease() }
            }
            if lifecycle.withLockedValue({ $0.lease }) == nil {
                try await register(on: control)
            }
            return session
        } catch {
            abandon(session)
            throw error
        }
    }

    private func register(on control: GuardedConnection) async throws {
        var waited = false
        let statements = self.statements
        let (timeout, leaseDuration, name) = (
            configuration.queryTimeout, configuration.leaseDuration, self.name
        )
        while true {
            // An expired holder of the name is a crashed earlier run of this node: free it.
            try await withTimeout(timeout, closing: control) {
                try await statements.freeExpired(named: name, on: control)
            }
            let started = ContinuousClock.now
            let registration = try await withTimeout(timeout, closing: control) {
                try await statements.register(name: name, lease: leaseDuration, on: control)
            }
            switch registration {
            case .registered(let id):
                lifecycle.withLockedValue { $0.registered(id, startedAt: started) }
                logger.debug("registered", metadata: ["id": "\(id)"])
                return
            case .nameHeld(let remaining):
                // An earlier run that crashed holds it until its lease expires; one that is still
                // running renews it, and then the name is simply taken.
                if waited { throw ClusterError("node name '\(name)' is in use by a running node") }
                logger.notice(
                    "node name still held by an earlier run; waiting for its lease to expire",
                    metadata: ["seconds": "\(remaining.seconds)"])
                try await Task.sleep(for: remaining + .milliseconds(200))
                waited = true
            }
        }
    }

    func start(first: Session, readiness: AsyncStream<String?>.Continuation) {
        let started = [
            executor.spawn { await self.supervise(first: first, readiness: readiness) },
            executor.spawn { await self.watchLease() },
            executor.spawn { await self.runFlusher() },
            executor.spawn { await self.runFetcher() },
            executor.spawn { await self.runRegistry() },
        ]
        tasks.withLockedValue { $0 = started }
    }

    private var isStopping: Bool {
        Task.isCancelled || lifecycle.withLockedValue { $0.isLeaving }
    }

    /// Serves sessions one after another until the node stops, reconnecting with back-off.
    private func supervise(first: Session, readiness: AsyncStream<String?>.Continuation) async {
        var session: Session? = first
        var readiness: AsyncStream<String?>.Continuation? = readiness
        var generation = first.generation
        var delay = configuration.initialReconnectDelay
        while !isStopping {
            guard let current = session else {
                generation += 1
                do {
                    session = try await establish(generation: generation, isFirst: false)
                    delay = configuration.initialReconnectDelay
                } catch {
                    if isStopping { break }
                    let reason = DatabaseErrors.reason(error, host: url.host)
                    perform(lifecycle.withLockedValue { $0.sessionLost(reason: reason) })
                    logger.debug(
                        "reconnecting failed", metadata: ["reason": "\(reason)", "retry in": "\(delay)"])
                    try? await Task.sleep(for: delay)
                    delay = min(delay * 2, configuration.maximumReconnectDelay)
                }
                continue
            }
            let reason = await serve(current, readiness: readiness)
            readiness = nil
            currentSession.withLockedValue { $0 = nil }
            abandon(current)
            session = nil
            if isStopping { break }
            perform(lifecycle.withLockedValue { $0.sessionLost(reason: reason) })
            // Claims held behind a release (`runRegistry`) are answered now: unavailable.
            registryBell.yield()
        }
    }

    /// Runs one session until it breaks and returns why: listens, reads the directory, then
    /// renews the lease every heartbeat.
    private func serve(_ session: Session, readiness: AsyncStream<String?>.Continuation?) async -> String {
        guard let lease = lifecycle.withLockedValue({ $0.lease?.id }) else { return "lease lost" }
        currentSession.withLockedValue { $0 = session }
        let (listening, listeningSignal) = AsyncStream<Void>.makeStream()
        let (synchronised, synchronisedSignal) = AsyncStream<Void>.makeStream()
        let snapshot = NIOLockedValueBox<(peers: [ClusterPeer], logins: [ByteBuffer: Int64])?>(nil)
        let marker = "\(lease)-\(session.generation)-\(UInt32.random(in: 0...UInt32.max))"
        let reason = await withTaskGroup(of: String.self) { group in
            group.addTask {
                await self.listenToMembership(
                    session, marker: marker, snapshot: snapshot, listening: listeningSignal,
                    synchronised: synchronisedSignal)
            }
            group.addTask {
                await self.listenToNodeChannel(session, lease: lease, listening: listeningSignal)
            }
            group.addTask {
                await session.anyClosed()
                return "the connection closed"
            }
            group.addTask {
                do {
                    try await self.synchronise(
                        session, lease: lease, marker: marker, listening: listening, snapshot: snapshot,
                        synchronised: synchronised)
                    readiness?.yield(nil)
                    readiness?.finish()
                    try await self.renewLease(session, lease: lease)
                    return "heartbeat stopped"
                } catch {
                    return DatabaseErrors.reason(error)
                }
            }
            let first = await group.next()!
            group.cancelAll()
            session.close()
            return first
        }
        readiness?.yield(reason)
        readiness?.finish()
        return reason
    }

    /// Once both channels are listened to: reads the directory and waits for the marker that
    /// proves every change before the read has been seen, then opens for business.
    private func synchronise(
        _ session: Session,
        lease: Int64,
        marker: String,
        listening: AsyncStream<Void>,
        snapshot: NIOLockedValueBox<(peers: [ClusterPeer], logins: [ByteBuffer: Int64])?>,
        synchronised: AsyncStream<Void>
    ) async throws {
        let (control, statements, timeout) = (session.control, self.statements, configuration.queryTimeout)
        try await withTimeout(timeout, closing: control) {
            var channels = 0
            for await _ in listening {
                channels += 1
                if channels == 2 { break }
            }
        }
        logger.trace("listening")
        let directory = try await withTimeout(timeout, closing: control) {
            try await statements.readDirectory(on: control)
        }
        snapshot.withLockedValue { $0 = directory }
        try await withTimeout(timeout, closing: control) {
            try await statements.notifyMarker(marker, on: control)
        }
        logger.trace("directory read")
        try await withTimeout(timeout, closing: control) {
            for await _ in synchronised { break }
        }
        logger.trace("directory synchronised")
        let outstanding = try await withTimeout(timeout, closing: control) {
            try await statements.oldestOutstanding(from: lease, on: control)
        }
        let ready = outbox.reconcile(oldestOutstanding: outstanding).map { peer in
            ClusterEvent.peerReady(self.directory.peer(peer) ?? ClusterPeer(id: peer, name: "node \(peer)"))
        }
        emit(ready)
        perform(lifecycle.withLockedValue { $0.sessionReady(generation: session.generation) })
        // Whatever waited for a connection (or arrived for this node meanwhile) goes now.
        flushBell.yield()
        fetchBell.yield()
        registryBell.yield()
    }

    private func renewLease(_ session: Session, lease: Int64) async throws {
        let (control, statements) = (session.control, self.statements)
        let (timeout, leaseDuration) = (configuration.queryTimeout, configuration.leaseDuration)
        while true {
            try await Task.sleep(for: configuration.heartbeatInterval)
            let started = ContinuousClock.now
            let reaping = try await withTimeout(timeout, closing: control) {
                try await statements.renewAndReap(node: lease, lease: leaseDuration, on: control)
            }
            guard reaping.renewed else {
                perform(lifecycle.withLockedValue { $0.leaseRefused() })
                throw ClusterError("the lease was refused")
            }
            lifecycle.withLockedValue { $0.renewed(lease, startedAt: started) }
            for peer in reaping.freed {
                logger.notice("freed the logins of a node whose lease expired", metadata: ["peer": "\(peer)"])
            }
        }
    }

    /// Gives the lease up when its deadline passes without a renewal.
    private func watchLease() async {
        let interval = min(configuration.leaseSafetyMargin / 4, .milliseconds(250))
        while !isStopping {
            try? await Task.sleep(for: interval)
            perform(lifecycle.withLockedValue { $0.tick(now: .now) })
        }
    }
}
