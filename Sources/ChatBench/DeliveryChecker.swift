#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The logins of one run: `b<tag>-<i>` for the senders and `b<tag>-s<i>` for the slow readers.
/// The tag keeps two runs against one server from colliding with logins still being released.
public struct ClientNames: Sendable {
    public let tag: String

    public init(tag: String) {
        self.tag = tag
    }

    public func sender(_ index: Int) -> String { "b\(tag)-\(index)" }
    public func slowReader(_ index: Int) -> String { "b\(tag)-s\(index)" }

    /// A tag unlikely to repeat between runs: four base-36 digits of the clock and the pid.
    public static func freshTag() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let mixed = (UInt64(now.tv_nsec) / 1000 &+ UInt64(now.tv_sec) &* 1_000_003) ^ UInt64(getpid()) << 20
        let digits = String(mixed % 1_679_616, radix: 36)
        return String(repeating: "0", count: 4 - digits.count) + digits
    }
}

/// Checks every delivery a run's recipients receive, in place in their receive buffers.
///
/// The first `senders` of `clients` send; sender `s` sends `messages` messages to each of its
/// `recipients` successors in the ring of `clients`, so recipient `r` hears from the senders
/// among `r-1 ... r-recipients`. For each such (sender, recipient) pair it keeps the next
/// sequence number it expects and how many deliveries arrived, in flat arrays allocated once:
/// the hot path does not allocate.
///
/// A delivery whose sequence number is below the next one expected arrived after a later one
/// (late or duplicated): it counts as out of order. A gap alone is not out of order; if the
/// skipped messages never come, they are lost.
///
/// With several recipients per message it also times each message until its last recipient
/// has it (`completion`), as long as that takes at most `maximumTrackedMessages` counters.
///
/// The counters and the per-sender flow-control state live in raw memory, not in stored `var`s,
/// so the per-delivery path pays no dynamic exclusivity check and no reference counting.
public final class DeliveryChecker {
    public let clients: Int
    public let senders: Int
    public let recipients: Int
    public let messages: Int
    public let format: MessageFormat
    public let latency = LatencyHistogram()
    /// From sending a message to its last recipient having it; empty unless `tracksCompletion`.
    public let completion = LatencyHistogram()
    public static let maximumTrackedMessages = 1 << 24

    public var received: Int { tally.pointee.received }
    public var outOfOrder: Int { tally.pointee.outOfOrder }
    public var corrupt: Int { tally.pointee.corrupt }
    public var notices: Int { tally.pointee.notices }
    /// When the last delivery arrived, on the clock `check` is given.
    public var lastDeliveryTime: UInt64 { tally.pointee.lastDeliveryTime }

    struct Tally {
        var received = 0
        var outOfOrder = 0
        var corrupt = 0
        var notices = 0
        var lastDeliveryTime: UInt64 = 0
    }

    private let tally: UnsafeMutablePointer<Tally>
    /// Per sender: deliveries of its messages that recipients have not seen yet. The sender adds,
    /// `check` subtracts; the driver compares it with the window.
    let inFlight: UnsafeMutablePointer<Int>
    /// The padding alphabet, so that a padding check is one memcmp at an offset.
    private let pattern: UnsafeMutablePointer<UInt8>
    /// The first few notices and corrupt lines, as text, for the report.
    public private(set) var samples: [String] = []

    private let names: UnsafeMutablePointer<UInt8>
    /// Sender `s`'s login is `names[nameStart[s] ..< nameStart[s + 1]]`.
    private let nameStart: UnsafeMutablePointer<Int>
    private let nextSequence: UnsafeMutablePointer<Int32>
    private let pairCount: UnsafeMutablePointer<Int32>
    private let pairs: Int
    /// Per message (`sender * messages + sequence`), the recipients that have it; nil when
    /// completion is not tracked.
    private let messageCount: UnsafeMutablePointer<Int32>?
    public var tracksCompletion: Bool { messageCount != nil }

    public enum Outcome: Equatable {
        case delivery(sender: Int)
        case notice
        case corrupt
    }

    public init(
        clients: Int, senders: Int? = nil, recipients: Int, messages: Int, format: MessageFormat,
        names: ClientNames
    ) {
        let senders = senders ?? clients
        precondition(clients <= MessageFormat.maximumSenders && messages <= Int(Int32.max))
        precondition(recipients >= 0 && (recipients < clients || clients == 0))
        precondition(senders >= 0 && senders <= clients)
        self.clients = clients
        self.senders = senders
        self.recipients = recipients
        self.messages = messages
        self.format = format
        let logins = (0..<clients).map { Array(names.sender($0).utf8) }
        self.names = .allocate(capacity: Swift.max(1, logins.reduce(0) { $0 + $1.count }))
        self.nameStart = .allocate(capacity: clients + 1)
        var offset = 0
        for (index, login) in logins.enumerated() {
            nameStart[index] = offset
            (self.names + offset).initialize(from: login, count: login.count)
            offset += login.count
        }
        nameStart[clients] = offset
        pairs = senders * recipients
        nextSequence = .allocate(capacity: Swift.max(1, pairs))
        nextSequence.initialize(repeating: 0, count: Swift.max(1, pairs))
        pairCount = .allocate(capacity: Swift.max(1, pairs))
        pairCount.initialize(repeating: 0, count: Swift.max(1, pairs))
        if recipients > 1, senders * messages <= Self.maximumTrackedMessages {
            messageCount = .allocate(capacity: Swift.max(1, senders * messages))
            messageCount!.initialize(repeating: 0, count: Swift.max(1, senders * messages))
        } else {
            messageCount = nil
        }
        tally = .allocate(capacity: 1)
        tally.initialize(to: Tally())
        inFlight = .allocate(capacity: Swift.max(1, clients))
        inFlight.initialize(repeating: 0, count: Swift.max(1, clients))
        pattern = .allocate(capacity: format.paddingBytes + 26)
        for index in 0..<format.paddingBytes + 26 { pattern[index] = UInt8(ascii: "a") + UInt8(index % 26) }
    }

