import ChatTestSupport
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import Testing

@testable import ChatCluster

/// Cross-node deliveries per second through the cluster layer alone, two nodes in this process.
/// A measurement, not a check: run it on an otherwise idle machine, in release, with
/// `ACHAT_CLUSTER_BENCH=1 swift test -c release -Xswiftc -enable-testing --filter Throughput`.
@Suite(
    .postgres,
    .enabled(
        if: ProcessInfo.processInfo.environment["ACHAT_CLUSTER_BENCH"] != nil, "set ACHAT_CLUSTER_BENCH=1")
)
struct ThroughputTests {
    /// Node `a` sends, node `b` hands what it receives to `onDeliveries`.
    static func sendingPair(
        onDeliveries: @escaping @Sendable (InboundBatch) -> Void
    ) async throws -> (ClusterNode, ClusterNode) {
        let url = try await postgres.makeDatabase()
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let a = try await ClusterNode.join(
            url: url, nodeName: "a", logger: logger, onEvent: { _ in }, onDeliveries: { _ in },
            onUndeliverable: { _ in })
        let b = try await ClusterNode.join(
            url: url, nodeName: "b", logger: logger, onEvent: { _ in }, onDeliveries: onDeliveries,
            onUndeliverable: { _ in })
        return (a, b)
    }

    @Test func crossNodeDeliveriesPerSecond() async throws {
        let total =
            Int(ProcessInfo.processInfo.environment["ACHAT_CLUSTER_BENCH_DELIVERIES"] ?? "") ?? 1_000_000
        let received = NIOLockedValueBox(0)
        let (a, b) = try await Self.sendingPair { batch in
            var count = 0
            for _ in batch { count += 1 }
            received.withLockedValue { $0 += count }
        }
        let recipients = (0..<100).map { "user\($0)" }
        for login in recipients { #expect(await b.claim(ByteBuffer(string: login)) == .claimed) }
        let peer = try #require(b.peer)
        let logins = recipients.map { ByteBuffer(string: $0) }
        // About the size of a chat-bench delivery.
        let line =
            Array("from user00: message 0000000 ".utf8) + Array(repeating: UInt8(ascii: "."), count: 30) + [
                10
            ]
        let started = ContinuousClock.now
        var refusedFull = 0
        line.withUnsafeBytes { bytes in
            var index = 0
            while index < total {
                switch a.route(bytes, to: logins[index % logins.count], on: peer) {
                case .queued, .queuedPeerBusy, .queuedRecipientBusy:
                    index += 1
                case .peerFull:
                    // A server would pause the sender until `peerReady`; this waits a moment.
                    refusedFull += 1
                    usleep(200)
                case .unavailable:
                    Issue.record("unavailable")
                    return
                }
            }
        }
        let routed = ContinuousClock.now - started
        try await waitUntil("all received", timeout: .seconds(600)) {
            received.withLockedValue { $0 } >= total
        }
        let elapsed = ContinuousClock.now - started
        let sent = a.statistics
        print(
            """
            cluster throughput: \(total) deliveries of \(line.count) bytes in \(elapsed): \
            \(Int(Double(total) / elapsed.seconds)) deliveries/s (routing alone took \(routed)); \
            \(sent.batchesSent) batches, \(sent.deliveriesSent / max(sent.batchesSent, 1)) deliveries per batch, \
            \(sent.bytesSent / max(sent.batchesSent, 1)) bytes per batch; \(refusedFull) waits for a full queue; \
            receiver: \(b.statistics.fetches) fetches, \(b.statistics.wakeupsReceived) wake-ups
            """)
        #expect(received.withLockedValue { $0 } == total)
        await a.leave()
        await b.leave()
    }

    /// Latency at a steady 10,000 deliveries/s: each delivery carries the time it was routed.
    @Test func latencyAtTenThousandDeliveriesPerSecond() async throws {
        let origin = ContinuousClock.now
        let latencies = NIOLockedValueBox([Duration]())
        let (a, b) = try await Self.sendingPair { batch in
            let now = ContinuousClock.now
            var measured: [Duration] = []
            for (_, delivery) in batch {
                let sent = delivery.getInteger(at: delivery.readerIndex, as: Int64.self)!
                measured.append(now - (origin + .nanoseconds(sent)))
            }
            latencies.withLockedValue { $0 += measured }
        }
        #expect(await b.claim(ByteBuffer(string: "bob")) == .claimed)
        let peer = try #require(b.peer)
        let bob = ByteBuffer(string: "bob")
        let (perTick, ticks) = (10, 3000)  // 10 every millisecond for 3 s
        var line = ByteBuffer(repeating: UInt8(ascii: "."), count: 60)
        for tick in 0..<ticks {
            for _ in 0..<perTick {
                line.setInteger((ContinuousClock.now - origin).nanoseconds, at: 0)
                _ = a.route(line, to: bob, on: peer)
            }
            let next = origin + .milliseconds(tick + 1)
            if next > .now { try await Task.sleep(until: next) }
        }
        try await waitUntil("all received", timeout: .seconds(60)) {
            latencies.withLockedValue { $0.count } >= perTick * ticks
        }
        let sorted = latencies.withLockedValue { $0 }.sorted()
        func percentile(_ p: Double) -> Duration {
            sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
        }
        print(
            """
            cluster latency at \(perTick * 1000)/s: p50 \(percentile(0.5)), p99 \(percentile(0.99)), \
            max \(sorted.last!); \(a.statistics.batchesSent) batches, \
            \(a.statistics.deliveriesSent / max(a.statistics.batchesSent, 1)) deliveries per batch
            """)
        await a.leave()
        await b.leave()
    }
}
