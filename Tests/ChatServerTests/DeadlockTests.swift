import ChatServer
import ChatTestSupport
import Foundation
import NIOCore
import Testing

/// Flow control must never deadlock: each of these ends within the stall timeout (two seconds
/// here: long enough for a loaded machine to observe who waits on whom before it runs out), and
/// whatever was accepted for a reader that reads still reaches it.
@Suite(.loadsTheMachine) struct DeadlockTests {
    let stallTimeout = TimeAmount.seconds(2)
    /// Short limits, so a few hundred lines fill a queue.
    var configuration: ChatServerConfiguration {
        .forTests.with {
            $0.softQueueBytes = 64 * 1024
            $0.lowWaterQueueBytes = 32 * 1024
            $0.stallTimeout = stallTimeout
        }
    }

    /// For tests about something other than stalls: nobody is cut off for taking nothing. On one
    /// loop, so that a sender is surely held back: across loops it is held back only once the
    /// recipient's loop has taken its mail, and a loop that lags (a CI run under the sanitizer)
    /// may take all of a 6 MB flood from its inbox after the sender sent its last line.
    var patient: ChatServerConfiguration {
        configuration.with {
            $0.stallTimeout = .seconds(600)
            $0.eventLoops = 1
        }
    }

    @Test func aClientFloodingItselfWithoutReadingIsCutOffAtTheStallTimeout() async throws {
        try await withServer(configuration: configuration) { server in
            let loner = try await loggedIn("loner", port: server.port, receiveBufferBytes: 16 * 1024)
            let other = try await loggedIn("other", port: server.port)
            try await loner.stopReading()
            let flooding = Task {
                try await Flood(recipients: "loner", count: 20_000, textBytes: 500).send(from: loner)
            }
            try await waitUntil(timeout: .seconds(60)) { try await server.onlineCount() == 1 }
            try await expectStillServed(other, as: "other")
            try await loner.resumeReading()
            let lines = try await loner.readToEnd(timeout: .seconds(20))
            #expect(lines.last?.hasPrefix("error: you read nothing for 2 seconds") == true)
            flooding.cancel()
        }
    }

    @Test func twoClientsFloodingEachOtherWithoutReadingDoNotHoldEachOtherForever() async throws {
        try await withServer(configuration: configuration) { server in
            let alice = try await loggedIn("alice", port: server.port, receiveBufferBytes: 16 * 1024)
            let bob = try await loggedIn("bob", port: server.port, receiveBufferBytes: 16 * 1024)
            let carol = try await loggedIn("carol", port: server.port)
            try await alice.stopReading()
            try await bob.stopReading()
            let floods = [(alice, "bob"), (bob, "alice")].map { client, target in
                Task { try await Flood(recipients: target, count: 20_000, textBytes: 500).send(from: client) }
            }
            // Each waits on the other's full queue: the first to stall is cut off, which lets the
            // other go on (its later lines earn it notices, which may stall it in turn).
            try await waitUntil(timeout: .seconds(60)) { try await server.onlineCount() <= 2 }
            try await waitUntil(timeout: .seconds(60)) { try await server.pausedSenderCount() == 0 }
            try await expectStillServed(carol, as: "carol")
            for flood in floods { flood.cancel() }
        }
    }

    @Test func aChainOfWaitsUnwinds() async throws {
        try await withServer(configuration: configuration) { server in
            // a floods b, b floods c; b and c never read; a reads. Whichever of b and c stalls
            // first is cut off, which lets its waiting sender go on; b, whom a waits on, takes
            // nothing either and is cut off in turn.
            let a = try await loggedIn("a", port: server.port)
            let b = try await loggedIn("b", port: server.port, receiveBufferBytes: 16 * 1024)
            let c = try await loggedIn("c", port: server.port, receiveBufferBytes: 16 * 1024)
            try await b.stopReading()
            try await c.stopReading()
            let bToC = Task { try await Flood(recipients: "c", count: 20_000, textBytes: 500).send(from: b) }
            let aToB = Task { try await Flood(recipients: "b", count: 20_000, textBytes: 500).send(from: a) }
            var heardBLeft = false
            while let line = try await a.readLine(timeout: .seconds(60)) {
                if line == "error: 'b' is not online" {
                    heardBLeft = true
                    break
                }
            }
            #expect(heardBLeft)
            try await waitUntil(timeout: .seconds(60)) { try await server.pausedSenderCount() == 0 }
            aToB.cancel()
            bToC.cancel()
        }
    }

    @Test func aSenderWaitingOnARecipientThatLeavesGoesOn() async throws {
        // The recipient leaves, rather than being cut off: no stall timeout here.
        try await withServer(configuration: patient) { server in
            let sender = try await loggedIn("sender", port: server.port)
            let leaver = try await loggedIn("leaver", port: server.port, receiveBufferBytes: 16 * 1024)
            try await leaver.stopReading()
            let flooding = Task {
                try await Flood(recipients: "leaver", count: 20_000, textBytes: 500).send(from: sender)
            }
            try await waitUntil(timeout: .seconds(60)) { try await server.pausedSenderCount() == 1 }
            await leaver.close()
            try await flooding.value
            // The lines after it left earn notices; nothing is stuck.
            var notices = 0
            while notices == 0, let line = try await sender.readLine() {
                if line == "error: 'leaver' is not online" { notices += 1 }
            }
            try await waitUntil { try await server.pausedSenderCount() == 0 }
        }
    }

