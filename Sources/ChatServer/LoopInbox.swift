import NIOCore
import Synchronization

/// What the other loops have mailed to one loop and it has not taken yet, counted as the bytes
/// it will copy into outboxes; past a limit, senders on other loops wait.
///
/// Mail is compact (a line to 500 people on another loop travels once), so a loop can send far
/// faster than the loop it mails can copy each delivery out; and that loop's queue budget only
/// holds senders back once it has taken the mail. Unbounded, mail piled up in the receiving
/// loop's task queue: 1,000 readers that never read, fed 2 KB lines, peaked at 480–510 MiB with
/// two loops against 221 MiB with one, under a 128 MiB budget (`Tools/budget-attack.py`).
final class LoopInbox: Sendable {
    /// Untaken mail past which senders wait: a quarter of the loop's share of the queue budget
    /// (16 MiB under the default budget with two loops), and never less than one early flush.
    /// 4 MiB was too little: 2,000 clients sending without a pause to two others each, with two
    /// loops, filled it while the receiving loop was busy reading, and the 27,000 pauses that
    /// followed cost a fifth of the server's CPU (0.80 to 0.85 against 0.66 to 0.68 s for 4M
    /// deliveries); at 16 MiB there were none.
    let limitBytes: Int
    private let pendingBytes = Atomic<Int>(0)
    /// Shut by a sender that found the inbox full. The receiving loop opens it once it has taken
    /// the mail down to half the limit; a sender that shut it just as the loop looked waits for
    /// its own recheck (`recheckAfter`). Not counted in the directory's census of shut gates:
    /// senders look at the inbox itself before every line to another loop.
    let gate = CongestionGate(recheckAfter: .milliseconds(20))

    init(budgetShare: Int) {
        limitBytes = max(256 * 1024, budgetShare / 4)
    }

    /// A sender's loop handed over a batch of `bytes` worth of deliveries.
    func mailed(_ bytes: Int) {
        pendingBytes.wrappingAdd(bytes, ordering: .sequentiallyConsistent)
    }

    /// Whether a sender whose loop holds `unsent` bytes for this inbox, not yet handed over,
    /// must wait; if so, shuts the gate for it to wait on.
    func shutIfFull(unsent: Int) -> Bool {
        guard pendingBytes.load(ordering: .relaxed) &+ unsent > limitBytes else { return false }
        gate.setCongested(true)
        // The receiving loop may have taken the mail down just before the gate shut, and so found
        // nothing to open: look once more.
        if pendingBytes.load(ordering: .sequentiallyConsistent) &+ unsent <= limitBytes / 2 {
            gate.setCongested(false)
            return false
        }
        return true
    }

    /// Whether mail has been handed over that the receiving loop has not taken yet.
    var hasMail: Bool { pendingBytes.load(ordering: .sequentiallyConsistent) > 0 }

    /// The receiving loop took `bytes`; true if it should now open the gate.
    func taken(_ bytes: Int) -> Bool {
        let left = pendingBytes.wrappingSubtract(bytes, ordering: .sequentiallyConsistent).newValue
        return left <= limitBytes / 2 && gate.isCongested
    }
}
