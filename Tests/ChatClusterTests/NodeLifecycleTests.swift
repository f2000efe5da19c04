import Testing

@testable import ChatCluster

/// The node's lease decisions, without a database.
@Suite struct NodeLifecycleTests {
    private func nodeWithLease() -> NodeLifecycle {
        var node = NodeLifecycle(leaseDuration: .seconds(10), safetyMargin: .seconds(2))
        node.registered(7, startedAt: .now)
        _ = node.sessionReady(generation: 1)
        return node
    }

    @Test func aRefusedLeaseIsLostAndTheServerToldSo() {
        var node = nodeWithLease()
        let actions = node.leaseRefused()
        #expect(actions.contains(.emit(.leaseLost)))
        #expect(actions.contains(.dropQueues))
        #expect(node.lease == nil)
        #expect(node.abandonedLease == 7)
    }

    /// A leaving node deletes its own row, so a renewal racing with that is refused: that is no
    /// lost lease, and the server, already shutting down, must not hear of one.
    @Test func aLeaseRefusedWhileLeavingIsNoLoss() {
        var node = nodeWithLease()
        node.leave()
        #expect(node.leaseRefused().isEmpty)
        #expect(node.tick(now: .now + .seconds(60)).isEmpty)
    }
}
