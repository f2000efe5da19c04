import ChatProtocol

/// What one benchmark run does.
public struct BenchConfiguration: Sendable {
    /// Client `i` (the slow readers counting on after the ring) connects to server
    /// `i mod servers.count`.
    public var servers = [ServerAddress(host: "127.0.0.1", port: 8080)]
    /// Clients that receive; they form the ring.
    public var clients = 100
    /// How many of them (the first ones) send; nil: all of them.
    public var senders: Int?
    /// Messages each client sends to each of its recipients.
    public var messages = 2000
    /// Body size in bytes, at least `MessageFormat.headerBytes`.
    public var payloadBytes = 32
    /// Client `i` sends every message to clients `i+1 ... i+recipients` (mod `clients`).
    public var recipients = 1
    /// Messages per second per client; nil sends as fast as the window allows.
    public var rate: Double?
    /// Extra clients that log in, then never read. Every message is also addressed to them.
    public var slowReaders = 0
    /// Messages one client may have sent that not all its recipients have received yet. nil
    /// picks one that keeps about `windowTargetBytes` queued per recipient.
    public var window: Int?
    /// No window at all: every sender writes all its messages at once, as a client that does
    /// not wait for anyone would.
    public var floods = false
    /// Bytes per second each client reads at most (a token bucket); nil reads as fast as it can.
    public var readerRate: Double?
    /// Connect with TLS, trusting the CA certificate in this PEM file.
    public var tlsCAFile: String?
    /// The servers' pids, to read their memory and CPU time (added up) and see them exit.
    public var serverPIDs: [Int32] = []
    /// A run that makes no progress for this long ends, and what is missing counts as lost.
    public var stallTimeoutSeconds = 10.0
    /// Connections being opened or logging in at once: enough to log in thousands of clients
    /// quickly, few enough not to overflow the server's accept backlog.
    public var connectConcurrency = 256
    /// How long the slow readers get to show that the server closed them.
    public var slowReaderDrainSeconds = 3.0
    /// Logins are `b<tag>-<i>`.
    public var tag = ClientNames.freshTag()

    public static let windowTargetBytes = 64 * 1024

    public init() {}

    /// Bytes of one `from b<tag>-<i>: <body>\n` delivery, taking the index as 5 digits.
    var deliveryBytes: Int {
        "from ".utf8.count + (2 + tag.utf8.count + 5) + ": ".utf8.count + payloadBytes + 1
    }

    public var sendingClients: Int { senders ?? clients }

    /// The share of deliveries whose sender and recipient are on different servers (client `i`
    /// on server `i mod servers`); nil with one server or nothing to deliver.
    public var crossServerShare: Double? {
        let nodes = servers.count
        guard nodes > 1, recipients > 0, sendingClients > 0 else { return nil }
        // Counted pair by pair (at most `maximumPairs`): where the ring wraps, a client count
        // that is not a multiple of the servers breaks any shortcut.
        var crossing = 0
        for sender in 0..<sendingClients {
            for distance in 1...recipients where sender % nodes != (sender + distance) % clients % nodes {
                crossing += 1
            }
        }
        return Double(crossing) / Double(sendingClients * recipients)
    }

    /// The window in messages per client.
    public var effectiveWindow: Int {
        if floods { return Self.maximumMessages }
        if let window { return window }
        let perSender = Self.windowTargetBytes / Swift.max(1, recipients * deliveryBytes)
        return Swift.max(16, perSender)
    }

    /// The fastest `rate` accepted: far beyond what one bench thread sends, and low enough that
    /// the pacing arithmetic stays exact.
    public static let maximumRate = 1_000_000.0
    public static let maximumStallTimeoutSeconds = 3600.0
    /// The checker keeps each pair's next sequence number and count in 32 bits.
    public static let maximumMessages = Int(Int32.max)
    /// chat-server's default `--max-line-bytes`: a longer message line is discarded with a
    /// notice, so such a run could only fail.
    public static let maximumLineBytes = LineFramer.defaultMaximumLineBytes
    /// Senders times names in their lines (recipients plus slow readers). The checker keeps 8
    /// bytes per (sender, recipient) pair and each sender keeps its line prefix, so this bounds
    /// the bench's own memory for them at about 400 MiB.
    public static let maximumPairs = 1 << 24
    /// One fill writes a whole window in one buffer; this bounds that buffer.
    public static let maximumWindowBytes = 64 << 20
    /// A flood holds every message line in the bench's memory until the server takes it.
    public static let maximumFloodBytes = 1 << 30
    /// Far beyond loopback's speed, low enough for exact arithmetic in nanoseconds.
    public static let maximumReaderRate = 1e12

    /// The longest message line any sender writes, without its newline: every recipient's and
    /// slow reader's login, commas between them, `: ` and the body. Assumes the widest index.
    public var longestLineBytes: Int {
        func digits(_ value: Int) -> Int { String(Swift.max(0, value)).count }
        let senderName = 2 + tag.utf8.count + digits(clients - 1)
        let slowName = 3 + tag.utf8.count + digits(slowReaders - 1)
        let names = recipients * (senderName + 1) + slowReaders * (slowName + 1)
        return names + 1 + payloadBytes
    }

