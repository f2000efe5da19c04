import NIOCore
import Synchronization

/// What the other loops have mailed to one loop and it has not taken yet, counted as the bytes
/// it will copy into outboxes; past a limit, senders on other loops wait.
///
/// Mail is compact (a line to 500 people on another loop travels once), so a loop can send far
/// faster than the loop it mails can copy each delivery out; and that loop's queue budget only
/// holds senders back once it has taken the mail. Unbounded, mail piled up in the receiving
/// loop's task queue: 1,000 readers that never read, fed 2 KB lines, peaked at 480–510 MiB with
/// two loops against 221 MiB with one, under a 128 MiB budget (chat-bench's budget attack).
final class LoopInbox: Sendable {
    /// Untaken mail past which senders wait: a few early flushes' worth, and no more than a
    /// quarter of the loop's share of the queue budget.
    let limitBytes: Int
    private let pendingBytes = Atomic<Int>(0)
    /// Shut by a sender that found the inbox full. The receiving loop opens it once it has taken
    /// the mail down to half the limit; a sender that shut it just after that looks again by
    /// itself (`recheckAfter`).
    let gate: CongestionGate

    init(budgetShare: Int, census: Directory) {
        limitBytes = max(256 * 1024, min(4 * 1024 * 1024, budgetShare / 4))
        gate = CongestionGate(census: census, recheckAfter: .milliseconds(20))
    }

    /// A sender on another loop mailed `bytes` of deliveries.
    func mailed(_ bytes: Int) {
        pendingBytes.wrappingAdd(bytes, ordering: .relaxed)
    }

    /// Whether the next sender must wait, and if so shuts the gate for it to wait on.
    func shutIfFull() -> Bool {
        guard pendingBytes.load(ordering: .relaxed) > limitBytes else { return false }
        gate.setCongested(true)
        return true
    }

    /// The receiving loop took `bytes`; true if it should now open the gate.
    func taken(_ bytes: Int) -> Bool {
        let left = pendingBytes.wrappingSubtract(bytes, ordering: .relaxed).newValue
        return gate.isCongested && left <= limitBytes / 2
    }
}
