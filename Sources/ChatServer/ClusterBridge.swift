import ChatCluster
import ChatProtocol
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// How the server takes part in a cluster (`ChatCluster`): where a login lives beyond this
/// server, messages to and from the other nodes, and what the cluster tells the server.
///
/// The server's own `Directory` still decides everything among its connections; the cluster is
/// asked only about names not online here, and only the cluster can grant a login (see
/// `Connection.logIn`). The node runs on a thread of its own, so its database traffic never
/// waits behind chat traffic; what it hands over reaches each broker on the broker's loop.
final class ClusterBridge: Sendable {
    let node: ClusterNode
    private let group: MultiThreadedEventLoopGroup
    private let brokers: Mutex<[NIOLoopBound<Broker>]>
    private let directory: Directory
    /// Senders held back because the queue to a node, or a recipient there, is full.
    private let peerGates = Mutex<[Int64: CongestionGate]>([:])
    private let recipientGates = Mutex<[ByteBuffer: CongestionGate]>([:])
    private let logger: Logger

    /// A sender held back by the cluster is looked at again after this long even if no event
    /// says it may go on: the event may have come just before the sender started to wait.
    static let recheckInterval = TimeAmount.milliseconds(100)

    /// Empties the box the node's callbacks find this bridge in.
    private let forgetBridge: @Sendable () -> Void

    private init(
        node: ClusterNode, group: MultiThreadedEventLoopGroup, directory: Directory, logger: Logger,
        forgetBridge: @escaping @Sendable () -> Void
    ) {
        self.node = node
        self.forgetBridge = forgetBridge
        self.group = group
        self.brokers = Mutex([])
        self.directory = directory
        self.logger = logger
    }

    /// Joins the cluster `settings` names. The node hands over deliveries and events only once
    /// `connect(_:)` has named the brokers; until then there are no connections to give them to.
    static func join(_ settings: ClusterSettings, directory: Directory, logger: Logger) async throws
        -> ClusterBridge
    {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var configuration = settings.node
        configuration.eventLoopGroup = group
        // The node's callbacks reach the bridge through this box, which `leave()` empties: the
        // bridge holds the node, and a node that held the bridge back would keep both alive.
        let bridgeBox = Mutex<ClusterBridge?>(nil)
        do {
            let node = try await ClusterNode.join(
                url: settings.url, nodeName: settings.nodeName, configuration: configuration, logger: logger,
                onEvent: { event in bridgeBox.withLock { $0 }?.handle(event) },
                onDeliveries: { batch in bridgeBox.withLock { $0 }?.deliver(batch) },
                onUndeliverable: { batch in bridgeBox.withLock { $0 }?.answerUndeliverable(batch) })
            let bridge = ClusterBridge(
                node: node, group: group, directory: directory, logger: logger,
                forgetBridge: { bridgeBox.withLock { $0 = nil } })
            bridgeBox.withLock { $0 = bridge }
            return bridge
        } catch {
            try? await group.shutdownGracefully()
            throw ChatServerError(description: "\(error)")
        }
    }

    func connect(_ brokers: [NIOLoopBound<Broker>]) {
        self.brokers.withLock { $0 = brokers }
    }

    /// Frees every login of this node for the whole cluster and stops the node.
    func leave() async {
        await node.leave()
        brokers.withLock { $0 = [] }
        forgetBridge()
        try? await group.shutdownGracefully()
    }

    // MARK: From the brokers

    /// Where `login`, not online on this server, is online in the cluster: another node, or nil.
    func peer(of login: ByteBuffer) -> ClusterPeer? {
        guard let peer = node.location(of: login), peer != node.peer else { return nil }
        return peer
    }

    /// The gate a sender waits on after `route` said the queue to `peer` is full.
    func gate(forPeer peer: ClusterPeer) -> CongestionGate {
        peerGates.withLock { gates in
            if let gate = gates[peer.id] { return gate }
            let gate = CongestionGate(recheckAfter: Self.recheckInterval)
            gates[peer.id] = gate
            return gate
        }
    }

    /// The gate a sender waits on after `route` said `login`, on another node, is not keeping up.
    func gate(forRecipient login: ByteBuffer) -> CongestionGate {
        recipientGates.withLock { gates in
            if let gate = gates[login] { return gate }
            let gate = CongestionGate(recheckAfter: Self.recheckInterval)
            gates[login] = gate
            return gate
        }
    }

    // MARK: From the cluster

    /// Deliveries from another node: each goes to the loop its recipient is on, as mail from
    /// another loop would, in the order they came. One that finds nobody is answered with a
    /// notice to its sender.
    private func deliver(_ batch: InboundBatch) {
        deliverHere(batch, answering: batch.from)
    }