    public func validate() throws {
        func fail(_ text: String) throws -> Never { throw BenchError(description: text) }
        if servers.isEmpty { try fail("no server to connect to") }
        if clients < 1 { try fail("--clients must be at least 1") }
        if clients > MessageFormat.maximumSenders {
            try fail("--clients is at most \(MessageFormat.maximumSenders)")
        }
        if messages < 0 || messages > Self.maximumMessages {
            try fail("--messages must be between 0 and \(Self.maximumMessages)")
        }
        if payloadBytes < MessageFormat.headerBytes || payloadBytes > Self.maximumLineBytes {
            try fail(
                "--payload-bytes must be between \(MessageFormat.headerBytes) (the checked header) and "
                    + "\(Self.maximumLineBytes) (chat-server's longest line)")
        }
        if recipients < 0 || (recipients >= clients && clients > 1) {
            try fail("--recipients must be between 0 and clients - 1")
        }
        if messages > 0 && recipients == 0 { try fail("messages need --recipients") }
        if clients == 1 && recipients > 0 { try fail("one client has no one else to send to") }
        if slowReaders < 0 || slowReaders > Self.maximumLineBytes {
            try fail("--slow-readers must be between 0 and \(Self.maximumLineBytes)")
        }
        if let senders, senders < 1 || senders > clients {
            try fail("--senders must be between 1 and --clients")
        }
        if sendingClients * (recipients + slowReaders) > Self.maximumPairs {
            try fail(
                "--clients × (--recipients + --slow-readers) is at most \(Self.maximumPairs) "
                    + "(the checker's and the senders' memory)")
        }
        if messages > 0 && longestLineBytes > Self.maximumLineBytes {
            try fail(
                "a message line (recipient names, ': ', body) would be up to \(longestLineBytes) bytes; "
                    + "chat-server takes at most \(Self.maximumLineBytes): lower --payload-bytes, "
                    + "--recipients or --slow-readers")
        }
        if let rate, !(rate > 0 && rate <= Self.maximumRate) {
            try fail("--rate must be above 0 and at most \(Int(Self.maximumRate)) messages per second")
        }
        if let window {
            let largest = Self.maximumWindowBytes / (longestLineBytes + 1)
            if window < 1 || window > largest {
                try fail("--window must be between 1 and \(largest) (64 MiB of message lines at this size)")
            }
        }
        if floods && messages > 0 {
            let bytes = Double(sendingClients) * Double(messages) * Double(longestLineBytes + 1)
            if bytes > Double(Self.maximumFloodBytes) {
                try fail(
                    "--flood would hold \(Int(bytes / 1_048_576)) MiB of message lines; at most "
                        + "\(Self.maximumFloodBytes >> 20) MiB: lower --messages, --payload-bytes or --senders"
                )
            }
        }
        if let readerRate, !(readerRate >= 1 && readerRate <= Self.maximumReaderRate) {
            try fail(
                "--reader-rate must be at least 1 and at most \(Int(Self.maximumReaderRate)) bytes per second"
            )
        }
        if !(stallTimeoutSeconds > 0 && stallTimeoutSeconds <= Self.maximumStallTimeoutSeconds) {
            try fail(
                "--stall-timeout must be above 0 and at most \(Int(Self.maximumStallTimeoutSeconds)) seconds")
        }
    }
}

public struct BenchError: Error, CustomStringConvertible {
    public let description: String

    public init(description: String) {
        self.description = description
    }
}

/// What one run measured.
public struct BenchResult: Sendable {
    public var configuration: BenchConfiguration
    public var expected = 0
    public var received = 0
    /// Deliveries of messages that were sent but never arrived.
    public var lost = 0
    /// Messages the run ended before sending (after a stall, or when the server went away):
    /// their deliveries are neither received nor lost.
    public var notSent = 0
    public var outOfOrder = 0
    public var corrupt = 0
    /// Deliveries beyond what a pair should see (duplicates).
    public var surplus = 0
    public var notices = 0
    /// The first few notices or corrupt lines.
    public var samples: [String] = []
    /// True when the run ended because nothing moved for the stall timeout.
    public var stalled = false
    public var loginSeconds = 0.0
    /// From the first send to the last delivery.
    public var runSeconds = 0.0
    public var latencyP50 = 0.0
    public var latencyP99 = 0.0
    public var latencyMax = 0.0
    /// Server resident memory before any client connected (only when a probe could read it).
    public var serverBaselineKiB: Int?
    /// After every client logged in, before the first message.
    public var serverIdleKiB: Int?
    /// The most the server was resident (VmHWM, or the highest sample if higher).
    public var serverPeakKiB: Int?
    /// CPU seconds used during the message phase.
    public var benchCPUSeconds = 0.0
    public var serverCPUSeconds: Double?
    /// CPU seconds the rest of the machine used meanwhile: near zero on a quiet machine. (Kernel
    /// work in interrupts that no process is charged for lands here too.)
    public var otherCPUSeconds: Double?
    public var slowReadersCutOff = 0
    /// Ring clients (readers that read) the server closed mid-run: cut off, not merely slow.
    /// What they never got is in `lost` (sent) or `notSent`.
    public var cutOff = 0
    /// From sending a message until every recipient had it (several recipients only).
    public var completionP50: Double?
    public var completionP99: Double?
    /// The server process was gone when the run ended.
    public var serverExited = false
    /// How a spawned server ended (`status 1`, `signal 9`), when it ended during the run.
    public var serverExit: String?
    /// Why the run ended before every delivery arrived, when it did not stall.
    public var endReason: String?

    public init(configuration: BenchConfiguration) {
        self.configuration = configuration
    }

    public var deliveriesPerSecond: Double { runSeconds > 0 ? Double(received) / runSeconds : 0 }

    /// Every delivery arrived, once, in order and intact.
    public var passed: Bool {
        lost == 0 && notSent == 0 && outOfOrder == 0 && corrupt == 0 && surplus == 0 && cutOff == 0
            && !serverExited && endReason == nil
    }

    /// Server memory per connection above the baseline, in KiB.
    public var idleKiBPerConnection: Double? {
        guard let serverBaselineKiB, let serverIdleKiB else { return nil }
        let connections = configuration.clients + configuration.slowReaders
        return Double(serverIdleKiB - serverBaselineKiB) / Double(connections)
    }
}
