import Dispatch
import NIOCore
import Synchronization
import SystemPackage
import SystemSupport

/// A message to a large group is a burst of small writes all due at once: a thousand of them
/// take one loop about 7 ms, nearly all of it in the kernel. Where the machine has cores no loop
/// owns (`--event-loops` below the number of cores), the loop shares such a burst's system calls
/// with Dispatch's worker threads and waits for them. Only `send(2)`s on descriptors run on the
/// helpers; the loop runs no channel's code from taking the outboxes until it has moved past what
/// was sent, so every connection, its outbox and its descriptor stay as they were meanwhile.
extension Broker {
    /// A message to at least this many of the loop's connections makes its writes a burst worth
    /// sharing. Throughput loads, where many senders each reach a few, never qualify: there a
    /// helper would only take the core the clients run on.
    static let sharedBurstRecipients = 256

    /// Sends a helper takes at a time: enough to be worth the hand-over, few enough that a
    /// helper that wakes late takes less and nobody waits for it.
    static let sendsPerPart = 64

    /// How many threads may share one burst: the cores per loop. (With TLS no connection has a
    /// socket to send to, so a burst has nothing to share and is written as usual.)
    static func burstSharers(eventLoops: Int) -> Int {
        max(1, ChatServerConfiguration.usableCores / max(1, eventLoops))
    }

    func noteFanOut(_ recipients: Int) {
        if recipients >= Self.sharedBurstRecipients && burstSharers > 1 { isBurstPending = true }
    }

    /// Writes `due` as `flushOutboxes` would, the direct sends spread over `burstSharers` threads.
    func flushSharingTheBurst(_ due: [Connection]) {
        var taken: [Connection] = []
        var sending: [Connection] = []
        var sends: [DirectSend] = []
        taken.reserveCapacity(due.count)
        sending.reserveCapacity(due.count)
        sends.reserveCapacity(due.count)
        for connection in due where connection.beginFlush() {
            taken.append(connection)
            guard let socket = connection.directSocket() else { continue }
            // The storage is retained until the send is done, as NIO's own writes do.
            sends.append(
                connection.outbox.withUnsafeReadableBytesWithStorageManagement { bytes, storage in
                    DirectSend(socket: socket, bytes: bytes, storage: storage.retain())
                })
            sending.append(connection)
        }
        if !sends.isEmpty {
            statistics.burstShared()
            var sent = [Int](repeating: 0, count: sends.count)
            sends.withUnsafeBufferPointer { sendsBuffer in
                sent.withUnsafeMutableBufferPointer { sentBuffer in
                    let burst = SharedBurst(sends: sendsBuffer, sent: sentBuffer)
                    DispatchQueue.concurrentPerform(iterations: burstSharers) { _ in burst.sendParts() }
                }
            }
            for index in sends.indices {
                sends[index].storage.release()
                sending[index].outbox.moveReaderIndex(forwardBy: sent[index])
                sending[index].noteWritten(sent[index])
            }
        }
        // Only now may channels run code: a write that fails reads the socket first, and what
        // it reads can be delivered into any of these outboxes.
        for connection in taken {
            connection.finishFlush(sent: 0)
        }
    }
}

/// One direct send of a shared burst: an outbox's bytes, kept alive by `storage`.
private struct DirectSend {
    let socket: SystemPackage.FileDescriptor
    let bytes: UnsafeRawBufferPointer
    let storage: Unmanaged<AnyObject>
}

/// The burst as the sharing threads see it: plain values, no references counted. Each thread
/// takes parts of `Broker.sendsPerPart` sends until none is left. Unchecked: a part's sends and
/// results are touched by the one thread that took it, and `concurrentPerform` returns only
/// when every thread is done.
private struct SharedBurst: @unchecked Sendable {
    let sends: UnsafeBufferPointer<DirectSend>
    let sent: UnsafeMutableBufferPointer<Int>
    let nextPart = PartCounter()

    func sendParts() {
        while true {
            let start = nextPart.value.wrappingAdd(1, ordering: .relaxed).oldValue * Broker.sendsPerPart
            guard start < sends.count else { return }
            for index in start..<min(start + Broker.sendsPerPart, sends.count) {
                sent[index] = sends[index].socket.sendWithoutWaiting(sends[index].bytes)
            }
        }
    }
}

private final class PartCounter: Sendable {
    let value = Atomic<Int>(0)
}
