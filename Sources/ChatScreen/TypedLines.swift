import Synchronization

/// Where the UI sends the lines the user enters: the current session's stream. The UI thread
/// sends and swaps; the task that runs `FullScreenClient` finishes it once the UI is done.
final class TypedLines: Sendable {
    private let sink = Mutex<AsyncStream<String>.Continuation?>(nil)

    func send(_ line: String) {
        _ = sink.withLock { $0?.yield(line) }
    }

    /// A new stream for the next session; the old one is finished.
    func replace() -> AsyncStream<String> {
        let (lines, newSink) = AsyncStream.makeStream(of: String.self)
        let old = sink.withLock { sink in
            defer { sink = newSink }
            return sink
        }
        old?.finish()
        return lines
    }

    func finish() {
        sink.withLock { $0 }?.finish()
    }
}
