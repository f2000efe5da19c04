import NIOCore

/// Deliveries that will never arrive: their recipient's node went (killed, cut off past its
/// lease, or stopped) before it took them. They are handed to the server (`onUndeliverable`),
/// whose clients sent them, so that each sender is told rather than left guessing.
///
/// They come from three places: what this node had queued for a node that is gone, what it could
/// not write because that node's row was gone, and bounces: batches it wrote that the gone node
/// never took, which whoever freed that node moved back to it (`Statements+Freeing.swift`). A
/// batch the gone node took but had not deleted may have been delivered, so nothing is said of
/// it.
extension ClusterNode {
    /// Hands `payloads` (batches as this node wrote them) to the server as undeliverable. After
    /// a lost lease this node's clients are gone, and so is anyone to tell.
    func giveUp(_ payloads: [ByteBuffer]) {
        guard !payloads.isEmpty, let own = peer else { return }
        counters.withLockedValue { $0.batchesGivenUp += payloads.count }
        let onUndeliverable = self.onUndeliverable
        callbackLoop.execute {
            for payload in payloads { onUndeliverable(InboundBatch(from: own, payload: payload)) }
        }
    }

    /// Forgets `peer`, which is gone, and gives up what was routed to it and not yet cut into a
    /// batch. Returns whether senders were paused for it.
    @discardableResult
    func giveUpUnwritten(to peer: Int64) -> Bool {
        let (paused, unwritten) = outbox.dropPeer(peer)
        if let unwritten { giveUp([unwritten]) }
        return paused
    }
}
