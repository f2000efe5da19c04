import ChatProtocol
import NIOCore
import NIOPosix
import SystemSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Nanoseconds on the monotonic clock, the one both ends of a delivery share on one machine.
func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
}

/// Runs every client of one benchmark on one event loop: it feeds the clients' events to the
/// run's `RunLifecycle` and carries out the actions that come back.
///
/// All clients share the loop on purpose: the checker, the flow-control counters and the
/// histogram are then plain memory touched by one thread, so a delivery costs no lock, atomic or
/// task hop, and the bench stays cheaper than the server it loads. One thread is also all the
/// bench may take on a two-core machine without taking the server's core.
final class BenchDriver {
    let loop: any EventLoop
    let configuration: BenchConfiguration
    let checker: DeliveryChecker
    let format: MessageFormat
    /// The ring's clients first, then the slow readers.
    private(set) var clients: [BenchClient] = []
    private let bootstrap: ClientBootstrap
    /// Where each client connects: client `i` to `addresses[i % addresses.count]`.
    private let addresses: [SocketAddress]
    private let probes: ServerProbes
    private let tls: BenchTLS?
    /// Times in message bodies count from here, so they fit the body's 12 hex digits.
    let epoch = monotonicNanoseconds()

    private(set) var lifecycle: RunLifecycle
    private var loginPromise: EventLoopPromise<Void>?
    private var runPromise: EventLoopPromise<Void>?
    private var watchdog: Scheduled<Void>?

    /// In deliveries (messages times recipients), the flow-control window of one sender and the
    /// level it must drain to before it sends again; refilling at half keeps writes batched.
    let windowDeliveries: Int
    let refillLevel: Int
    let expectedDeliveries: Int
    /// What can still arrive: the expected deliveries less those owed to clients the server
    /// closed mid-run.
    private var deliveryTarget: Int
    /// Paced clients send on the clock, never because their window drained.
    let isPaced: Bool
    private(set) var startTime: UInt64 = 0
    var lastDeliveryTime: UInt64 { Swift.max(checker.lastDeliveryTime, startTime) }
    private(set) var peakSampleKiB = 0

    /// Senders whose window has drained enough to send again.
    private var refills: [Int] = []
    private var isRefillScheduled = false
    private var paceCursor = 0
    private var paceTask: Scheduled<Void>?
    private var paced: [BenchClient] = []

    init(loop: any EventLoop, addresses: [SocketAddress], tls: BenchTLS?, configuration: BenchConfiguration) {
        self.loop = loop
        self.addresses = addresses
        self.tls = tls
        self.configuration = configuration
        self.format = MessageFormat(bodyBytes: configuration.payloadBytes)
        let names = ClientNames(tag: configuration.tag)
        self.checker = DeliveryChecker(
            clients: configuration.clients,
            senders: configuration.sendingClients,
            recipients: configuration.recipients,
            messages: configuration.messages,
            format: format,
            names: names
        )
        self.probes = ServerProbes(pids: configuration.serverPIDs)
        self.expectedDeliveries = checker.expected
        self.deliveryTarget = checker.expected
        self.isPaced = configuration.rate != nil
        let recipients = Swift.max(1, configuration.recipients)
        self.windowDeliveries = configuration.effectiveWindow * recipients
        self.refillLevel = windowDeliveries / 2
        self.bootstrap = ClientBootstrap(group: loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(30))
        self.lifecycle = RunLifecycle(
            connections: configuration.clients + configuration.slowReaders,
            ringClients: configuration.clients,
            concurrency: configuration.connectConcurrency,
            stallTimeoutSeconds: configuration.stallTimeoutSeconds)

        let slowLogins = (0..<configuration.slowReaders).map { names.slowReader($0) }
        for index in 0..<configuration.clients {
            var recipientList = (1...Swift.max(1, configuration.recipients)).map {
                names.sender((index + $0) % configuration.clients)
            }
            if configuration.recipients == 0 || index >= configuration.sendingClients { recipientList = [] }
            recipientList += slowLogins
            let prefix = Array((recipientList.joined(separator: ",") + ": ").utf8)
            clients.append(
                BenchClient(
                    index: index, login: names.sender(index), isSlow: false, prefix: prefix, driver: self))
        }
        for (offset, login) in slowLogins.enumerated() {
            clients.append(
                BenchClient(
                    index: configuration.clients + offset, login: login, isSlow: true, prefix: [],
                    driver: self))
        }
    }