    deinit {
        names.deallocate()
        nameStart.deallocate()
        nextSequence.deallocate()
        pairCount.deallocate()
        messageCount?.deallocate()
        tally.deallocate()
        inFlight.deallocate()
        pattern.deallocate()
    }

    public var expected: Int { pairs * messages }

    /// Messages that never reached a recipient, counted per (sender, recipient) pair.
    public var lost: Int {
        var total = 0
        for pair in 0..<pairs { total += Swift.max(0, messages - Int(pairCount[pair])) }
        return total
    }

    /// Deliveries that were due but never arrived: for each (sender, recipient) pair, the
    /// messages `sent(sender)` says the sender sent, less those the recipient received. Messages
    /// never sent are not lost; `lost` is this with every message sent.
    public func lost(sent: (Int) -> Int) -> Int {
        var total = 0
        for sender in 0..<senders {
            let sent = Swift.min(sent(sender), messages)
            for pair in sender * recipients..<(sender + 1) * recipients {
                total += Swift.max(0, sent - Int(pairCount[pair]))
            }
        }
        return total
    }

    /// Deliveries to `recipient` that have not arrived yet, of every message its senders are to
    /// send: what a recipient the server closed will never get.
    public func owed(to recipient: Int) -> Int {
        var total = 0
        for distance in 1..<recipients + 1 {
            let sender = (recipient - distance + clients) % clients
            if let pair = pairIndex(sender: sender, recipient: recipient) {
                total += Swift.max(0, messages - Int(pairCount[pair]))
            }
        }
        return total
    }

    /// Deliveries beyond the `messages` a pair should see: a duplicated message.
    public var surplus: Int {
        var total = 0
        for pair in 0..<pairs { total += Swift.max(0, Int(pairCount[pair]) - messages) }
        return total
    }

    /// Deliveries recipient `recipient` has had from sender `sender`.
    public func count(from sender: Int, to recipient: Int) -> Int {
        guard let pair = pairIndex(sender: sender, recipient: recipient) else { return 0 }
        return Int(pairCount[pair])
    }

    /// Checks one line (without its `\n`) that `recipient` received at `now` (nanoseconds on the
    /// run's clock) and counts it.
    public func check(_ line: UnsafeRawBufferPointer, recipient: Int, now: UInt64) -> Outcome {
        let bodyBytes = format.bodyBytes
        guard let base = line.baseAddress, line.count >= bodyBytes + 8,
            let header = format.parseHeader(base + (line.count - bodyBytes)),
            header.sender < senders,
            let pair = pairIndex(sender: header.sender, recipient: recipient)
        else { return unexpected(line) }
        let nameStart = self.nameStart[header.sender]
        let nameBytes = self.nameStart[header.sender + 1] - nameStart
        guard line.count == 5 + nameBytes + 2 + bodyBytes,
            memcmp(base, Self.fromPrefix.utf8Start, 5) == 0,
            memcmp(base + 5, names + nameStart, nameBytes) == 0,
            line[5 + nameBytes] == UInt8(ascii: ":"), line[6 + nameBytes] == UInt8(ascii: " "),
            header.sequence < messages,
            memcmp(
                base + (line.count - bodyBytes + MessageFormat.headerBytes),
                pattern + header.sequence % 26,
                format.paddingBytes
            ) == 0
        else { return unexpected(line) }

        let sequence = Int32(header.sequence)
        if sequence >= nextSequence[pair] {
            nextSequence[pair] = sequence &+ 1
        } else {
            tally.pointee.outOfOrder += 1
        }
        pairCount[pair] &+= 1
        tally.pointee.received += 1
        tally.pointee.lastDeliveryTime = now
        inFlight[header.sender] -= 1
        let elapsed = now >= header.time ? now - header.time : 0
        latency.record(elapsed)
        if let messageCount {
            let message = header.sender &* messages &+ header.sequence
            messageCount[message] &+= 1
            if messageCount[message] == Int32(truncatingIfNeeded: recipients) { completion.record(elapsed) }
        }
        return .delivery(sender: header.sender)
    }

    /// Where the counters of (sender, recipient) live, or nil if `sender` does not send to
    /// `recipient`.
    private func pairIndex(sender: Int, recipient: Int) -> Int? {
        guard recipient >= 0, recipient < clients, sender >= 0, sender < senders else { return nil }
        var distance = recipient - sender
        if distance <= 0 { distance += clients }
        guard distance >= 1, distance <= recipients else { return nil }
        return sender * recipients + distance - 1
    }

    private func unexpected(_ line: UnsafeRawBufferPointer) -> Outcome {
        let isNotice = line.count >= 7 && memcmp(line.baseAddress!, Self.noticePrefix.utf8Start, 7) == 0
        if isNotice { tally.pointee.notices += 1 } else { tally.pointee.corrupt += 1 }
        if samples.count < 5 {
            samples.append(String(decoding: line.prefix(200), as: UTF8.self))
        }
        return isNotice ? .notice : .corrupt
    }

    private static let fromPrefix: StaticString = "from "
    private static let noticePrefix: StaticString = "error: "
}
