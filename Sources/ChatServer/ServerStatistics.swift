import ChatProtocol
import NIOCore

/// What the server counts, for the metrics endpoint. Code on an event loop bumps its own loop's
/// `LoopStatistics` with plain integer additions: no locks, no atomics, nothing shared between
/// threads on the hot path. `MetricsPublisher` reads each loop's counters on that loop, once a
/// second and on every scrape, and folds them into swift-metrics.
public final class ServerStatistics: Sendable {
    private let loops: [ObjectIdentifier: NIOLoopBoundBox<LoopStatistics>]

    public init(group: any EventLoopGroup) {
        var loops: [ObjectIdentifier: NIOLoopBoundBox<LoopStatistics>] = [:]
        for loop in group.makeIterator() {
            loops[ObjectIdentifier(loop)] = .makeBoxSendingValue(LoopStatistics(), eventLoop: loop)
        }
        self.loops = loops
    }

    /// The counters of the loop the caller runs on. Call it on that loop (a channel's
    /// `eventLoop`, in its initializer or handlers), keep the result, and bump it from there.
    public func onLoop(_ loop: any EventLoop) -> LoopStatistics {
        guard let statistics = loops[ObjectIdentifier(loop)] else {
            preconditionFailure("\(loop) is not one of the server's event loops")
        }
        return statistics.value
    }

    /// Every loop's counters added up, read on each loop.
    func snapshot(on loop: any EventLoop) -> EventLoopFuture<StatisticsSnapshot> {
        let reads = loops.values.map { bound in bound.eventLoop.submit { bound.value.snapshot } }
        return EventLoopFuture.whenAllSucceed(reads, on: loop).map { $0.reduce(StatisticsSnapshot(), +) }
    }
}

/// Why the server ended a connection it had not been asked to end.
public enum CutOffReason: Int, CaseIterable, Sendable {
    /// Its outgoing queue filled: `Notice.tooSlow`.
    case tooSlow
    /// It took nothing for the stall timeout while messages waited for it: `Notice.stalled`.
    case stalled
    /// It took nothing for a second (or the stall timeout, if shorter) while its loop was over its
    /// share of the queue budget: `Notice.stalled`.
    case queueBudget
    /// It did not take what was queued for it within the drain timeout after its input ended.
    case drainTimeout
    /// It had not taken everything by the end of a graceful shutdown's grace period.
    case shutdownGracePeriod

    var label: String {
        switch self {
        case .tooSlow: return "too_slow"
        case .stalled: return "stalled"
        case .queueBudget: return "queue_budget"
        case .drainTimeout: return "drain_timeout"
        case .shutdownGracePeriod: return "shutdown_grace_period"
        }
    }
}

/// Which limit refused a connection at accept.
public enum ConnectionCap: Int, CaseIterable, Sendable {
    case maximumConnections
    case maximumConnectionsPerAddress

    var label: String {
        switch self {
        case .maximumConnections: return "max_connections"
        case .maximumConnectionsPerAddress: return "max_connections_per_ip"
        }
    }
}

/// One event loop's counters. Not thread-safe by design: only its own loop touches it.
public final class LoopStatistics {
    private(set) var snapshot = StatisticsSnapshot()

    public func connectionOpened() {
        snapshot.connectionsOpened &+= 1
        snapshot.connectionsOpen &+= 1
    }

    public func connectionClosed() { snapshot.connectionsOpen &-= 1 }

    public func loggedIn() { snapshot.loginsOnline &+= 1 }

    public func loggedOut() { snapshot.loginsOnline &-= 1 }

    /// Bytes read from a client's socket (before TLS is counted, if any: what the client sent).
    public func received(bytes: Int) { snapshot.bytesReceived &+= bytes }

    /// Bytes written to a client's socket.
    public func sent(bytes: Int) { snapshot.bytesSent &+= bytes }

