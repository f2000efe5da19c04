import ChatProtocol
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The lines of standard input, framed like the socket's.
///
/// A pipe, a socket or a terminal is read through `NIOPipeBootstrap`, so waiting for input
/// blocks no thread and cancelling the wait is immediate. A regular file (or `/dev/null`) cannot
/// be registered with epoll; it never blocks for long, so it is read directly.
public enum StandardInputLines: AsyncSequence, Sendable {
    case pipe(NIOAsyncChannelInboundStream<FramedLine>)
    case file(FileLines)

    /// Runs `body` with the lines of file descriptor `descriptor` (stdin unless told otherwise)
    /// and releases everything it opened when `body` returns.
    public static func withLines<Result: Sendable>(
        of descriptor: CInt = STDIN_FILENO,
        maximumLineBytes: Int,
        _ body: (StandardInputLines) async throws -> Result
    ) async throws -> Result {
        var status = stat()
        guard fstat(descriptor, &status) == 0, isPollable(status.st_mode, descriptor) else {
            return try await body(
                .file(FileLines(descriptor: descriptor, maximumLineBytes: maximumLineBytes)))
        }
        let channel = try await NIOPipeBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .takingOwnershipOfDescriptor(input: try privateDescriptor(for: descriptor)) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let framer = LineFramer(maximumLineBytes: maximumLineBytes)
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(framer, maximumBufferSize: framer.handlerBufferLimit))
                    return try NIOAsyncChannel<FramedLine, Never>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound in try await body(.pipe(inbound)) }
    }

    private static func isPollable(_ mode: mode_t, _ descriptor: CInt) -> Bool {
        switch mode & S_IFMT {
        case S_IFIFO, S_IFSOCK: return true
        case S_IFCHR: return isatty(descriptor) == 1
        default: return false
        }
    }

    /// A descriptor NIO may own, close and make non-blocking. O_NONBLOCK belongs to the open file
    /// description, which a terminal shares with the shell and with stdout and stderr: a dup
    /// would leave the shell's terminal non-blocking after we exit, so a terminal is opened anew.
    private static func privateDescriptor(for descriptor: CInt) throws -> CInt {
        if isatty(descriptor) == 1, let name = ttyname(descriptor) {
            let reopened = open(name, O_RDONLY | O_NOCTTY | O_CLOEXEC)
            if reopened >= 0 { return reopened }
        }
        let duplicate = fcntl(descriptor, F_DUPFD_CLOEXEC, 3)
        guard duplicate >= 0 else { throw IOError(errnoCode: errno, reason: "dup") }
        return duplicate
    }

    public enum AsyncIterator: AsyncIteratorProtocol {
        case pipe(NIOAsyncChannelInboundStream<FramedLine>.AsyncIterator)
        case file(FileLines.AsyncIterator)

        public mutating func next() async throws -> FramedLine? {
            switch self {
            case .pipe(var iterator):
                defer { self = .pipe(iterator) }
                return try await iterator.next()
            case .file(var iterator):
                defer { self = .file(iterator) }
                return try await iterator.next()
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        switch self {
        case .pipe(let stream): return .pipe(stream.makeAsyncIterator())
        case .file(let lines): return .file(lines.makeAsyncIterator())
        }
    }
}

/// The lines of a descriptor that never blocks for long, read with plain `read` calls and framed
/// by `LineFramer`.
public struct FileLines: AsyncSequence, Sendable {
    public typealias Element = FramedLine
    let descriptor: CInt
    let maximumLineBytes: Int

    public init(descriptor: CInt, maximumLineBytes: Int) {
        self.descriptor = descriptor
        self.maximumLineBytes = maximumLineBytes
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(descriptor: descriptor, framer: LineFramer(maximumLineBytes: maximumLineBytes))
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let descriptor: CInt
        var framer: LineFramer
        var buffer = ByteBuffer()
        var isAtEnd = false

        init(descriptor: CInt, framer: LineFramer) {
            self.descriptor = descriptor
            self.framer = framer
        }

        public mutating func next() async throws -> FramedLine? {
            while true {
                if let event = framer.nextEvent(&buffer, atEndOfInput: isAtEnd) { return event }
                if isAtEnd { return nil }
                if Task.isCancelled { return nil }
                try readChunk()
            }
        }

        private mutating func readChunk() throws {
            buffer.discardReadBytes()
            let count = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 64 * 1024) { space in
                while true {
                    let count = read(descriptor, space.baseAddress, space.count)
                    if count >= 0 { return count }
                    if errno != EINTR { throw IOError(errnoCode: errno, reason: "read") }
                }
            }
            if count == 0 { isAtEnd = true }
        }
    }
}
