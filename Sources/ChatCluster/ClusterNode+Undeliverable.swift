import NIOCore

/// Deliveries that will never arrive: their recipient's node went (killed, or cut off past its
/// lease) before it took them. They are handed to the server (`onUndeliverable`) with the node
/// their senders are on, so that each sender is told, rather than lost unsaid.
///
/// They come from two places: batches written to the database that the gone node never took,
/// which whoever frees its logins deletes and hands over (`Statements.renewAndReap`); and what
/// this node had queued for it, or could not write because its row was gone. A batch the gone
/// node took but had not deleted may have been delivered, so nothing is said of it.
extension ClusterNode {
    /// Hands over deliveries that will never arrive, each batch with the node its senders are on:
    /// the node that wrote it to a peer that is gone, or this one for what it never wrote.
    func giveUp(_ untaken: [(sender: Int64, payload: ByteBuffer)]) {
        guard !untaken.isEmpty else { return }
        let own = peer
        let batches = untaken.compactMap { sender, payload -> InboundBatch? in
            let from = sender == own?.id ? own : directory.peer(sender)
            // Senders on a node that is gone too are gone with it.
            return from.map { InboundBatch(from: $0, payload: payload) }
        }
        counters.withLockedValue { $0.batchesGivenUp += untaken.count }
        let onUndeliverable = self.onUndeliverable
        callbackLoop.execute {
            for batch in batches { onUndeliverable(batch) }
        }
    }

    /// Forgets `peer`, which is gone, and gives up what was routed to it and not yet cut into a
    /// batch. Returns whether senders were paused for it.
    @discardableResult
    func giveUpUnwritten(to peer: Int64) -> Bool {
        let (paused, unwritten) = outbox.dropPeer(peer)
        if let unwritten, let own = lifecycle.withLockedValue({ $0.lease?.id }) {
            giveUp([(own, unwritten)])
        }
        return paused
    }
}