    /// Hands `records` to the loops their recipients are on. One that finds nobody is answered,
    /// if it is a message, to its sender on `peer`.
    private func deliverHere<Records: Sequence<(login: ByteBuffer, delivery: ByteBuffer)>>(
        _ records: Records, answering peer: ClusterPeer
    ) {
        let brokers = self.brokers.withLock { $0 }
        guard !brokers.isEmpty else { return }
        var mail = Array(repeating: LoopMail(), count: brokers.count)
        // Each loop's recipients in the order of its mail, to name one that left before the mail
        // reached its loop.
        var recipients = Array(repeating: [ByteBuffer](), count: brokers.count)
        var undelivered: [(recipient: ByteBuffer, delivery: ByteBuffer)] = []
        // One look-up of the directory for the whole batch.
        _ = directory.locate { lookUp in
            for (login, delivery) in records {
                guard let location = lookUp(login) else {
                    undelivered.append((login, delivery))
                    continue
                }
                delivery.withUnsafeReadableBytes {
                    mail[location.loop].add($0, slot: location.slot, generation: location.generation)
                }
                recipients[location.loop].append(login)
            }
        }
        for (recipient, delivery) in undelivered {
            answerUndelivered(delivery, for: recipient, from: peer)
        }
        for (loop, letters) in mail.enumerated() where !letters.isEmpty {
            var letters = letters
            let (batch, names) = (letters.take(), recipients[loop])
            let broker = brokers[loop]
            broker.eventLoop.execute {
                broker.value.receive(batch) { place, delivery in
                    self.answerUndelivered(ByteBuffer(bytes: delivery), for: names[place], from: peer)
                }
            }
        }
    }

    /// The recipient is not on this server: the sender's server routed the delivery here before
    /// it heard they had left (a few milliseconds; see docs/cluster.md), or, rarer, it came
    /// between their claim and their connection taking its place (this node's own view of the
    /// cluster then has them here: a release takes them out of it at once). The sender, on
    /// `peer`, is told it was not delivered. A notice that finds nobody there is dropped: it is
    /// no delivery, so it is not answered in turn.
    private func answerUndelivered(_ delivery: ByteBuffer, for recipient: ByteBuffer, from peer: ClusterPeer)
    {
        let isArriving = node.peer != nil && node.location(of: recipient) == node.peer
        let name = String(buffer: recipient)
        let notice = isArriving ? Notice.recipientArriving(name) : .recipientLeft(name)
        guard let answer = self.notice(notice, toSenderOf: delivery) else { return }
        _ = node.route(answer.delivery, to: answer.login, on: peer)
    }

    /// Deliveries this server's clients sent to a server that went (killed, cut off from the
    /// database past its lease, restarted, stopped) before it took them: their recipients went
    /// with it, which is what the senders are told.
    private func answerUndeliverable(_ batch: InboundBatch) {
        let answers = batch.compactMap { recipient, delivery in
            notice(.recipientLeft(String(buffer: recipient)), toSenderOf: delivery)
        }
        deliverHere(answers, answering: batch.from)
    }

    /// `notice` as a delivery to the sender of `delivery`; nil if `delivery` is itself a notice (a
    /// message is `from <sender>: <text>`), which is not answered.
    private func notice(_ notice: Notice, toSenderOf delivery: ByteBuffer) -> (
        login: ByteBuffer, delivery: ByteBuffer
    )? {
        guard case .message(let sender, _) = ServerLine.parse(String(buffer: delivery)) else { return nil }
        // Counted here, where it is said: on the sender's server it is bytes from the cluster.
        if let broker = brokers.withLock({ $0.first }) {
            broker.eventLoop.execute { broker.value.statistics.noticeSent(notice) }
        }
        return (ByteBuffer(string: sender), ByteBuffer(string: notice.line))
    }

    private func handle(_ event: ClusterEvent) {
        switch event {
        case .leaseLost:
            // Every login this server held is being freed for others: its clients must go first.
            for broker in brokers.withLock({ $0 }) {
                broker.eventLoop.execute { broker.value.dropEveryoneForLostLease() }
            }
        case .peerReady(let peer):
            open(peerGates.withLock { $0.removeValue(forKey: peer.id) })
        case .recipientReady(let login):
            open(recipientGates.withLock { $0.removeValue(forKey: login) })
        case .databaseUnavailable, .databaseAvailable, .peerJoined, .peerLeft:
            // The node logs these itself; claims and routes answer for them.
            break
        }
    }

    private func open(_ gate: CongestionGate?) {
        guard let gate else { return }
        gate.setCongested(false)
        for sender in gate.release() {
            sender.eventLoop.execute { sender.value.resumeInput(waitingOn: gate) }
        }
    }
}

/// A cluster to join: `ChatServerConfiguration.cluster`.
public struct ClusterSettings: Sendable {
    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE`.
    public var url: String
    /// Unique in the cluster; by default `host-pid-random`.
    public var nodeName: String?
    /// Leases, reconnection and the queues to other nodes; tests shorten the times.
    public var node: ClusterConfiguration
    /// How long a login found held on another server waits for that server's release before it
    /// is refused: a genuine second login waits this long for its refusal. Tests on a machine
    /// that runs every test at once, where one round trip to the database has taken over 3 s,
    /// wait longer.
    public var releaseWait: TimeAmount

    public static let defaultReleaseWait: TimeAmount = .seconds(2)

    public init(
        url: String, nodeName: String? = nil, node: ClusterConfiguration = ClusterConfiguration(),
        releaseWait: TimeAmount = defaultReleaseWait
    ) {
        self.url = url
        self.nodeName = nodeName
        self.node = node
        self.releaseWait = releaseWait
    }
}
