/// What one benchmark run does.
public struct BenchConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// Clients that send and receive; they form the ring.
    public var clients = 100
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
    /// The server's pid, to read its memory and CPU time.
    public var serverPID: Int32?
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

    /// The window in messages per client.
    public var effectiveWindow: Int {
        if let window { return window }
        let perSender = Self.windowTargetBytes / Swift.max(1, recipients * deliveryBytes)
        return Swift.max(16, perSender)
    }

    public func validate() throws {
        func fail(_ text: String) throws -> Never { throw BenchError(description: text) }
        if clients < 1 { try fail("--clients must be at least 1") }
        if clients > MessageFormat.maximumSenders {
            try fail("--clients is at most \(MessageFormat.maximumSenders)")
        }
        if messages < 0 || messages >= MessageFormat.maximumSequence {
            try fail("--messages is out of range")
        }
        if payloadBytes < MessageFormat.headerBytes {
            try fail("--payload-bytes must be at least \(MessageFormat.headerBytes) (the checked header)")
        }
        if recipients < 0 || (recipients >= clients && clients > 1) {
            try fail("--recipients must be between 0 and clients - 1")
        }
        if messages > 0 && recipients == 0 { try fail("messages need --recipients") }
        if clients == 1 && recipients > 0 { try fail("one client has no one else to send to") }
        if let rate, !(rate > 0) { try fail("--rate must be positive") }
        if let window, window < 1 { try fail("--window must be positive") }
        if slowReaders < 0 { try fail("--slow-readers must not be negative") }
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
    public var lost = 0
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
    /// The server process was gone when the run ended.
    public var serverExited = false

    public init(configuration: BenchConfiguration) {
        self.configuration = configuration
    }

    public var deliveriesPerSecond: Double { runSeconds > 0 ? Double(received) / runSeconds : 0 }

    /// Every delivery arrived, once, in order and intact.
    public var passed: Bool { lost == 0 && outOfOrder == 0 && corrupt == 0 && surplus == 0 && !serverExited }

    /// Server memory per connection above the baseline, in KiB.
    public var idleKiBPerConnection: Double? {
        guard let serverBaselineKiB, let serverIdleKiB else { return nil }
        let connections = configuration.clients + configuration.slowReaders
        return Double(serverIdleKiB - serverBaselineKiB) / Double(connections)
    }
}
