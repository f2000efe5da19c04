import NIOCore

/// Deliveries from one event loop to connections on another, collected during a loop iteration
/// and handed over in one task at its end, so a busy pair of loops costs one wake-up per
/// iteration, not one per message. Order holds: a sender lives on one loop, its messages to a
/// loop travel in one batch after another, in the order written.
///
/// Layout of one entry: the delivery's length and its bytes, the number of recipients, then each
/// recipient's slot and generation (all `UInt32`), so a message to many people on that loop
/// travels once.
struct LoopMail {
    private(set) var batch = ByteBuffer()

    var isEmpty: Bool { batch.readableBytes == 0 }

    /// Adds `delivery` for `recipients`, who all live on this mail's loop.
    mutating func add(_ delivery: UnsafeRawBufferPointer, to recipients: ArraySlice<RemoteRecipient>) {
        batch.writeInteger(UInt32(delivery.count))
        batch.writeBytes(delivery)
        batch.writeInteger(UInt32(recipients.count))
        for recipient in recipients {
            batch.writeInteger(UInt32(recipient.slot))
            batch.writeInteger(recipient.generation)
        }
    }

    var byteCount: Int { batch.readableBytes }

    /// The batch so far, leaving this one empty.
    mutating func take() -> ByteBuffer {
        defer { batch = ByteBuffer() }
        return batch
    }

    /// Calls `deliver` for each delivery in `batch` with its recipients' slots and generations.
    static func open(
        _ batch: inout ByteBuffer,
        _ deliver: (UnsafeRawBufferPointer, _ slot: Int, _ generation: UInt32) -> Void
    ) {
        while let length = batch.readInteger(as: UInt32.self),
            let delivery = batch.readSlice(length: Int(length)),
            let count = batch.readInteger(as: UInt32.self)
        {
            delivery.withUnsafeReadableBytes { bytes in
                for _ in 0..<count {
                    guard let slot = batch.readInteger(as: UInt32.self),
                        let generation = batch.readInteger(as: UInt32.self)
                    else { return }
                    deliver(bytes, Int(slot), generation)
                }
            }
        }
    }
}
