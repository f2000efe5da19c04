/// A line a logged-in client sends: `to1, to2, ...: text`, split at its first `:`.
public enum MessageLine: Equatable, Sendable {
    /// Empty or only white space: ignored.
    case blank
    /// No `:` at all.
    case missingColon
    /// A `:`, but no name before it once the list is split and trimmed.
    case noRecipients
    /// `recipients` is the raw list before the `:` (walk it with `RecipientNames`); `text` is
    /// trimmed.
    case message(recipients: ByteRange, text: ByteRange)

    /// Parses a whole line of valid UTF-8, without its line ending.
    @inlinable
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> MessageLine {
        let whole = 0..<bytes.count
        if Bytes.trimmed(bytes, whole).isEmpty { return .blank }
        guard let colon = Bytes.firstIndex(of: UInt8(ascii: ":"), in: bytes, whole) else {
            return .missingColon
        }
        let recipients = 0..<colon
        var names = RecipientNames(bytes, recipients)
        guard names.next() != nil else { return .noRecipients }
        return .message(recipients: recipients, text: Bytes.trimmed(bytes, colon + 1..<bytes.count))
    }
}

/// The trimmed, non-empty names of a recipient list, in order and with repeats. It reads the
/// bytes in place, so it is only valid while they are.
public struct RecipientNames: Sequence, IteratorProtocol {
    @usableFromInline let bytes: UnsafeRawBufferPointer
    @usableFromInline var remaining: ByteRange

    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer, _ list: ByteRange) {
        self.bytes = bytes
        self.remaining = list
    }

    @inlinable
    public mutating func next() -> ByteRange? {
        while !remaining.isEmpty {
            let comma = Bytes.firstIndex(of: UInt8(ascii: ","), in: bytes, remaining) ?? remaining.upperBound
            let name = Bytes.trimmed(bytes, remaining.lowerBound..<comma)
            remaining = Swift.min(comma + 1, remaining.upperBound)..<remaining.upperBound
            if !name.isEmpty { return name }
        }
        return nil
    }
}
