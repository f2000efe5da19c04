import NIOCore

/// One delivery in a batch: the recipient's login and the bytes, each after a 32-bit length.
///
/// Batches travel in a `bytea` column, never in a NOTIFY payload (a notification only rings the
/// peer's bell), so any bytes go through as they are: NUL, quotes, backslashes, invalid UTF-8 even.
enum BatchRecord {
    static let overhead = 8

    static func size(login: Int, delivery: Int) -> Int { overhead + login + delivery }

    static func write(login: ByteBuffer, delivery: UnsafeRawBufferPointer, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(login.readableBytes))
        buffer.writeImmutableBuffer(login)
        buffer.writeInteger(UInt32(delivery.count))
        buffer.writeBytes(delivery)
    }

    /// The next record, or nil at the end (or at a truncated record, which a batch from our own
    /// writer never holds).
    static func read(from buffer: inout ByteBuffer) -> (login: ByteBuffer, delivery: ByteBuffer)? {
        guard let loginLength = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self),
            let login = buffer.getSlice(at: buffer.readerIndex + 4, length: Int(loginLength)),
            let deliveryLength = buffer.getInteger(
                at: buffer.readerIndex + 4 + Int(loginLength), as: UInt32.self),
            let delivery = buffer.getSlice(
                at: buffer.readerIndex + 8 + Int(loginLength), length: Int(deliveryLength))
        else { return nil }
        buffer.moveReaderIndex(forwardBy: 8 + Int(loginLength) + Int(deliveryLength))
        return (login, delivery)
    }

    /// How many bytes from the start of `buffer` hold whole records adding up to at most `limit`
    /// bytes (at least one record, however large), and how many records that is.
    static func prefix(of buffer: ByteBuffer, upTo limit: Int) -> (bytes: Int, records: Int) {
        var offset = 0
        var records = 0
        let available = buffer.readableBytes
        while offset < available {
            let at = buffer.readerIndex + offset
            let loginLength = Int(buffer.getInteger(at: at, as: UInt32.self)!)
            let deliveryLength = Int(buffer.getInteger(at: at + 4 + loginLength, as: UInt32.self)!)
            let size = overhead + loginLength + deliveryLength
            if records > 0 && offset + size > limit { break }
            offset += size
            records += 1
        }
        return (offset, records)
    }
}
