import ChatProtocol
import NIOCore

/// `LineFramer` against a plain model of the protocol's framing: the same events whatever the
/// limit and however the stream is cut into reads, and never more than a line's worth held.
///
/// Input: a byte for the line limit (1...64, so that limits are crossed often), a byte that seeds
/// the read sizes (1...16 bytes), then the stream.
enum FramerTarget {
    static func run(_ input: UnsafeBufferPointer<UInt8>) {
        guard input.count >= 2 else { return }
        let limit = Int(input[0]) % 64 + 1
        var seed = UInt32(input[1]) | 1
        let stream = Array(input[2...])

        var framer = LineFramer(maximumLineBytes: limit)
        var buffer = ByteBuffer()
        var events: [Event] = []
        var offset = 0
        while offset < stream.count {
            seed = seed &* 1_103_515_245 &+ 12_345
            let size = min(Int(seed >> 16) % 16 + 1, stream.count - offset)
            buffer.writeBytes(stream[offset..<offset + size])
            offset += size
            while let event = framer.nextEvent(&buffer) { events.append(Event(event, limit: limit)) }
            require(
                buffer.readableBytes <= limit + 1,
                "framer holds \(buffer.readableBytes) bytes with a limit of \(limit)")
            buffer.discardReadBytes()
        }
        while let event = framer.nextEvent(&buffer, atEndOfInput: true) {
            events.append(Event(event, limit: limit))
        }
        require(buffer.readableBytes == 0, "framer left \(buffer.readableBytes) bytes at the end of input")

        let expected = model(stream, limit: limit)
        require(events == expected, "framer gave \(events), the model \(expected), limit \(limit)")
    }

    enum Event: Equatable, CustomStringConvertible {
        case line([UInt8])
        case overlong

        init(_ framed: FramedLine, limit: Int) {
            switch framed {
            case .line(let line):
                require(
                    line.readableBytes <= limit,
                    "a line of \(line.readableBytes) bytes passed a limit of \(limit)")
                self = .line(Array(line.readableBytesView))
            case .overlong:
                self = .overlong
            }
        }

        var description: String {
            switch self {
            case .line(let bytes): return "line(\(bytes.count))"
            case .overlong: return "overlong"
            }
        }
    }

    /// Lines end at `\n`, a `\r` before it is dropped, a last line without `\n` counts unless
    /// empty, and a line longer than the limit is one `.overlong`.
    static func model(_ stream: [UInt8], limit: Int) -> [Event] {
        let segments = stream.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        var events: [Event] = []
        for (index, segment) in segments.enumerated() {
            let isLast = index == segments.count - 1
            if isLast && segment.isEmpty { continue }
            let line = segment.last == UInt8(ascii: "\r") ? segment.dropLast() : segment
            events.append(line.count > limit ? .overlong : .line(Array(line)))
        }
        return events
    }
}
