import Logging
import NIOConcurrencyHelpers
import NIOCore
import PostgresNIO

/// The two channels a node listens to: the membership channel everyone shares, and its own.
extension ClusterNode {
    /// Applies membership changes to the directory. Until the marker comes back, changes are
    /// kept and replayed on top of the directory just read: replaying a change the read already
    /// holds is harmless (each one states where a login is, or that it is not there any more),
    /// and none that came after the read is missed.
    func listenToMembership(
        _ session: Session,
        marker: String,
        snapshot: NIOLockedValueBox<(peers: [ClusterPeer], logins: [ByteBuffer: Int64])?>,
        listening: AsyncStream<Void>.Continuation,
        synchronised: AsyncStream<Void>.Continuation
    ) async -> String {
        do {
            try await session.listener.connection.listen(on: MembershipChange.channel) { notifications in
                listening.yield()
                var held: [MembershipChange]? = []
                for try await notification in notifications {
                    guard let change = MembershipChange(payload: notification.payload) else {
                        logger.debug(
                            "ignored a membership notification",
                            metadata: ["payload": "\(notification.payload)"])
                        continue
                    }
                    guard var changes = held else {
                        applyMembership(change)
                        continue
                    }
                    changes.append(change)
                    held = changes
                    if change == .marker(marker), let read = snapshot.withLockedValue({ $0 }) {
                        replaceDirectory(peers: read.peers, logins: read.logins)
                        for change in changes { applyMembership(change) }
                        held = nil
                        synchronised.yield()
                    }
                }
            }
            return "stopped listening"
        } catch {
            return DatabaseErrors.reason(error)
        }
    }

    /// Wake-ups (a batch is waiting for this node) and acknowledgements (a peer took batches).
    func listenToNodeChannel(_ session: Session, lease: Int64, listening: AsyncStream<Void>.Continuation)
        async
        -> String
    {
        do {
            try await session.listener.connection.listen(on: Statements.nodeChannel(lease)) { notifications in
                listening.yield()
                for try await notification in notifications {
                    let payload = notification.payload
                    if payload.isEmpty {
                        counters.withLockedValue { $0.wakeupsReceived += 1 }
                        fetchBell.yield()
                    } else if payload.first == "a" {
                        let fields = payload.dropFirst().split(separator: " ")
                        guard fields.count == 2, let peer = Int64(fields[0]), let sequence = Int64(fields[1])
                        else {
                            continue
                        }
                        if outbox.acknowledge(peer: peer, through: sequence), let known = directory.peer(peer)
                        {
                            emit([.peerReady(known)])
                        }
                    }
                }
            }
            return "stopped listening"
        } catch {
            return DatabaseErrors.reason(error)
        }
    }

    private func replaceDirectory(peers: [ClusterPeer], logins: [ByteBuffer: Int64]) {
        let (gone, uncongested) = directory.replace(peers: peers, logins: logins)
        var events: [ClusterEvent] = []
        // This node's own earlier registrations are no news to the server.
        for peer in gone where peer.name != name {
            giveUpUnwritten(to: peer.id)
            logger.info("node left the cluster", metadata: ["peer": "\(peer)"])
            events += [.peerLeft(peer), .peerReady(peer)]
        }
        events += uncongested.map { .recipientReady(login: $0) }
        emit(events)
    }

    private func applyMembership(_ change: MembershipChange) {
        let own = lifecycle.withLockedValue { $0.lease?.id }
        var events = directory.apply(change)
        switch change {
        case .joined(let peer) where peer.id != own && !events.isEmpty:
            logger.info("node joined the cluster", metadata: ["peer": "\(peer)"])
        case .gone(let id):
            giveUpUnwritten(to: id)
            ringIfReleasesWait()
            if let left = events.first, case .peerLeft(let peer) = left, id != own {
                logger.info("node left the cluster", metadata: ["peer": "\(peer)"])
            }
        default:
            break
        }
        // The server has no use for news about this node itself.
        events.removeAll { event in
            switch event {
            case .peerJoined(let peer), .peerLeft(let peer), .peerReady(let peer): peer.id == own
            default: false
            }
        }
        emit(events)
    }
}