    func now() -> UInt64 { monotonicNanoseconds() &- epoch }

    /// Carries out what the lifecycle decided.
    private func perform(_ action: RunLifecycle.Action) {
        switch action {
        case .none, .closeChannel:
            break
        case .connect(let indices):
            for index in indices { connect(clients[index]) }
        case .loginSucceeded:
            loginPromise?.succeed(())
            loginPromise = nil
        case .loginFailed(let reason):
            loginPromise?.fail(BenchError(description: reason))
            loginPromise = nil
        case .startSending:
            if let rate = configuration.readerRate {
                // The readers throttle themselves; a client that only sends reads its notices at
                // once, so that it learns as soon as a reader is gone.
                let onlySending =
                    configuration.sendingClients < clients.count ? configuration.sendingClients : 0
                for client in clients.dropFirst(onlySending) where !client.isSlow {
                    client.throttle(to: rate)
                }
            }
            if configuration.rate != nil {
                paceTick()
            } else {
                for client in clients.prefix(configuration.sendingClients) { client.fill() }
            }
        case .runEnded:
            stopTimers()
            sampleServerMemory()
            runPromise?.succeed(())
            runPromise = nil
        }
    }

    // MARK: Login

    /// Connects and logs in every client; completes when each has seen its own hello.
    func connectAll() -> EventLoopFuture<Void> {
        let promise = loop.makePromise(of: Void.self)
        loginPromise = promise
        scheduleWatchdog()
        perform(lifecycle.startLogin(now: now()))
        return promise.futureResult
    }

    /// Which server `client` talks to, by index into `addresses` and `configuration.servers`.
    private func serverIndex(of client: BenchClient) -> Int {
        client.index % addresses.count
    }

