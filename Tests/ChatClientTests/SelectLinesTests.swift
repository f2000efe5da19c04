import ChatClient
import Synchronization
import Testing

/// The select loop with fake streams: no sockets, no stdin.
@Suite struct SelectLinesTests {
    final class Log: Sendable {
        let entries = Mutex<[String]>([])
        func add(_ entry: String) { entries.withLock { $0.append(entry) } }
        var all: [String] { entries.withLock { $0 } }
    }

    @Test func serverEndingFirstCancelsTheInputSide() async throws {
        let log = Log()
        // Input that never ends on its own: only cancellation can stop its task.
        let (input, inputSink) = AsyncStream.makeStream(of: String.self)
        inputSink.yield("typed")
        let end = try await selectLines(
            server: ["one", "two"].finiteStream,
            input: input,
            afterInputEnds: .drainServer,
            onServerLine: { log.add("server \($0)") },
            onInputLine: { log.add("input \($0)") },
            onInputEnd: { log.add("input ended") }
        )
        #expect(end == .serverClosed)
        #expect(log.all.filter { $0.hasPrefix("server") } == ["server one", "server two"])
        #expect(!log.all.contains("input ended"))
        inputSink.finish()
    }

    @Test func inputEndingFirstStopsWhenAskedTo() async throws {
        let log = Log()
        let (server, serverSink) = AsyncStream.makeStream(of: String.self)
        let end = try await selectLines(
            server: server,
            input: ["a", "b"].finiteStream,
            afterInputEnds: .stop,
            onServerLine: { log.add("server \($0)") },
            onInputLine: { log.add("input \($0)") },
            onInputEnd: { log.add("input ended") }
        )
        #expect(end == .inputEnded)
        #expect(log.all == ["input a", "input b", "input ended"])
        serverSink.finish()
    }

    @Test func inputEndingFirstDrainsTheServerWhenAskedTo() async throws {
        let log = Log()
        let (server, serverSink) = AsyncStream.makeStream(of: String.self)
        let end = try await selectLines(
            server: server,
            input: ["bye"].finiteStream,
            afterInputEnds: .drainServer,
            onServerLine: { log.add("server \($0)") },
            onInputLine: { log.add("input \($0)") },
            onInputEnd: {
                log.add("input ended")
                // The server answers the end of input, then closes: both must be seen.
                serverSink.yield("last words")
                serverSink.finish()
            }
        )
        #expect(end == .inputEnded)
        #expect(log.all == ["input bye", "input ended", "server last words"])
    }

    @Test func linesArriveInOrderFromBothSides() async throws {
        let log = Log()
        let end = try await selectLines(
            server: (1...100).map(String.init).finiteStream,
            input: (1...100).map(String.init).finiteStream,
            afterInputEnds: .drainServer,
            onServerLine: { log.add("s\($0)") },
            onInputLine: { log.add("i\($0)") }
        )
        #expect(end == .inputEnded || end == .serverClosed)
        let server = log.all.filter { $0.hasPrefix("s") }
        #expect(server == (1...100).map { "s\($0)" })
        let input = log.all.filter { $0.hasPrefix("i") }
        #expect(input == Array((1...100).map { "i\($0)" }.prefix(input.count)))
    }

    struct Broken: Error {}

    @Test func anErrorOnEitherSideEndsTheRace() async throws {
        let (input, inputSink) = AsyncStream.makeStream(of: String.self)
        await #expect(throws: Broken.self) {
            try await selectLines(
                server: ["x"].finiteStream,
                input: input,
                afterInputEnds: .drainServer,
                onServerLine: { _ in throw Broken() },
                onInputLine: { _ in }
            )
        }
        inputSink.finish()
    }
}

extension Array where Element: Sendable {
    /// The elements, then the end.
    var finiteStream: AsyncStream<Element> {
        AsyncStream { continuation in
            for element in self { continuation.yield(element) }
            continuation.finish()
        }
    }
}
