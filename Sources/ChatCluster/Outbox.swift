import NIOConcurrencyHelpers
import NIOCore

/// A batch on its way to one peer: one row of `achat_batches`.
struct OutgoingBatch: Sendable {
    let peer: Int64
    let sequence: Int64
    let payload: ByteBuffer
    let records: Int
    /// Where the batch ends among all bytes ever routed to the peer (see `Outbox.WriteMark`).
    let end: Int
}

/// The bounded queues of deliveries to each peer node, filled by `route` on the server's event
/// loops and emptied by the flusher.
///
/// A peer's queue counts the deliveries waiting here and those written to the database that the
/// peer has not taken yet (it acknowledges what it delivered, at its next fetch), so a slow peer
/// holds its senders back instead of filling a table.
final class Outbox: Sendable {
    private struct PeerQueue {
        var pending = ByteBuffer()
        var nextSequence: Int64 = 1
        /// All bytes ever cut from `pending` into batches, and how many of them are in the
        /// database (batches to a peer are written in order).
        var cutBytes = 0
        var writtenBytes = 0
        /// Taken from `pending`, not yet acknowledged by the peer, oldest first.
        var inFlight: [(sequence: Int64, bytes: Int, written: Bool)] = []
        var inFlightBytes = 0
        /// A sender was told to pause for this peer: tell the server when it may resume.
        var sendersPaused = false

        var queuedBytes: Int { pending.readableBytes + inFlightBytes }

        mutating func append(login: ByteBuffer, delivery: UnsafeRawBufferPointer, paused: Bool) {
            BatchRecord.write(login: login, delivery: delivery, into: &pending)
            if paused { sendersPaused = true }
        }
    }

    private struct State {
        var peers: [Int64: PeerQueue] = [:]
        var isAvailable = false
        /// Set when deliveries arrive for an idle flusher; the flusher clears it.
        var isFlushRequested = false
    }

    private let state = NIOLockedValueBox(State())
    private let softLimit: Int
    private let hardLimit: Int
    private let maximumBatchBytes: Int
    private let requestFlush: @Sendable () -> Void

    init(softLimit: Int, hardLimit: Int, maximumBatchBytes: Int, requestFlush: @escaping @Sendable () -> Void)
    {
        self.softLimit = softLimit
        self.hardLimit = hardLimit
        self.maximumBatchBytes = maximumBatchBytes
        self.requestFlush = requestFlush
    }

    func route(_ delivery: UnsafeRawBufferPointer, to login: ByteBuffer, on peer: Int64) -> RouteResult {
        let size = BatchRecord.size(login: login.readableBytes, delivery: delivery.count)
        let (result, flush) = state.withLockedValue { state -> (RouteResult, Bool) in
            guard state.isAvailable else { return (.unavailable, false) }
            let queued = state.peers[peer]?.queuedBytes ?? 0
            if queued + size > hardLimit && queued > 0 {
                state.peers[peer]!.sendersPaused = true
                return (.peerFull, false)
            }
            let busy = queued + size > softLimit
            state.peers[peer, default: PeerQueue()].append(login: login, delivery: delivery, paused: busy)
            let flush = !state.isFlushRequested
            state.isFlushRequested = true
            return (busy ? .queuedPeerBusy : .queued, flush)
        }
        if flush { requestFlush() }
        return result
    }

    /// Where each peer's queue ends now, for the peers with deliveries not yet in the database.
    typealias WriteMark = [Int64: Int]

    /// Everything routed so far, as a mark that `isWritten` tells has reached the database.
    func writeMark() -> WriteMark {
        state.withLockedValue { state in
            var mark: WriteMark = [:]
            for (peer, queue) in state.peers {
                let end = queue.cutBytes + queue.pending.readableBytes
                if end > queue.writtenBytes { mark[peer] = end }
            }
            return mark
        }
    }

    /// Whether everything routed before `mark` was taken is in the database (or was dropped with
    /// its peer, whose clients went with it).
    func isWritten(_ mark: WriteMark) -> Bool {
        guard !mark.isEmpty else { return true }
        return state.withLockedValue { state in
            mark.allSatisfy { peer, end in (state.peers[peer]?.writtenBytes ?? end) >= end }
        }
    }

    /// Whether `route` accepts deliveries.
    func setAvailable(_ available: Bool) {
        state.withLockedValue { $0.isAvailable = available }
    }

