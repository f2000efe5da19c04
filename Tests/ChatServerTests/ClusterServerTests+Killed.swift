import ChatTestSupport
import Foundation
import SystemSupport
import Testing

/// A server killed outright (SIGKILL, a power cut): nothing is freed until its lease runs out,
/// then the others free its logins and answer what was sent to its clients meanwhile.
extension ClusterServerTests {
    @Test func aKilledServersLoginsAreFreedByTheOthers() async throws {
        let (_, servers) = try await Self.nodes(firstLeaseSeconds: 3)
        _ = try await Self.loggedInDespiteShortLease("bob", port: servers[0].port)
        servers[0].child.signal(SIGKILL)
        let killedAt = ContinuousClock.now
        let bob = try await eventuallyLoggedIn("bob", port: servers[1].port, within: .seconds(60))
        // Within 20 s with production leases; the 3 s lease here frees it sooner, and a loaded
        // machine's logins may each wait seconds for the database.
        #expect(ContinuousClock.now - killedAt < .seconds(30))
        try await expectStillServed(bob, as: "bob")
    }

    /// Messages routed to a killed server's client before its lease ran out sat in the database
    /// for a server that would never take them. Once the lease has expired, each sender is told:
    /// with three servers, one of the two senders is on the server that frees the killed one and
    /// one is not, and each server takes its senders' bounces from the database.
    @Test func messagesToAKilledServersClientAreAnsweredOnceItsLeaseRunsOut() async throws {
        // The killed server's lease is 10 s: long enough to send into before it runs out on a
        // loaded machine, short enough to wait for.
        let (_, servers) = try await Self.nodes(3, firstLeaseSeconds: 10)
        let bob = try await Self.loggedInDespiteShortLease("bob", port: servers[0].port)
        let alice = try await loggedIn("alice", port: servers[1].port)
        let carol = try await loggedIn("carol", port: servers[2].port)
        try await Self.waitUntilReachable(bob, as: "bob", from: alice, as: "alice")
        try await Self.waitUntilReachable(bob, as: "bob", from: carol, as: "carol")
        servers[0].child.signal(SIGKILL)
        try await alice.send("bob: one")
        try await carol.send("bob: two")
        try await alice.send("bob: three")
        let left = "error: 'bob' disconnected before your message reached them; not delivered"
        #expect(try await alice.readLine(timeout: .seconds(60)) == left)
        #expect(try await alice.readLine(timeout: .seconds(60)) == left)
        #expect(try await carol.readLine(timeout: .seconds(60)) == left)
        try await alice.expectSilence(for: .milliseconds(200))
        try await carol.expectSilence(for: .milliseconds(200))
    }
}