    private func connect(_ client: BenchClient) {
        let server = serverIndex(of: client)
        bootstrap.connect(to: addresses[server])
            .assumeIsolatedUnsafeUnchecked()
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    if self.lifecycle.connected() == .closeChannel { return channel.close(promise: nil) }
                    do {
                        if let tls = self.tls {
                            let host = self.configuration.servers[server].host
                            try channel.pipeline.syncOperations.addHandler(try tls.handler(for: host))
                        }
                        try channel.pipeline.syncOperations.addHandler(client)
                    } catch {
                        self.perform(self.lifecycle.failed("cannot set up a connection: \(error)"))
                    }
                case .failure(let error):
                    let address = self.configuration.servers[server]
                    self.perform(
                        self.lifecycle.connectFailed("cannot connect to \(address): " + Wording.reason(error))
                    )
                }
            }
    }

    func loggedIn(_ client: BenchClient) {
        perform(lifecycle.clientLoggedIn())
    }

    /// A connection failed on its own (a TLS handshake, a reset): the client closes it.
    func errorCaught(_ client: BenchClient, _ error: any Error) {
        let server = configuration.servers[serverIndex(of: client)]
        guard let reason = BenchTLS.reason(error, server: server) else { return }
        perform(lifecycle.failed(reason))
    }

    /// Answered in TLS, without it: the run cannot be done as asked.
    func serverSpeaksTLS(_ client: BenchClient) {
        let server = configuration.servers[serverIndex(of: client)]
        perform(lifecycle.failed("\(server) speaks TLS; run with --tls-ca"))
    }

    func loginRefused(_ client: BenchClient, answer: String) {
        perform(lifecycle.loginRefused(client.loginText, answer: answer))
    }

    // MARK: Messages

    /// Starts sending; completes when every delivery has arrived or the run ended otherwise.
    func run() -> EventLoopFuture<Void> {
        let promise = loop.makePromise(of: Void.self)
        runPromise = promise
        for client in clients where client.isSlow { client.stopReading() }
        startTime = now()
        perform(lifecycle.startRun(now: startTime, expectedDeliveries: expectedDeliveries))
        return promise.futureResult
    }

    /// A delivery from `sender` arrived (the checker has already taken it off the sender's
    /// in-flight count). A sender that fills its window has more than `refillLevel` in flight,
    /// so reaching exactly that level is the one moment to wake it.
    func delivered(from sender: Int) {
        if checker.inFlight[sender] == refillLevel && !isPaced && !configuration.floods {
            refills.append(sender)
            if !isRefillScheduled {
                isRefillScheduled = true
                // Submitted tasks run after the loop has read every ready socket, so each sender
                // refills once per loop iteration with everything the window allows: one write.
                loop.assumeIsolatedUnsafeUnchecked().execute { self.runRefills() }
            }
        }
        if checker.received >= deliveryTarget { perform(lifecycle.allArrived()) }
    }

    private func runRefills() {
        isRefillScheduled = false
        let due = refills
        refills.removeAll(keepingCapacity: true)
        for sender in due { clients[sender].fill() }
    }

    /// Fixed rate: message `g` of the whole run (client `g % clients`, its message `g / clients`)
    /// is due at `g / (clients * rate)` seconds, which spreads the clients evenly over each period
    /// instead of sending in bursts. Every tick sends what has come due, one write per client.
    private func paceTick() {
        guard lifecycle.isRunning, let rate = configuration.rate else { return }
        let senders = configuration.sendingClients
        let total = senders * configuration.messages
        let elapsed = Double(now() &- startTime) / 1e9
        // Compared as a Double before converting: late in a long run at a high rate the product
        // exceeds what an Int holds.
        let dueNow = (elapsed * rate * Double(senders)).rounded(.down) + 1
        let due = dueNow < Double(total) ? Int(dueNow) : total
        let time = now()
        while paceCursor < due {
            let client = clients[paceCursor % senders]
            if client.pacedBatch == nil { paced.append(client) }
            client.appendMessage(time: time)
            paceCursor += 1
        }
        for client in paced { client.flushPacedBatch() }
        paced.removeAll(keepingCapacity: true)
        guard paceCursor < total else { return }
        paceTask = loop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: .milliseconds(1)) { self.paceTick() }
    }

    private func stopTimers() {
        paceTask?.cancel()
        paceTask = nil
        watchdog?.cancel()
        watchdog = nil
    }

    // MARK: Watchdog

    private func scheduleWatchdog() {
        watchdog = loop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: .milliseconds(50)) {
            self.watch()
        }
    }

    /// Samples the server's memory and lets the lifecycle see whether the phase still moves.
    private func watch() {
        sampleServerMemory()
        let serverGone = probes.exited.map { "the server (pid \($0)) exited" }
        let mark = lifecycle.loggedIn &+ checker.received &+ checker.notices &+ paceCursor
        // Everything sent has arrived and the next message is not due yet.
        let waitingForClock =
            isPaced && paceCursor * Swift.max(1, configuration.recipients) <= checker.received
        perform(
            lifecycle.tick(now: now(), mark: mark, serverGone: serverGone, waitingForClock: waitingForClock))
        if lifecycle.isWatched { scheduleWatchdog() }
    }

    func sampleServerMemory() {
        if let resident = probes.memory()?.residentKiB { peakSampleKiB = Swift.max(peakSampleKiB, resident) }
    }

    // MARK: After the run

    /// Lets the slow readers read again and waits for the server to close them (or for the
    /// drain period to pass); counts those it closed.
    func drainSlowReaders() -> EventLoopFuture<Int> {
        let slow = clients.filter(\.isSlow)
        guard !slow.isEmpty else { return loop.makeSucceededFuture(0) }
        for client in slow { client.resumeReading() }
        let promise = loop.makePromise(of: Int.self)
        let deadline = now() &+ UInt64(configuration.slowReaderDrainSeconds * 1e9)
        func poll() {
            let closed = slow.filter(\.wasClosedByServer).count
            if closed == slow.count || now() >= deadline { return promise.succeed(closed) }
            loop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: .milliseconds(20)) { poll() }
        }
        poll()
        return promise.futureResult
    }

    func closeAll() -> EventLoopFuture<Void> {
        // A connect still under way keeps the driver alive through its callback, which sees the
        // closed phase and closes its channel instead of handing it a client.
        perform(lifecycle.close())
        stopTimers()
        let closed = clients.compactMap { $0.close() }
        return EventLoopFuture.andAllComplete(closed, on: loop)
    }

    /// A client the server closed mid-run will get nothing more: the run ends once everyone
    /// else has all of theirs.
    func clientClosed(_ client: BenchClient) {
        guard client.wasClosedByServer else { return }
        if lifecycle.isRunning && !client.isSlow { deliveryTarget -= checker.owed(to: client.index) }
        perform(
            lifecycle.closedByServer(
                client.loginText, wasLoggedIn: client.isLoggedIn, isSlowReader: client.isSlow))
        if lifecycle.isRunning && checker.received >= deliveryTarget { perform(lifecycle.allArrived()) }
    }
}
