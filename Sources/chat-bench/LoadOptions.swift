import ArgumentParser
import ChatBench

/// What a single run does: its clients, messages and pace. The scenarios set all of these
/// themselves.
struct LoadOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Clients in the ring (default: 100).")
    var clients: Int?

    @Option(
        parsing: .unconditional,
        help: "Only the first N clients send; all of them receive (default: all send).")
    var senders: Int?

    @Option(
        parsing: .unconditional,
        help: "Messages each client sends, at most \(BenchConfiguration.maximumMessages) (default: 2000).")
    var messages: Int?

    @Option(
        parsing: .unconditional,
        help: """
            Body size in bytes, \(MessageFormat.headerBytes) to \(BenchConfiguration.maximumLineBytes); the \
            whole message line must fit in \(BenchConfiguration.maximumLineBytes) (default: 32).
            """)
    var payloadBytes: Int?

    @Option(
        parsing: .unconditional, help: "Each client sends to its next K clients in the ring (default: 1).")
    var recipients: Int?

    @Option(
        parsing: .unconditional,
        help: """
            Messages per second per client, above 0 and at most \(Int(BenchConfiguration.maximumRate)); \
            default: as fast as the window allows.
            """)
    var rate: Double?

    @Option(
        parsing: .unconditional,
        help: """
            Messages a client may have out that not all its recipients have received yet \
            (default: about 64 KiB per recipient; not with --rate).
            """)
    var window: Int?

    @Flag(
        help: """
            Send without a window: every sender writes all its messages at once, as a client that \
            waits for no one would (not with --rate or --window).
            """)
    var flood = false

    @Option(
        parsing: .unconditional,
        help: """
            Bytes per second each client reads at most; it stops reading from its socket until a \
            token bucket allows more, so the server sees a slow reader (default: as fast as it can).
            """)
    var readerRate: Double?

    @Option(
        parsing: .unconditional,
        help: "Clients that log in and never read; every message is addressed to them too (default: 0).")
    var slowReaders: Int?

    func validate() throws {
        if rate != nil && window != nil {
            throw ValidationError("--window has no effect with --rate (paced clients send on the clock)")
        }
        if flood && (rate != nil || window != nil) {
            throw ValidationError(
                "--flood sends without a window or a rate: not with --\(rate != nil ? "rate" : "window")")
        }
    }

    /// The first flag given that a scenario sets for itself.
    var flagScenariosSet: String? {
        let given: [(String, Bool)] = [
            ("--clients", clients != nil), ("--messages", messages != nil),
            ("--payload-bytes", payloadBytes != nil), ("--recipients", recipients != nil),
            ("--rate", rate != nil), ("--slow-readers", slowReaders != nil),
            ("--senders", senders != nil), ("--flood", flood), ("--reader-rate", readerRate != nil),
        ]
        return given.first(where: \.1)?.0
    }

    func apply(to configuration: inout BenchConfiguration) {
        if let clients { configuration.clients = clients }
        if let messages { configuration.messages = messages }
        if let payloadBytes { configuration.payloadBytes = payloadBytes }
        if let recipients { configuration.recipients = recipients }
        configuration.rate = rate
        configuration.window = window
        if let slowReaders { configuration.slowReaders = slowReaders }
        configuration.senders = senders
        configuration.floods = flood
        configuration.readerRate = readerRate
    }
}