    /// A message line accepted from a sender, whatever its number of recipients.
    public func messageReceived() { snapshot.messagesReceived &+= 1 }

    /// Deliveries queued to recipients: one per recipient of a message.
    public func delivered(_ count: Int = 1) { snapshot.deliveries &+= count }

    public func noticeSent(_ notice: Notice) {
        snapshot.notices[notice.kind.rawValue] &+= 1
    }

    public func cutOff(_ reason: CutOffReason) {
        snapshot.cutOffs[reason.rawValue] &+= 1
    }

    /// A sender whose reading was paused because a recipient's queue was full (flow control).
    public func senderPaused() { snapshot.sendersPaused &+= 1 }

    /// A burst of writes to a large group shared with helper threads (`Broker+SharedBurst`).
    public func burstShared() { snapshot.burstsShared &+= 1 }

    public func tlsHandshakeFailed() { snapshot.tlsHandshakeFailures &+= 1 }

    public func loginTimedOut() { snapshot.loginTimeouts &+= 1 }

    public func connectionRefused(_ cap: ConnectionCap) {
        snapshot.connectionsRefused[cap.rawValue] &+= 1
    }
}

/// The counters' values at one moment: a value, so it can leave its loop.
public struct StatisticsSnapshot: Equatable, Sendable {
    public var connectionsOpen = 0
    public var connectionsOpened = 0
    public var loginsOnline = 0
    public var bytesReceived = 0
    public var bytesSent = 0
    public var messagesReceived = 0
    public var deliveries = 0
    /// By `Notice.Kind.rawValue`.
    public var notices = [Int](repeating: 0, count: Notice.Kind.allCases.count)
    /// By `CutOffReason.rawValue`.
    public var cutOffs = [Int](repeating: 0, count: CutOffReason.allCases.count)
    public var sendersPaused = 0
    public var burstsShared = 0
    public var tlsHandshakeFailures = 0
    public var loginTimeouts = 0
    /// By `ConnectionCap.rawValue`.
    public var connectionsRefused = [Int](repeating: 0, count: ConnectionCap.allCases.count)

    public init() {}

    static func + (left: StatisticsSnapshot, right: StatisticsSnapshot) -> StatisticsSnapshot {
        func add(_ a: [Int], _ b: [Int]) -> [Int] { zip(a, b).map { $0 &+ $1 } }
        var sum = StatisticsSnapshot()
        sum.connectionsOpen = left.connectionsOpen &+ right.connectionsOpen
        sum.connectionsOpened = left.connectionsOpened &+ right.connectionsOpened
        sum.loginsOnline = left.loginsOnline &+ right.loginsOnline
        sum.bytesReceived = left.bytesReceived &+ right.bytesReceived
        sum.bytesSent = left.bytesSent &+ right.bytesSent
        sum.messagesReceived = left.messagesReceived &+ right.messagesReceived
        sum.deliveries = left.deliveries &+ right.deliveries
        sum.notices = add(left.notices, right.notices)
        sum.cutOffs = add(left.cutOffs, right.cutOffs)
        sum.sendersPaused = left.sendersPaused &+ right.sendersPaused
        sum.burstsShared = left.burstsShared &+ right.burstsShared
        sum.tlsHandshakeFailures = left.tlsHandshakeFailures &+ right.tlsHandshakeFailures
        sum.loginTimeouts = left.loginTimeouts &+ right.loginTimeouts
        sum.connectionsRefused = add(left.connectionsRefused, right.connectionsRefused)
        return sum
    }
}

extension Notice.Kind {
    /// The `kind` label of `chat_notices_total`: the case's name in snake case
    /// (`recipientOffline` is `recipient_offline`, `invalidUTF8` is `invalid_utf8`).
    var label: String {
        var label = ""
        var previous: Character?
        for character in String(describing: self) {
            if character.isUppercase, previous?.isLowercase == true { label += "_" }
            label += character.lowercased()
            previous = character
        }
        return label
    }
}
