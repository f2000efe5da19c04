#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The body every benchmark message carries, so that a recipient can check a delivery on its own:
/// who sent it, its place in that sender's sequence, when it was sent, and that no byte changed.
///
/// Layout, all ASCII so the server's UTF-8 check and trimming leave it alone:
/// `SSSSS` sender index, `QQQQQQQQ` sequence number, `TTTTTTTTTTTT` send time in nanoseconds since
/// the run's epoch (all lower-case hex, fixed width), then letters up to the body size, starting
/// at a place in the alphabet that depends on the sequence number so a shifted or swapped
/// payload does not pass.
public struct MessageFormat: Sendable {
    public static let senderDigits = 5
    public static let sequenceDigits = 8
    public static let timeDigits = 12
    public static let headerBytes = senderDigits + sequenceDigits + timeDigits
    public static let maximumSenders = 1 << (4 * senderDigits)
    public static let maximumSequence = 1 << (4 * sequenceDigits)

    public let bodyBytes: Int
    /// The alphabet repeated once more than the padding needs, so every rotation is one slice.
    private let pattern: [UInt8]

    public init(bodyBytes: Int) {
        precondition(
            bodyBytes >= Self.headerBytes, "a body holds at least its \(Self.headerBytes)-byte header")
        self.bodyBytes = bodyBytes
        let paddingBytes = bodyBytes - Self.headerBytes
        self.pattern = (0..<(paddingBytes + 26)).map { UInt8(ascii: "a") + UInt8($0 % 26) }
    }

    public var paddingBytes: Int { bodyBytes - Self.headerBytes }

    /// Writes the `bodyBytes` bytes of one body at `destination`.
    public func writeBody(sender: Int, sequence: Int, time: UInt64, to destination: UnsafeMutableRawPointer) {
        var cursor = destination
        Self.writeHex(UInt64(sender), digits: Self.senderDigits, to: &cursor)
        Self.writeHex(UInt64(sequence), digits: Self.sequenceDigits, to: &cursor)
        Self.writeHex(time, digits: Self.timeDigits, to: &cursor)
        withPadding(for: sequence) { padding in
            cursor.copyMemory(from: padding.baseAddress!, byteCount: padding.count)
        }
    }

    /// The header of the body at `body`, or nil if it is not one this format wrote.
    public func parseHeader(_ body: UnsafeRawPointer) -> (sender: Int, sequence: Int, time: UInt64)? {
        var cursor = body
        guard let sender = Self.readHex(digits: Self.senderDigits, from: &cursor),
            let sequence = Self.readHex(digits: Self.sequenceDigits, from: &cursor),
            let time = Self.readHex(digits: Self.timeDigits, from: &cursor)
        else { return nil }
        return (Int(sender), Int(sequence), time)
    }

    /// True when the padding of the body at `body` is the one `sequence` gets.
    public func paddingMatches(_ body: UnsafeRawPointer, sequence: Int) -> Bool {
        withPadding(for: sequence) { padding in
            padding.isEmpty
                || memcmp(body + Self.headerBytes, padding.baseAddress!, padding.count) == 0
        }
    }

    func withPadding<T>(for sequence: Int, _ body: (UnsafeRawBufferPointer) -> T) -> T {
        pattern.withUnsafeBytes { all in
            let start = sequence % 26
            return body(UnsafeRawBufferPointer(rebasing: all[start..<start + paddingBytes]))
        }
    }

    static func writeHex(_ value: UInt64, digits: Int, to cursor: inout UnsafeMutableRawPointer) {
        var shift = 4 * (digits - 1)
        for offset in 0..<digits {
            let nibble = UInt8(truncatingIfNeeded: value >> UInt64(shift)) & 0xF
            cursor.storeBytes(
                of: nibble < 10 ? nibble &+ 48 : nibble &+ 87, toByteOffset: offset, as: UInt8.self)
            shift -= 4
        }
        cursor += digits
    }

    static func readHex(digits: Int, from cursor: inout UnsafeRawPointer) -> UInt64? {
        var value: UInt64 = 0
        for offset in 0..<digits {
            let byte = cursor.load(fromByteOffset: offset, as: UInt8.self)
            let nibble: UInt8
            if byte &- 48 < 10 {
                nibble = byte &- 48
            } else if byte &- 97 < 6 {
                nibble = byte &- 87
            } else {
                return nil
            }
            value = value << 4 | UInt64(nibble)
        }
        cursor += digits
        return value
    }
}