    @Test func endOfInputWhileHeldBackStillDeliversEverything() async throws {
        // The reader takes nothing until the sender has ended its input: no stall timeout here.
        try await withServer(configuration: patient, logLevel: .notice) { server in
            let reader = try await loggedIn("reader", port: server.port, receiveBufferBytes: 16 * 1024)
            let sender = try await loggedIn("sender", port: server.port)
            try await reader.stopReading()
            // More than the kernel buffers toward the reader hold (4 MiB at most here), so the
            // sender is held back; less than they and the sender's own buffers hold, so all of it
            // leaves the sender.
            let flood = Flood(recipients: "reader", count: 6000, textBytes: 1000)
            try await flood.send(from: sender)
            try await waitUntil(timeout: .seconds(60)) { try await server.pausedSenderCount() == 1 }
            try await sender.closeOutput()
            try await reader.resumeReading()
            try await expectEveryLine(reader, from: ["sender"], of: flood)
            // Having sent everything and ended its input, the sender is closed in order.
            #expect(try await sender.readToEnd() == [])
            #expect(!sender.wasReset)
        }
    }

    /// Across loops a sender is held back once the reader's loop has taken its mail and found
    /// the reader's queue full, or once that loop's inbox is full (a quarter of the loop's share
    /// of the budget: 2 MiB here). The flood is many times all of that and the kernel's buffers,
    /// so however far the reader's loop lags the sender is held back before it ends; then,
    /// once the reader reads, every line arrives in order.
    @Test func aSenderIsHeldBackByAReaderOnAnotherLoop() async throws {
        let acrossLoops = patient.with {
            $0.eventLoops = 2
            $0.queueBudgetBytes = 16 * 1024 * 1024
        }
        try await withServer(configuration: acrossLoops) { server in
            let reader = try await loggedIn("reader", port: server.port, receiveBufferBytes: 16 * 1024)
            let sender = try await loggedIn("sender", port: server.port)
            let readerLoop = try #require(try await server.loopIndex(ofLogin: "reader"))
            let senderLoop = try #require(try await server.loopIndex(ofLogin: "sender"))
            try #require(readerLoop != senderLoop)
            try await reader.stopReading()
            let flood = Flood(recipients: "reader", count: 40_000, textBytes: 1000)
            let flooding = Task { try await flood.send(from: sender) }
            try await waitUntil(timeout: .seconds(60)) { try await server.pausedSenderCount() == 1 }
            try await reader.resumeReading()
            try await expectEveryLine(reader, from: ["sender"], of: flood)
            try await flooding.value
        }
    }

    @Test func aStalledReaderHeldItsSenderAndIsCutOffInOrder() async throws {
        try await withServer(configuration: configuration) { server in
            let slow = try await loggedIn("slow", port: server.port, receiveBufferBytes: 16 * 1024)
            let fast = try await loggedIn("fast", port: server.port)
            try await slow.stopReading()
            let flood = Flood(recipients: "slow", count: 5000, textBytes: 1000)
            let flooding = Task { try await flood.send(from: fast) }
            try await waitUntil(timeout: .seconds(60)) { try await server.onlineCount() == 1 }
            try await flooding.value
            try await slow.resumeReading()
            // What was queued before the cut-off arrives whole and in order, then the reason.
            let rest = try await slow.readToEnd(timeout: .seconds(20))
            #expect(
                rest.last
                    == "error: you read nothing for 2 seconds while messages waited for you; disconnecting"
            )
            for (sequence, line) in rest.dropLast().enumerated() {
                try #require(line == "from fast: \(flood.text(sequence))")
            }
            #expect(!slow.wasReset)
            // The sender goes on: past the notices for the flood's tail, which the server may
            // still be reading (it left the client, not the server), its own line comes back.
            // Only then is the whole flood read, so none of it can reach the login taken again.
            try await fast.send("fast: flood over")
            var echo = try await fast.readLine()
            while echo?.hasPrefix("error: ") == true { echo = try await fast.readLine() }
            #expect(echo == "from fast: flood over")
            // The freed login can be taken again.
            let again = try await loggedIn("slow", port: server.port)
            try await fast.send("slow: welcome back")
            #expect(try await again.readLine() == "from fast: welcome back")
        }
    }
}

@Suite struct ShutdownWhileHeldBackTests {
    /// The stuck reader never reads, and with stall and drain timeouts of 600 s only the
    /// shutdown's grace period (3 s) can close it: a server that waited on its held-back senders,
    /// or for a stall or a drain, would overrun the wait below by minutes.
    @Test func aServerWithHeldBackSendersStillStopsPromptly() async throws {
        let server = try await ServerProcess(arguments: [
            "--soft-queue-bytes", "65536", "--stall-timeout", "600", "--drain-timeout", "600",
        ])
        let stuck = try await loggedIn("stuck", port: server.port, receiveBufferBytes: 16 * 1024)
        let sender = try await loggedIn("sender", port: server.port)
        try await stuck.stopReading()
        let flooding = Task {
            try await Flood(recipients: "stuck", count: 20_000, textBytes: 500).send(from: sender)
        }
        // Time for the flood to fill the stuck reader's queue, so the sender is held back when
        // the signal comes (if it were not yet, the test would only be weaker, not wrong).
        try await Task.sleep(for: .seconds(1))
        server.child.signal(SIGTERM)
        #expect(try await server.child.waitForExit(timeout: .seconds(60)) == 0)
        #expect(try await sender.readToEnd().last == "error: server is shutting down")
        flooding.cancel()
    }
}
