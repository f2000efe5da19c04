import ChatTestSupport
import Foundation
import Synchronization
import Testing

/// Cluster mode, the moment a recipient leaves its server: the sender's server learns it through
/// the database a few milliseconds later, and routes to the old server meanwhile.
@Suite(.postgres, .enabled(if: postgresAvailable, postgresSkipReason))
struct ClusterDepartureTests {
    static let offline = "error: 'bob' is not online"
    static let left = "error: 'bob' disconnected before your message reached them; not delivered"

    /// Alice writes numbered lines to bob on another server without a pause while bob ends his
    /// input, reads what was queued for him to the end, and is gone. Every line is then
    /// accounted for: bob read it, or alice was told it was not delivered, whichever server
    /// found bob missing.
    @Test func aMessageThatReachesTheServerItsRecipientJustLeftIsAnsweredNotLost() async throws {
        let (_, servers) = try await ClusterServerTests.nodes()
        let alice = try await loggedIn("alice", port: servers[0].port)
        let bob = try await loggedIn("bob", port: servers[1].port)
        try await ClusterServerTests.waitUntilReachable(bob, as: "bob", from: alice, as: "alice")
        let heardOffline = Signal()
        // Until alice's server knows bob is gone, so the stream spans the moment it learns it.
        let sending = Task {
            var sent = 0
            while !heardOffline.isRaised && sent < 2_000_000 {
                try await alice.sendRaw((sent..<sent + 50).map { "bob: \($0)\n" }.joined())
                sent += 50
                // Paced, so the notices that answer the stream stay a few thousand.
                try await Task.sleep(for: .milliseconds(1))
            }
            return sent
        }
        var received = 0
        while received < 1000, let line = try await bob.readLine() {
            try #require(line == "from alice: \(received)")
            received += 1
        }
        try await bob.closeOutput()
        async let rest = bob.readToEnd()
        var answers = (offline: 0, left: 0)
        var sent: Int?
        while sent.map({ received + answers.offline + answers.left < $0 }) ?? true {
            // A line that never comes ends the wait, and the count below says what is missing.
            guard let line = try? await alice.readLine(timeout: .seconds(30)) else { break }
            switch line {
            case Self.offline:
                answers.offline += 1
                heardOffline.raise()
            case Self.left: answers.left += 1
            default: Issue.record("unexpected line \(line)")
            }
            if sent == nil && answers.offline > 0 {
                sent = try await sending.value
                for line in try await rest {
                    try #require(line == "from alice: \(received)")
                    received += 1
                }
            }
        }
        #expect(received + answers.offline + answers.left == sent, "read by bob: \(received), \(answers)")
        try await alice.expectSilence(for: .milliseconds(300))
        await alice.close()
    }

    /// Raised once, seen from any task.
    private final class Signal: Sendable {
        private let raised = Atomic<Bool>(false)
        var isRaised: Bool { raised.load(ordering: .acquiring) }
        func raise() { raised.store(true, ordering: .releasing) }
    }
}
