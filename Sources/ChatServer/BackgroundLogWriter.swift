import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SystemPackage
import SystemSupport

/// Log output that never blocks the thread that logs. swift-log's `StreamLogHandler` formats each
/// line as usual, but hands it to a bounded queue instead of writing it; one thread of its own
/// writes the queue to the descriptor. When the output cannot keep up (a stderr pipe whose reader
/// stalls: measured, a stalled pipe stopped the whole server within 3,000 connections), lines
/// that do not fit are dropped and counted, and a later line says how many. An event loop pays a
/// lock and a copy per line, never a system call.
public final class BackgroundLogWriter: Sendable {
    /// Bytes of formatted lines that may wait: about 2,000 lines, a burst of a thousand
    /// connections' worth.
    public static let defaultCapacityBytes = 256 * 1024

    private let descriptor: CInt
    private let capacityBytes: Int
    private let queue: NIOLockedValueBox<Queue>
    /// Wakes the writer: true while it has something to do.
    private let work = ConditionLock(value: false)
    /// True once the writer has written everything and stopped.
    private let finished = ConditionLock(value: false)
    private let thread = NIOThreadPool(numberOfThreads: 1)

    struct Queue {
        var lines: [String] = []
        var bytes = 0
        var dropped = 0
        var isFinishing = false
    }

    public init(descriptor: CInt, capacityBytes: Int = defaultCapacityBytes) {
        self.descriptor = descriptor
        self.capacityBytes = capacityBytes
        self.queue = NIOLockedValueBox(Queue())
        thread.start()
        thread.submit { [self] _ in drain() }
    }

    /// A handler for `LoggingSystem.bootstrap` that writes through this writer.
    public func handler(label: String) -> StreamLogHandler {
        StreamLogHandler(label: label, stream: QueuedStream(writer: self))
    }

    /// Writes what is queued, waiting at most `timeout` for an output that does not take it, and
    /// stops the writer. Lines logged afterwards are dropped.
    public func finish(timeout: TimeAmount = .seconds(2)) {
        let wasFinishing = queue.withLockedValue { queue in
            defer { queue.isFinishing = true }
            return queue.isFinishing
        }
        guard !wasFinishing else { return }
        work.lock()
        work.unlock(withValue: true)
        let seconds = Double(timeout.nanoseconds) / 1e9
        if finished.lock(whenValue: true, timeoutSeconds: seconds) { finished.unlock() }
        thread.shutdownGracefully { _ in }
    }

    fileprivate func enqueue(_ line: String) {
        let queued = queue.withLockedValue { queue -> Bool in
            guard !queue.isFinishing, queue.bytes + line.utf8.count <= capacityBytes else {
                queue.dropped += 1
                return false
            }
            queue.lines.append(line)
            queue.bytes += line.utf8.count
            return true
        }
        guard queued else { return }
        work.lock()
        work.unlock(withValue: true)
    }

    /// The writer thread: takes everything queued at once and writes it in one go, then says
    /// how many lines were dropped since the last time it said so.
    private func drain() {
        let reporter = Logger(label: "a-chat.log") { [descriptor] label in
            StreamLogHandler(label: label, stream: DirectStream(descriptor: descriptor))
        }
        while true {
            work.lock(whenValue: true)
            work.unlock(withValue: false)
            let taken = queue.withLockedValue { queue in
                defer { queue = Queue(isFinishing: queue.isFinishing) }
                return queue
            }
            var batch: [UInt8] = []
            batch.reserveCapacity(taken.bytes)
            for line in taken.lines { batch += line.utf8 }
            writeAll(batch, to: descriptor)
            if taken.dropped > 0 {
                reporter.warning(
                    "log lines dropped: the log output could not keep up",
                    metadata: ["dropped": "\(taken.dropped)"])
            }
            if taken.isFinishing && queue.withLockedValue({ $0.lines.isEmpty }) { break }
        }
        finished.lock()
        finished.unlock(withValue: true)
    }
}

/// What `StreamLogHandler` writes its lines to: the writer's queue.
private struct QueuedStream: TextOutputStream, Sendable {
    let writer: BackgroundLogWriter

    mutating func write(_ string: String) {
        writer.enqueue(string)
    }
}

/// Straight to the descriptor, for the writer thread's own lines.
private struct DirectStream: TextOutputStream, Sendable {
    let descriptor: CInt

    mutating func write(_ string: String) {
        writeAll(Array(string.utf8), to: descriptor)
    }
}

/// An output that fails is not worth stopping the server for: its lines are lost.
private func writeAll(_ bytes: [UInt8], to descriptor: CInt) {
    try? bytes.withUnsafeBytes { try FileDescriptor(rawValue: descriptor).writeFully($0) }
}
