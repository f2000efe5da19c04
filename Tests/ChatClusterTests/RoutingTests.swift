import ChatTestSupport
import NIOConcurrencyHelpers
import NIOCore
import Testing

@testable import ChatCluster

@Suite(.postgres, .enabled(if: postgresAvailable, postgresSkipReason))
struct RoutingTests {
    @Test func deliveriesArriveByteForByte() async throws {
        try await withNodes(2) { nodes in
            let (a, b) = (nodes[0], nodes[1])
            #expect(await b.node.claim("bob") == .claimed)
            let texts: [[UInt8]] = [
                Array("from alice: hi\n".utf8),
                Array("from alice: a\u{0}b\u{0}\n".utf8),
                Array("from alice: it's \"quoted\" \\ and \\\\x00 and \\n and $1 and '' \n".utf8),
                Array("from alice: 🦀 Zoë 李小龍 e\u{301}\n".utf8),
                Array("from alice: ".utf8) + Array(repeating: UInt8(ascii: "x"), count: 64 * 1024) + [10],
                // Far beyond one NOTIFY payload, and every byte value (the layer carries bytes).
                (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) },
                [0],
            ]
            for text in texts {
                #expect(a.route(text, to: "bob", on: b) == .queued)
            }
            try await b.waitUntil("all delivered") { b.deliveries.count >= texts.count }
            #expect(b.deliveries.map(\.bytes) == texts)
            #expect(b.deliveries.allSatisfy { $0.login == "bob" })
        }
    }

    @Test(.loadsTheMachine) func manySendersKeepTheirOrderToEachRecipientAndShareBatches() async throws {
        try await withNodes(2) { nodes in
            let (a, b) = (nodes[0], nodes[1])
            let recipients = (0..<8).map { "r\($0)" }
            for login in recipients { #expect(await b.node.claim(login) == .claimed) }
            let (senders, perSender) = (4, 5000)
            let refused = NIOLockedValueBox(0)
            await withTaskGroup(of: Void.self) { group in
                for sender in 0..<senders {
                    group.addTask {
                        for sequence in 0..<perSender {
                            let line =
                                "from s\(sender): \(sequence) " + String(repeating: "-", count: 40) + "\n"
                            let result = a.route(Array(line.utf8), to: recipients[sequence % 8], on: b)
                            if result != .queued && result != .queuedPeerBusy {
                                refused.withLockedValue { $0 += 1 }
                            }
                        }
                    }
                }
            }
            #expect(refused.withLockedValue { $0 } == 0)
            let total = senders * perSender
            try await b.waitUntil("all delivered") { b.deliveries.count >= total }
            #expect(b.deliveries.count == total)
            var next: [String: Int] = [:]
            for delivery in b.deliveries {
                let text = String(decoding: delivery.bytes, as: UTF8.self)
                let fields = text.split(separator: " ")
                let sender = String(fields[1].dropLast())
                let sequence = Int(fields[2])!
                let key = "\(sender)>\(delivery.login)"
                #expect(sequence == next[key, default: sequence % 8], "\(key): \(sequence) out of order")
                next[key] = sequence + 8
            }
            let sent = a.node.statistics
            let received = b.node.statistics
            #expect(sent.deliveriesSent == total)
            #expect(received.deliveriesReceived == total)
            // Many deliveries share one row and one NOTIFY.
            #expect(sent.deliveriesSent / max(sent.batchesSent, 1) >= 10, "\(sent)")
            #expect(received.wakeupsReceived <= sent.batchesSent)
        }
    }

    /// A login that moves from one node to another: by the time the new node is granted it,
    /// what the login's last connection routed to that node has been handed to it. The old
    /// node's release waits for the write, and the new node's claim for a fetch.
    @Test func aLoginMovedToAnotherNodeFindsItsLastDeliveriesThere() async throws {
        try await withNodes(2) { nodes in
            let (a, b) = (nodes[0], nodes[1])
            #expect(await b.node.claim("bob") == .claimed)
            for round in 1...50 {
                try await a.waitUntil("alice back on node0") { await a.node.claim("alice") == .claimed }
                let last = Array("from alice: last \(round)\n".utf8)
                #expect(a.route(last, to: "bob", on: b) == .queued)
                a.node.release("alice")
                try await b.waitUntil("alice on node1") { await b.node.claim("alice") == .claimed }
                try #require(b.deliveries.last?.bytes == last, "round \(round)")
                b.node.release("alice")
            }
        }
    }

    @Test func aQueueOverItsSoftLimitPausesSendersUntilThePeerHasTakenIt() async throws {
        var configuration = testConfiguration
        configuration.peerQueueSoftLimit = 32 * 1024
        configuration.peerQueueHardLimit = 256 * 1024
        try await withNodes(2, configuration: configuration) { nodes in
            let (a, b) = (nodes[0], nodes[1])
            #expect(await b.node.claim("bob") == .claimed)
            let line = Array(repeating: UInt8(ascii: "y"), count: 1000) + [10]
            var results: [RouteResult] = []
            for _ in 0..<1000 {
                results.append(a.route(line, to: "bob", on: b))
            }
            #expect(results.contains(.queuedPeerBusy))
            #expect(!results.contains(.unavailable))
            let accepted = results.filter { $0 == .queued || $0 == .queuedPeerBusy }.count
            try await a.waitForEvent(.peerReady(b.node.peer!))
            try await b.waitUntil("accepted deliveries arrived") { b.deliveries.count >= accepted }
            #expect(b.deliveries.count == accepted)
            #expect(a.route(line, to: "bob", on: b) == .queued)
        }
    }

    /// A peer acknowledges what it delivered at its next fetch, which it makes even when
    /// nothing more comes; until then the deliveries count against the sender's queue.
    @Test func theLastDeliveriesAreAcknowledgedToo() async throws {
        try await withNodes(2) { nodes in
            let (a, b) = (nodes[0], nodes[1])
            #expect(await b.node.claim("bob") == .claimed)
            #expect(a.route(Array("from alice: only\n".utf8), to: "bob", on: b) == .queued)
            try await b.waitUntil("delivered") { b.deliveries.count == 1 }
            try await a.waitUntil("acknowledged") { a.node.outbox.queuedBytes == 0 }
        }
    }

    @Test func aCongestedRecipientPausesItsSendersOnOtherNodes() async throws {
        try await withNodes(2) { nodes in
            let (a, b) = (nodes[0], nodes[1])
            #expect(await b.node.claim("bob") == .claimed)
            try await a.waitUntil("bob located") { a.location(of: "bob") == b.node.peer }
            let bob = ByteBuffer(string: "bob")
            b.node.setCongested(bob, true)
            try await a.waitUntil("bob congested") { a.node.isCongested(bob) }
            #expect(a.route(Array("from a: x\n".utf8), to: "bob", on: b) == .queuedRecipientBusy)
            b.node.setCongested(bob, false)
            try await a.waitForEvent(.recipientReady(login: bob))
            #expect(a.route(Array("from a: y\n".utf8), to: "bob", on: b) == .queued)
            try await b.waitUntil("both delivered") { b.deliveries.count == 2 }
        }
    }

    @Test func aPeerThatLeftIsUnavailable() async throws {
        try await withNodes(2) { nodes in
            let (a, b) = (nodes[0], nodes[1])
            let peer = try #require(b.node.peer)
            await b.node.leave()
            try await a.waitForEvent(.peerLeft(peer))
            let result = Array("from a: x\n".utf8).withUnsafeBytes {
                a.node.route($0, to: ByteBuffer(string: "bob"), on: peer)
            }
            #expect(result == .unavailable)
        }
    }
}
