import ArgumentParser
import ChatServer
import NIOCore

/// How much may wait for readers, and when one that takes nothing is let go.
struct FlowControlOptions: ParsableArguments {
    @Option(
        parsing: .unconditional,
        help: "Absolute bound on the bytes waiting for one connection; past it, it is cut off.")
    var maxQueueBytes = 1024 * 1024

    @Option(
        parsing: .unconditional,
        help: """
            Bytes waiting for one connection above which the senders feeding it are no longer \
            read from, until it is back under half of this.
            """)
    var softQueueBytes = 256 * 1024

    @Option(
        parsing: .unconditional,
        help: "Seconds a connection with a full queue may take nothing before it is cut off.")
    var stallTimeout = 10.0

    @Option(
        parsing: .unconditional,
        help: """
            Bytes waiting for all connections together above which the senders feeding the \
            fullest queues are held back and stalled readers cut off early.
            """)
    var queueBudgetBytes = 128 * 1024 * 1024

    func validate() throws {
        try Self.validateSize(maxQueueBytes, "--max-queue-bytes")
        try Self.validateSize(softQueueBytes, "--soft-queue-bytes")
        try Self.validateSize(queueBudgetBytes, "--queue-budget-bytes")
        guard softQueueBytes >= 2 else { throw ValidationError("--soft-queue-bytes must be at least 2") }
        guard softQueueBytes < maxQueueBytes else {
            throw ValidationError("--soft-queue-bytes must be below --max-queue-bytes (\(maxQueueBytes))")
        }
        try TimeoutOption.validate(stallTimeout, "--stall-timeout")
    }

    func apply(to configuration: inout ChatServerConfiguration) {
        configuration.maximumQueueBytes = maxQueueBytes
        configuration.softQueueBytes = softQueueBytes
        configuration.lowWaterQueueBytes = softQueueBytes / 2
        configuration.stallTimeout = TimeoutOption.amount(stallTimeout)
        configuration.queueBudgetBytes = queueBudgetBytes
    }

    /// A gibibyte is far beyond any sensible line or queue, and keeps all arithmetic on these
    /// limits clear of overflow.
    static func validateSize(_ value: Int, _ flag: String) throws {
        guard (1...(1 << 30)).contains(value) else { throw ValidationError("\(flag) must be 1...\(1 << 30)") }
    }
}

/// Timeouts are given in seconds, fractions allowed, so tests can use short ones.
enum TimeoutOption {
    static let maximumSeconds = 86_400.0

    static func validate(_ seconds: Double, _ flag: String) throws {
        guard seconds > 0, seconds <= maximumSeconds else {
            throw ValidationError("\(flag) must be above 0 and at most \(Int(maximumSeconds)) seconds")
        }
    }

    static func amount(_ seconds: Double) -> TimeAmount {
        .nanoseconds(Int64((seconds * 1e9).rounded()))
    }
}
