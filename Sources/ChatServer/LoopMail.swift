import NIOCore

/// Deliveries from one event loop to connections on another, collected during a loop iteration
/// and handed over in one task at its end, so a busy pair of loops costs one wake-up per
/// iteration, not one per message. Order holds: a sender lives on one loop, its messages to a
/// loop travel in one batch after another, in the order written.
///
/// Layout of one entry, in this machine's byte order (the batch never leaves the process): the
/// delivery's length and its bytes, the number of recipients, then each recipient's slot and
/// generation (all `UInt32`), so a message to many people on that loop travels once. Written
/// and read through raw pointers in one go per entry: NIO's integer reads and writes, called
/// field by field, were 7% of the server's time with two loops at 7M deliveries/s (`perf
/// record`), most of it run-time exclusivity checks in NIO's own code.
struct LoopMail {
    private(set) var batch = ByteBuffer()

    var isEmpty: Bool { batch.readableBytes == 0 }

    /// Adds `delivery` for the recipients `addresses` names (slot and generation of each,
    /// interleaved), who all live on this mail's loop.
    mutating func add(_ delivery: UnsafeRawBufferPointer, to addresses: [UInt32]) {
        addresses.withUnsafeBytes { add(delivery, count: addresses.count / 2, addresses: $0) }
    }

    /// Adds `delivery` for one recipient on this mail's loop.
    mutating func add(_ delivery: UnsafeRawBufferPointer, slot: Int, generation: UInt32) {
        withUnsafeBytes(of: (UInt32(slot), generation)) { add(delivery, count: 1, addresses: $0) }
    }

    private mutating func add(
        _ delivery: UnsafeRawBufferPointer,
        count: Int,
        addresses: UnsafeRawBufferPointer
    ) {
        let field = MemoryLayout<UInt32>.size
        let size = field + delivery.count + field + addresses.count
        batch.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { space in
            var offset = 0
            func put(_ bytes: UnsafeRawBufferPointer) {
                if !bytes.isEmpty {
                    (space.baseAddress! + offset).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
                }
                offset += bytes.count
            }
            withUnsafeBytes(of: UInt32(delivery.count)) { put($0) }
            put(delivery)
            withUnsafeBytes(of: UInt32(count)) { put($0) }
            put(addresses)
            return size
        }
    }

    /// The batch so far, leaving this one empty.
    mutating func take() -> ByteBuffer {
        defer { batch = ByteBuffer() }
        return batch
    }

    /// Calls `deliver` for each delivery in `batch` with its recipients' slots and generations.
    static func open(
        _ batch: ByteBuffer,
        _ deliver: (UnsafeRawBufferPointer, _ slot: Int, _ generation: UInt32) -> Void
    ) {
        batch.withUnsafeReadableBytes { bytes in
            let field = MemoryLayout<UInt32>.size
            var offset = 0
            func take() -> UInt32? {
                guard offset + field <= bytes.count else { return nil }
                defer { offset += field }
                return bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
            }
            while let length = take().map(Int.init), offset + length <= bytes.count {
                let delivery = UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + length])
                offset += length
                guard let count = take() else { return }
                for _ in 0..<count {
                    guard let slot = take(), let generation = take() else { return }
                    deliver(delivery, Int(slot), generation)
                }
            }
        }
    }
}
