import Dispatch
import NIOCore
import SystemPackage
import SystemSupport

/// A message to a large group is a burst of small writes all due at once: a thousand of them
/// take one loop about 7 ms, nearly all of it in the kernel. Where the machine has cores no loop
/// owns (`--event-loops` below the number of cores), the loop shares such a burst's system calls
/// with Dispatch's worker threads and waits for them: nothing else runs on the loop meanwhile, so
/// every connection, its outbox and its descriptor stay as they were when the burst began.
extension Broker {
    /// A message to at least this many of the loop's connections makes its writes a burst worth
    /// sharing. Throughput loads, where many senders each reach a few, never qualify: there a
    /// helper would only take the core the clients run on.
    static let sharedBurstRecipients = 256

    /// How many threads may share one burst: the cores per loop.
    static func burstSharers(eventLoops: Int) -> Int {
        max(1, System.coreCount / max(1, eventLoops))
    }

    func noteFanOut(_ recipients: Int) {
        if recipients >= Self.sharedBurstRecipients && burstSharers > 1 { isBurstPending = true }
    }

    /// Writes `due` as `flushOutboxes` would, the direct sends spread over `burstSharers` threads.
    func flushSharingTheBurst(_ due: [Connection]) {
        var sends: [(connection: Connection, send: DirectSend)] = []
        sends.reserveCapacity(due.count)
        for connection in due where connection.beginFlush() {
            guard let socket = connection.directSocket() else {
                connection.finishFlush(sent: 0)
                continue
            }
            // The storage is retained until the send is done, as NIO's own writes do.
            let send = connection.outbox.withUnsafeReadableBytesWithStorageManagement { bytes, storage in
                DirectSend(socket: socket, bytes: bytes, storage: storage.retain())
            }
            sends.append((connection, send))
        }
        statistics.burstShared()
        var sent = [Int](repeating: 0, count: sends.count)
        // More parts than threads, which take them as they come: a helper that wakes late
        // takes fewer, and the last recipient does not wait for it.
        let parts = min(burstSharers * 4, max(1, sends.count / 64))
        sends.withUnsafeBufferPointer { sendsBuffer in
            sent.withUnsafeMutableBufferPointer { sentBuffer in
                let work = SharedBurst(sends: sendsBuffer, sent: sentBuffer, parts: parts)
                DispatchQueue.concurrentPerform(iterations: parts) { work.send(part: $0) }
            }
        }
        for (index, (connection, send)) in sends.enumerated() {
            send.storage.release()
            connection.finishFlush(sent: sent[index])
        }
    }
}

/// One direct send of a shared burst: an outbox's bytes, kept alive by `storage`.
struct DirectSend {
    let socket: SystemPackage.FileDescriptor
    let bytes: UnsafeRawBufferPointer
    let storage: Unmanaged<AnyObject>
}

/// The burst as the sharing threads see it. Unchecked: each part reads its own slice of sends
/// and writes its own slice of results, and `concurrentPerform` returns only when all are done.
private struct SharedBurst: @unchecked Sendable {
    let sends: UnsafeBufferPointer<(connection: Connection, send: DirectSend)>
    let sent: UnsafeMutableBufferPointer<Int>
    let parts: Int

    func send(part: Int) {
        let range = sends.count * part / parts..<sends.count * (part + 1) / parts
        for index in range {
            sent[index] = sends[index].send.socket.sendWithoutWaiting(sends[index].send.bytes)
        }
    }
}
