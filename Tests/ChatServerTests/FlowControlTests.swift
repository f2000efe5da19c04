import ChatTestSupport
import Foundation
import Testing

/// Issue 8's measurements, each with every line checked: a reader that reads, however slowly,
/// gets everything, in order, in bounded server memory, and nobody who reads is cut off.
@Suite(.loadsTheMachine) struct FlowControlTests {
    @Test func aSlowReaderGetsEverythingFromOneFastSender() async throws {
        let server = try await ServerProcess()
        let reader = try await loggedIn(
            "reader", port: server.port, receiveBufferBytes: 64 * 1024, readBytesPerSecond: 6_000_000)
        let sender = try await loggedIn("sender", port: server.port)
        let baseline = server.child.memory().residentKiB
        let flood = Flood(recipients: "reader", count: 30_000, textBytes: 1000)
        async let sent: Void = flood.send(from: sender)
        try await expectEveryLine(reader, from: ["sender"], of: flood)
        try await sent
        try await expectStillServed(reader, as: "reader")
        try await expectStillServed(sender, as: "sender")
        expectPeakGrowth(of: server, over: baseline, atMostMiB: 64)
    }

    @Test func aSlowReaderGetsEverythingFromTenSenders() async throws {
        let server = try await ServerProcess()
        let reader = try await loggedIn(
            "reader", port: server.port, receiveBufferBytes: 64 * 1024, readBytesPerSecond: 4_000_000)
        var senders: [LineClient] = []
        for index in 0..<10 { senders.append(try await loggedIn("s\(index)", port: server.port)) }
        let baseline = server.child.memory().residentKiB
        let flood = Flood(recipients: "reader", count: 2000, textBytes: 1000)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for sender in senders { group.addTask { try await flood.send(from: sender) } }
            try await expectEveryLine(reader, from: (0..<10).map { "s\($0)" }, of: flood)
            try await group.waitForAll()
        }
        try await expectStillServed(reader, as: "reader")
        expectPeakGrowth(of: server, over: baseline, atMostMiB: 64)
    }

    @Test func aStuckRecipientHoldsItsSendersBackOnlyUntilTheStallTimeout() async throws {
        // A long drain timeout: the stuck one takes its last lines only once the readers are done.
        let server = try await ServerProcess(arguments: ["--stall-timeout", "2", "--drain-timeout", "600"])
        let stuck = try await loggedIn("stuck", port: server.port, receiveBufferBytes: 64 * 1024)
        let readers = [
            try await loggedIn("r1", port: server.port), try await loggedIn("r2", port: server.port),
        ]
        let sender = try await loggedIn("sender", port: server.port)
        try await stuck.stopReading()
        let baseline = server.child.memory().residentKiB
        let flood = Flood(recipients: "stuck, r1, r2", count: 20_000, textBytes: 1000)
        // Were the readers held until the stuck one left, and no longer, every line arrives; were
        // they held for good, a line would time out.
        async let sent: Void = flood.send(from: sender)
        for reader in readers {
            try await expectEveryLine(reader, from: ["sender"], of: flood)
        }
        try await sent
        // The stuck one was cut off: what was queued for it, then the reason, then the end.
        try await stuck.resumeReading()
        let rest = try await stuck.readToEnd()
        #expect(rest.last?.hasPrefix("error: you read nothing for 2 seconds") == true, "\(rest.suffix(2))")
        #expect(!stuck.wasReset)
        // Only the lines before the cut-off reached it, and the sender heard it left.
        #expect(rest.count < flood.count)
        expectPeakGrowth(of: server, over: baseline, atMostMiB: 64)
    }

    /// Linux grows a socket's send buffer past a megabyte and lets the server write again only
    /// once much of it has drained: a reader taking 4 KB every 100 ms left the server nothing to
    /// write for longer than the stall timeout, though it read all the while, and was cut off.
    @Test func aReaderThatReadsSlowlyButSteadilyIsNotTakenForStalled() async throws {
        let server = try await ServerProcess(arguments: [
            "--stall-timeout", "2", "--soft-queue-bytes", "65536", "--log-level", "notice",
        ])
        let reader = try SlowRawReader(port: server.port, login: "reader")
        defer { reader.close() }
        let sender = try await loggedIn("sender", port: server.port)
        let flood = Flood(recipients: "reader", count: 20_000, textBytes: 200)
        let sending = Task { try await flood.send(from: sender) }
        // Four stall timeouts of slow reading, with the queue full all along: the flood is 4 MB.
        var received: [UInt8] = []
        for _ in 0..<80 {
            try await Task.sleep(for: .milliseconds(100))
            guard let bytes = reader.take(upTo: 4096) else { break }
            received += bytes
        }
        // A reader cut off would see its notice only after the megabytes queued before it: the
        // log says it at once.
        #expect(!server.child.stderr.contains("cut off"), "\(server.child.stderr)")
        #expect(reader.isOpen)
        #expect(received.count > 160_000, "the reader read \(received.count) bytes")
        let lines = String(decoding: received, as: UTF8.self).split(separator: "\n")
        #expect(
            lines.allSatisfy { $0.hasPrefix("from sender: ") },
            "\(lines.last { !$0.hasPrefix("from") } ?? "")")
        await sender.close()
        _ = await sending.result
    }

    @Test func aRingOfFloodersDeliversEverythingToEveryone() async throws {
        let server = try await ServerProcess()
        let size = 20
        var clients: [LineClient] = []
        for index in 0..<size { clients.append(try await loggedIn("c\(index)", port: server.port)) }
        let baseline = server.child.memory().residentKiB
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<size {
                let flood = Flood(recipients: "c\((index + 1) % size)", count: 1500, textBytes: 1000)
                let client = clients[index]
                group.addTask { try await flood.send(from: client) }
                group.addTask {
                    try await expectEveryLine(client, from: ["c\((index + size - 1) % size)"], of: flood)
                }
            }
            try await group.waitForAll()
        }
        for (index, client) in clients.enumerated() { try await expectStillServed(client, as: "c\(index)") }
        expectPeakGrowth(of: server, over: baseline, atMostMiB: 64)
    }

    @Test func aReaderOfHugeLinesIsNotCutOff() async throws {
        let server = try await ServerProcess()
        let reader = try await loggedIn("reader", port: server.port, receiveBufferBytes: 128 * 1024)
        let sender = try await loggedIn("sender", port: server.port)
        let baseline = server.child.memory().residentKiB
        let flood = Flood(recipients: "reader", count: 600, textBytes: 60 * 1024)
        async let sent: Void = flood.send(from: sender)
        try await expectEveryLine(reader, from: ["sender"], of: flood)
        try await sent
        try await expectStillServed(reader, as: "reader")
        expectPeakGrowth(of: server, over: baseline, atMostMiB: 64)
    }

    /// Every line earns a notice (26 bytes for 3), sent in one burst that the server takes in few
    /// reads; the client reads the notices as they come. It is held back while its own queue is
    /// full, never cut off.
    @Test func aClientThatReadsItsOwnNoticesGetsThemAll() async throws {
        let server = try await ServerProcess()
        let client = try await loggedIn("mona", port: server.port)
        let count = 100_000
        async let sent: Void = client.sendRaw(String(repeating: "z:\n", count: count))
        for index in 0..<count {
            let line = try #require(try await client.readLine(), "closed after \(index) notices")
            try #require(line == "error: 'z' is not online", "notice \(index): \(line.prefix(120))")
        }
        try await sent
        try await expectStillServed(client, as: "mona")
    }

    /// One line naming 13,000 absent people, each quoted as code points in its notice: 620 KB of
    /// notices, twice the queue's limit. Its sender was cut off as too slow, reading all the while;
    /// the notices now stop where the queue's room ends, and one counts the rest.
    @Test func oneLineWithMoreAbsentRecipientsThanTheQueueHoldsEarnsACountOfTheRest() async throws {
        let server = try await ServerProcess(arguments: [
            "--max-queue-bytes", "300000", "--soft-queue-bytes", "100000",
        ])
        let client = try await loggedIn("mona", port: server.port)
        // Control characters that are not white space, which trimming would take off the names.
        let controls = (Array(1...8) + Array(14...31)).compactMap { Unicode.Scalar($0).map(String.init) }
        let names = controls.flatMap { a in controls.flatMap { b in controls.map { c in a + b + c } } }
            .prefix(13_000)
        try await client.send(names.joined(separator: ",") + ": hello")
        var named = 0
        var last = "(closed)"
        while let line = try await client.readLine() {
            guard line.hasSuffix("' is not online") else {
                last = line
                break
            }
            named += 1
        }
        #expect(named > 1000 && named < names.count, "\(named) named")
        #expect(
            last
                == "error: and \(names.count - named) more recipients are not online (too many to name one by one)"
        )
        try await expectStillServed(client, as: "mona")
    }

    @Test func anUnrelatedPairStaysResponsiveDuringAFlood() async throws {
        let server = try await ServerProcess()
        let reader = try await loggedIn(
            "reader", port: server.port, receiveBufferBytes: 64 * 1024, readBytesPerSecond: 2_000_000)
        var flooders: [LineClient] = []
        for index in 0..<5 { flooders.append(try await loggedIn("f\(index)", port: server.port)) }
        let ping = try await loggedIn("ping", port: server.port)
        let pong = try await loggedIn("pong", port: server.port)
        let quiet = median(try await roundTrips(ping, pong))
        let flood = Flood(recipients: "reader", count: 3000, textBytes: 1000)
        let floodBytes = 5 * 3000 * 1000
        try await withThrowingTaskGroup(of: Void.self) { group in
            for flooder in flooders { group.addTask { try await flood.send(from: flooder) } }
            group.addTask { try await expectEveryLine(reader, from: (0..<5).map { "f\($0)" }, of: flood) }
            // Once the flood has the reader's queue full and its senders held back.
            try await waitUntil(timeout: .seconds(30)) { reader.receivedByteCount > 1_000_000 }
            // Up to thirty round trips, each begun while the flood is still going (the reader
            // takes its 15 MB at 2 MB/s) and 3 MB before its end: however slow a loaded machine
            // makes them, they are taken during the flood, not after it. Thirty of them used to
            // have to end before the flood did, which a loaded sanitizer run could miss.
            let during = try await roundTrips(ping, pong) { reader.receivedByteCount < floodBytes * 4 / 5 }
            #expect(during.count >= 5, "only \(during.count) round trips before the flood neared its end")
            let flooded = median(during)
            // About a millisecond either way on an idle machine, 104 ms once on a loaded one; a
            // pair held back with the flood's senders would wait for the reader, seconds.
            #expect(
                flooded < max(.seconds(1), quiet * 5),
                "median round trip \(flooded) during the flood, \(quiet) before it")
            try await group.waitForAll()
        }
    }

    /// Thirty round trips between `ping` and `pong`, fewer if `going` stops holding before one.
    private func roundTrips(
        _ ping: LineClient, _ pong: LineClient, while going: () -> Bool = { true }
    ) async throws -> [Duration] {
        var roundTrips: [Duration] = []
        for round in 0..<30 {
            guard going() else { break }
            let sent = ContinuousClock.now
            try await ping.send("pong: \(round)")
            #expect(try await pong.readLine() == "from ping: \(round)")
            try await pong.send("ping: \(round)")
            #expect(try await ping.readLine() == "from pong: \(round)")
            roundTrips.append(ContinuousClock.now - sent)
        }
        return roundTrips
    }

    private func median(_ durations: [Duration]) -> Duration {
        durations.isEmpty ? .zero : durations.sorted()[durations.count / 2]
    }
}

/// A reader below NIO: a blocking client's pattern, a small receive buffer that it empties now
/// and then with one `recv`, so that the server's side sees zero windows in between.
private final class SlowRawReader {
    private let descriptor: CInt
    private(set) var isOpen = true

    init(port: Int, login: String) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var size: CInt = 4096
        setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<CInt>.size))
        guard connectToLoopback(descriptor, port: port) == 0 else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        let line = Array("\(login)\n".utf8)
        guard send(descriptor, line, line.count, 0) == line.count else { throw POSIXError(.EIO) }
    }

    /// What one `recv` finds, if anything; nil once the server has closed the connection.
    func take(upTo limit: Int) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: limit)
        let count = recv(descriptor, &buffer, limit, Int32(MSG_DONTWAIT))
        if count == 0 || (count < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            isOpen = false
            return nil
        }
        return Array(buffer.prefix(max(count, 0)))
    }

    func close() { _ = Glibc.close(descriptor) }
}
