import NIOCore

/// One unit of the line protocol as it comes off the wire.
public enum FramedLine: Equatable, Sendable {
    /// A complete line without its `\n` (and without a `\r` just before it).
    case line(ByteBuffer)
    /// A line longer than the limit. Its bytes were thrown away up to the next `\n`; this is
    /// reported once per such line, when the limit is crossed.
    case overlong
}

/// Splits a byte stream into lines and never holds more than `maximumLineBytes` (plus the `\r`
/// and one read's worth) of a single line: past the limit it reports `.overlong` and skips to
/// the next `\n`, so one endless line cannot grow memory and the connection stays usable.
public struct LineFramer: ByteToMessageDecoder {
    public typealias InboundOut = FramedLine

    /// The contract's line limit unless a server is set otherwise (`--max-line-bytes`): the
    /// server's default, the bench's longest message line, the full-screen client's refusal.
    public static let defaultMaximumLineBytes = 64 * 1024

    /// May change between lines: the server reads a first line (a login) with a smaller limit.
    public var maximumLineBytes: Int {
        didSet { precondition(maximumLineBytes > 0 && maximumLineBytes < Int.max / 2, "bad line limit") }
    }
    /// Inside an overlong line: discard until its `\n`.
    private var isDiscarding = false
    /// How far the current partial line has already been searched for `\n`, so a long line that
    /// arrives in many small reads is scanned once, not once per read.
    private var scannedBytes = 0

    public init(maximumLineBytes: Int) {
        precondition(maximumLineBytes > 0 && maximumLineBytes < Int.max / 2, "bad line limit")
        self.maximumLineBytes = maximumLineBytes
    }

    /// The cumulation limit to give `ByteToMessageHandler`: the framer never lets its buffer grow
    /// past this, so the handler's own limit only guards against a bug here.
    public var handlerBufferLimit: Int { maximumLineBytes + 1 }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws
        -> DecodingState
    {
        guard let event = nextEvent(&buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(event))
        return .continue
    }

    public mutating func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws -> DecodingState {
        guard let event = nextEvent(&buffer, atEndOfInput: true) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(event))
        return .continue
    }

    /// Consumes bytes from `buffer` and returns the next event, or nil when more bytes are needed.
    /// At the end of input a last line without `\n` still counts, as with a buffered reader's
    /// `lines()`. Public so that code that reads its own buffers (the server's connections, the
    /// benchmark, tests) frames exactly the same way.
    public mutating func nextEvent(_ buffer: inout ByteBuffer, atEndOfInput: Bool = false) -> FramedLine? {
        while buffer.readableBytes > 0 {
            let newline = buffer.withUnsafeReadableBytes { bytes in
                Bytes.firstIndex(of: UInt8(ascii: "\n"), in: bytes, scannedBytes..<bytes.count)
            }
            if isDiscarding {
                guard let newline else {
                    buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
                    if atEndOfInput { reset() }
                    return nil
                }
                buffer.moveReaderIndex(forwardBy: newline + 1)
                reset()
                continue
            }
            guard let newline else {
                if buffer.readableBytes > maximumLineBytes + 1 {
                    buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
                    scannedBytes = 0
                    isDiscarding = !atEndOfInput
                    return .overlong
                }
                if atEndOfInput {
                    var line = buffer.readSlice(length: buffer.readableBytes)!
                    reset()
                    Self.dropCarriageReturn(&line)
                    return line.readableBytes > maximumLineBytes ? .overlong : .line(line)
                }
                scannedBytes = buffer.readableBytes
                return nil
            }
            var line = buffer.readSlice(length: newline)!
            buffer.moveReaderIndex(forwardBy: 1)
            scannedBytes = 0
            Self.dropCarriageReturn(&line)
            return line.readableBytes > maximumLineBytes ? .overlong : .line(line)
        }
        return nil
    }

    private mutating func reset() {
        isDiscarding = false
        scannedBytes = 0
    }

    private static func dropCarriageReturn(_ line: inout ByteBuffer) {
        if line.readableBytes > 0,
            line.getInteger(at: line.writerIndex - 1, as: UInt8.self) == UInt8(ascii: "\r")
        {
            line.moveWriterIndex(to: line.writerIndex - 1)
        }
    }
}