    /// Cuts the next batch for every peer that has deliveries waiting. With nothing waiting it
    /// re-arms the flush request, so the next `route` wakes the flusher.
    func takeBatches() -> [OutgoingBatch] {
        state.withLockedValue { state in
            var batches: [OutgoingBatch] = []
            for (peer, var queue) in state.peers where queue.pending.readableBytes > 0 {
                let (bytes, records) = BatchRecord.prefix(of: queue.pending, upTo: maximumBatchBytes)
                let payload = queue.pending.readSlice(length: bytes)!
                if queue.pending.readableBytes == 0 {
                    queue.pending = ByteBuffer()
                }
                let sequence = queue.nextSequence
                queue.nextSequence += 1
                queue.cutBytes += bytes
                queue.inFlight.append((sequence, bytes, false))
                queue.inFlightBytes += bytes
                state.peers[peer] = queue
                batches.append(
                    OutgoingBatch(
                        peer: peer, sequence: sequence, payload: payload, records: records,
                        end: queue.cutBytes))
            }
            if batches.isEmpty { state.isFlushRequested = false }
            return batches
        }
    }

    /// The batch is in the database: the peer can take it from there.
    func markWritten(_ batch: OutgoingBatch) {
        state.withLockedValue { state in
            if let written = state.peers[batch.peer]?.writtenBytes, written < batch.end {
                state.peers[batch.peer]!.writtenBytes = batch.end
            }
            guard
                let index = state.peers[batch.peer]?.inFlight.firstIndex(where: {
                    $0.sequence == batch.sequence
                })
            else { return }
            state.peers[batch.peer]!.inFlight[index].written = true
        }
    }

    /// The peer has taken every batch up to `sequence`. Returns `peerReady` if senders were
    /// paused for it and it is below the soft limit now.
    func acknowledge(peer: Int64, through sequence: Int64) -> Bool {
        state.withLockedValue { state in
            guard var queue = state.peers[peer] else { return false }
            // An acknowledgement can overtake the sender's own confirmation of the write.
            let done = queue.inFlight.prefix(while: { $0.sequence <= sequence })
            queue.inFlightBytes -= done.reduce(0) { $0 + $1.bytes }
            queue.inFlight.removeFirst(done.count)
            let ready = queue.sendersPaused && queue.queuedBytes <= softLimit
            if ready { queue.sendersPaused = false }
            state.peers[peer] = queue
            return ready
        }
    }

    /// After a reconnection: acknowledgements sent while this node was not listening are lost, so
    /// every written batch that is no longer in the table (below the oldest one still there, or
    /// all if none is) counts as taken. Returns the peers whose senders may resume.
    func reconcile(oldestOutstanding: [Int64: Int64]) -> [Int64] {
        let peers = state.withLockedValue { Array($0.peers.keys) }
        return peers.filter { peer in
            let through =
                oldestOutstanding[peer].map { $0 - 1 }
                ?? state.withLockedValue {
                    $0.peers[peer]?.inFlight.last(where: { $0.written })?.sequence ?? 0
                }
            return acknowledge(peer: peer, through: through)
        }
    }

    /// Forgets a peer that is gone (its deliveries have no one to go to). Returns whether senders
    /// were paused for it, and the deliveries not yet cut into batches (those in batches are the
    /// flusher's: written, they are the database's; refused, the flusher's to give up).
    func dropPeer(_ peer: Int64) -> (sendersPaused: Bool, unwritten: ByteBuffer?) {
        let queue = state.withLockedValue { $0.peers.removeValue(forKey: peer) }
        let unwritten = queue.flatMap { $0.pending.readableBytes > 0 ? $0.pending : nil }
        return (queue?.sendersPaused ?? false, unwritten)
    }

    /// Forgets everything (the lease is lost: no sender or recipient is still connected). Returns
    /// the peers senders were paused for, and how many batches were dropped.
    func dropAll() -> (paused: [Int64], batches: Int) {
        state.withLockedValue { state in
            let paused = state.peers.filter { $0.value.sendersPaused }.map(\.key)
            let batches = state.peers.values.reduce(0) {
                $0 + $1.inFlight.filter { !$0.written }.count + ($1.pending.readableBytes > 0 ? 1 : 0)
            }
            state.peers = [:]
            return (paused, batches)
        }
    }

    /// Bytes waiting here or in the database, for all peers.
    var queuedBytes: Int { state.withLockedValue { $0.peers.values.reduce(0) { $0 + $1.queuedBytes } } }

    /// Bytes not yet written to the database.
    var unwrittenBytes: Int {
        state.withLockedValue { state in
            state.peers.values.reduce(0) { total, queue in
                total + queue.pending.readableBytes
                    + queue.inFlight.filter { !$0.written }.reduce(0) { $0 + $1.bytes }
            }
        }
    }
}
