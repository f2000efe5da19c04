// Byte-level text helpers. The server parses every line straight out of its receive buffer, so
// these work on raw bytes and index ranges instead of building Strings.

/// The ranges of a line's bytes that the protocol looks at, always relative to one buffer.
public typealias ByteRange = Range<Int>

public enum Bytes {
    /// True when `bytes` is well-formed UTF-8. Pure ASCII, the common case, is checked eight bytes
    /// at a time; anything else goes through the standard library's validator.
    @inlinable
    public static func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let count = bytes.count
        var index = 0
        while index + 8 <= count {
            if bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 {
                return validateSlow(UnsafeRawBufferPointer(rebasing: bytes[index...]))
            }
            index += 8
        }
        while index < count {
            if bytes[index] >= 0x80 {
                return validateSlow(UnsafeRawBufferPointer(rebasing: bytes[index...]))
            }
            index += 1
        }
        return true
    }

    @usableFromInline
    static func validateSlow(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var iterator = bytes.makeIterator()
        var parser = Unicode.UTF8.ForwardParser()
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }

    /// `range` without leading and trailing white space: the Unicode White_Space characters, the
    /// same set Rust's `str::trim` removes, so our trimming matches the tutorial's byte for byte.
    /// Assumes the bytes are valid UTF-8.
    @inlinable
    public static func trimmed(_ bytes: UnsafeRawBufferPointer, _ range: ByteRange) -> ByteRange {
        var lower = range.lowerBound
        var upper = range.upperBound
        while lower < upper {
            let width = whitespaceWidth(bytes, startingAt: lower, end: upper)
            if width == 0 { break }
            lower += width
        }
        while lower < upper {
            let width = whitespaceWidth(bytes, endingAt: upper, start: lower)
            if width == 0 { break }
            upper -= width
        }
        return lower..<upper
    }

    /// The byte length of the white space character starting at `index`, or 0 if there is none.
    @inlinable
    static func whitespaceWidth(_ bytes: UnsafeRawBufferPointer, startingAt index: Int, end: Int) -> Int {
        let first = bytes[index]
        if first < 0x80 { return isASCIIWhitespace(first) ? 1 : 0 }
        for width in 2...3 where index + width <= end {
            if isMultibyteWhitespace(bytes, index..<index + width) { return width }
        }
        return 0
    }

    /// The byte length of the white space character ending just before `end`, or 0 if there is none.
    @inlinable
    static func whitespaceWidth(_ bytes: UnsafeRawBufferPointer, endingAt end: Int, start: Int) -> Int {
        let last = bytes[end - 1]
        if last < 0x80 { return isASCIIWhitespace(last) ? 1 : 0 }
        for width in 2...3 where end - width >= start {
            if isMultibyteWhitespace(bytes, end - width..<end) { return width }
        }
        return 0
    }

    @inlinable
    static func isASCIIWhitespace(_ byte: UInt8) -> Bool {
        // U+0009...U+000D and U+0020.
        byte == 0x20 || (byte >= 0x09 && byte <= 0x0D)
    }

    /// U+0085, U+00A0, U+1680, U+2000...U+200A, U+2028, U+2029, U+202F, U+205F and U+3000.
    @usableFromInline
    static func isMultibyteWhitespace(_ bytes: UnsafeRawBufferPointer, _ range: ByteRange) -> Bool {
        let b0 = bytes[range.lowerBound]
        let b1 = bytes[range.lowerBound + 1]
        if range.count == 2 {
            return b0 == 0xC2 && (b1 == 0x85 || b1 == 0xA0)
        }
        let b2 = bytes[range.lowerBound + 2]
        switch (b0, b1) {
        case (0xE1, 0x9A): return b2 == 0x80
        case (0xE2, 0x80): return b2 <= 0x8A || b2 == 0xA8 || b2 == 0xA9 || b2 == 0xAF
        case (0xE2, 0x81): return b2 == 0x9F
        case (0xE3, 0x80): return b2 == 0x80
        default: return false
        }
    }

    /// The index of the first `byte` in `range`, found with `memchr`.
    @inlinable
    public static func firstIndex(of byte: UInt8, in bytes: UnsafeRawBufferPointer, _ range: ByteRange)
        -> Int?
    {
        guard !range.isEmpty, let base = bytes.baseAddress else { return nil }
        guard let found = memchr(base + range.lowerBound, Int32(byte), range.count) else { return nil }
        return base.distance(to: UnsafeRawPointer(found))
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
