import ChatTestSupport
import NIOConcurrencyHelpers
import NIOCore
import Testing

@testable import ChatCluster

/// A sender routing numbered deliveries to one login on a peer, a few every millisecond, until
/// stopped; it remembers which numbers were accepted, so a test can check that exactly those
/// arrived, once each and in order, whatever happened to the database meanwhile.
final class DeliveryStream: Sendable {
    private let state = NIOLockedValueBox((accepted: [Int](), refused: [RouteResult: Int](), stopped: false))
    /// The task that routes, once started.
    private let sending = NIOLockedValueBox<Task<Void, Never>?>(nil)
    private let login: String
    private let recipient: TestNode

    private init(login: String, recipient: TestNode) {
        self.login = login
        self.recipient = recipient
    }

    static func start(from sender: TestNode, to login: String, on recipient: TestNode) -> DeliveryStream {
        let stream = DeliveryStream(login: login, recipient: recipient)
        let peer = recipient.node.peer!
        let task = Task {
            var number = 0
            while !stream.state.withLockedValue({ $0.stopped }) {
                for _ in 0..<5 {
                    let line =
                        Array("from s: \(number) ".utf8) + Array(repeating: UInt8(ascii: "."), count: 40) + [
                            10
                        ]
                    let result = line.withUnsafeBytes {
                        sender.node.route($0, to: ByteBuffer(string: login), on: peer)
                    }
                    stream.state.withLockedValue { state in
                        if result == .queued || result == .queuedPeerBusy {
                            state.accepted.append(number)
                        } else {
                            state.refused[result, default: 0] += 1
                        }
                    }
                    number += 1
                }
                try? await Task.sleep(for: .milliseconds(1))
            }
        }
        stream.sending.withLockedValue { $0 = task }
        return stream
    }

    var acceptedCount: Int { state.withLockedValue { $0.accepted.count } }
    func refusals(_ result: RouteResult) -> Int { state.withLockedValue { $0.refused[result] ?? 0 } }

    /// Waits until `count` more deliveries have been accepted than now.
    func waitForMoreAccepted(_ count: Int) async throws {
        let target = acceptedCount + count
        do {
            try await waitUntil("\(count) more accepted deliveries") { acceptedCount >= target }
        } catch {
            let refused = state.withLockedValue { $0.refused }
            throw TestTimeout("\(error); \(target - acceptedCount) short, refused so far: \(refused)")
        }
    }

    /// Stops sending, waits for every accepted delivery, and checks them.
    func stopAndCheck(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        state.withLockedValue { $0.stopped = true }
        // Once it has stopped: a sender held up mid-round (by a loaded machine, longer than any
        // fixed wait) would otherwise add deliveries after the list below was taken.
        await sending.withLockedValue { $0 }?.value
        let accepted = state.withLockedValue { $0.accepted }
        let recipient = self.recipient
        let login = self.login
        let numbersReceived = {
            recipient.deliveries.filter { $0.login == login }.map { delivery in
                Int(String(decoding: delivery.bytes, as: UTF8.self).split(separator: " ")[2])!
            }
        }
        do {
            try await waitUntil("every accepted delivery", timeout: .seconds(60)) {
                recipient.deliveries.count { $0.login == login } >= accepted.count
            }
        } catch {
            // Slow, or lost: which one is worth more than the timeout alone.
            let missing = Set(accepted).subtracting(numbersReceived()).sorted()
            let account =
                "\(error): \(numbersReceived().count) of \(accepted.count) arrived; missing \(missing.count), "
                + "first \(missing.prefix(5)), accepted up to \(accepted.last ?? -1)"
            Issue.record(Comment(rawValue: account), sourceLocation: sourceLocation)
            throw error
        }
        let received = numbersReceived()
        #expect(received.count == accepted.count, sourceLocation: sourceLocation)
        #expect(received == accepted, "lost, repeated or out of order", sourceLocation: sourceLocation)
    }
}
