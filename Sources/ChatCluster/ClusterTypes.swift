import NIOCore

/// One node of the cluster, as long as it holds its lease. A node that rejoins after losing its
/// lease is a different peer (a new `id`) under the same name.
public struct ClusterPeer: Hashable, Sendable, CustomStringConvertible {
    /// Unique for the life of the database: a node gets a new one each time it registers.
    public let id: Int64
    public let name: String

    public var description: String { name }

    public static func == (left: ClusterPeer, right: ClusterPeer) -> Bool { left.id == right.id }
    public func hash(into hasher: inout Hasher) { hasher.combine(id) }
}

/// The answer to `ClusterNode.claim`.
public enum ClaimResult: Sendable, Equatable {
    /// The login is this node's until it is released or the lease is lost.
    case claimed
    /// Another connection, on this node or another, holds it.
    case taken
    /// The registry cannot be reached (or this node's lease is not valid): the login may be
    /// online elsewhere, so it must be refused.
    case unavailable
}

/// The answer to `ClusterNode.route`, for one delivery.
public enum RouteResult: Sendable, Equatable {
    /// Queued for the peer; nothing to do.
    case queued
    /// Queued, but the queue to that peer is over its soft limit: stop reading from the sender
    /// until `ClusterEvent.peerReady` names that peer.
    case queuedPeerBusy
    /// Queued, but the recipient's node has said that the recipient is not keeping up: stop
    /// reading from the sender until `ClusterEvent.recipientReady` names the recipient.
    case queuedRecipientBusy
    /// Not queued: the queue to that peer is at its hard limit. Tell the sender; resume senders
    /// on `ClusterEvent.peerReady`.
    case peerFull
    /// Not queued: the database cannot be reached, or that peer is gone. Tell the sender.
    case unavailable
}

/// What the cluster tells the server, in order, one at a time.
public enum ClusterEvent: Sendable, Equatable {
    /// This node could not renew its lease in time: drop every client now, before the other nodes
    /// free their logins. Every login this node held is gone; `claim` works again once the node
    /// has registered anew (`databaseAvailable`).
    case leaseLost
    /// The database connection broke: `claim` and `route` answer `unavailable` until
    /// `databaseAvailable`.
    case databaseUnavailable(reason: String)
    /// Connected again (or for the first time after a lost lease); claims and routing work.
    case databaseAvailable
    /// The queue to this peer is below its soft limit again (or the peer is gone): resume the
    /// senders paused for it.
    case peerReady(ClusterPeer)
    /// The recipient's node no longer reports it congested (or it left): resume the senders
    /// paused for it.
    case recipientReady(login: ByteBuffer)
    case peerJoined(ClusterPeer)
    case peerLeft(ClusterPeer)
}

/// Deliveries for this node's logins, as one peer sent them in one batch, in the order they were
/// routed there. Iterating yields each recipient login and delivery as slices of the batch's one
/// buffer: keep them as long as needed, they copy nothing.
public struct InboundBatch: Sequence, Sendable {
    public let from: ClusterPeer
    let payload: ByteBuffer

    public struct Iterator: IteratorProtocol {
        var remaining: ByteBuffer

        public mutating func next() -> (login: ByteBuffer, delivery: ByteBuffer)? {
            BatchRecord.read(from: &remaining)
        }
    }

    public func makeIterator() -> Iterator { Iterator(remaining: payload) }
}

/// Counters for tests and operators.
public struct ClusterStatistics: Sendable, Equatable {
    /// Deliveries written to the database for peers.
    public var deliveriesSent = 0
    /// Batches written, each one row and one NOTIFY.
    public var batchesSent = 0
    public var bytesSent = 0
    public var deliveriesReceived = 0
    public var batchesReceived = 0
    /// Wake-up notifications received, and the fetches they caused (several wake-ups that arrive
    /// during one fetch cause one more).
    public var wakeupsReceived = 0
    public var fetches = 0
    /// Batches dropped because this node's lease was lost (their senders were dropped too).
    public var batchesDropped = 0
    /// Batches (or the unwritten rest of a queue) handed to `onUndeliverable`: their recipients'
    /// node went before taking them.
    public var batchesGivenUp = 0
}
