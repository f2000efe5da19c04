import ChatBench
import Testing

/// The checker must be able to fail: these feed it hand-made deliveries with the faults a
/// server could introduce.
@Suite struct CheckerTests {
    let names = ClientNames(tag: "t")
    let format = MessageFormat(bodyBytes: 40)

    /// Sender 0 sends to recipients 1 and 2 in a ring of 4.
    func makeChecker(messages: Int = 3) -> DeliveryChecker {
        DeliveryChecker(clients: 4, recipients: 2, messages: messages, format: format, names: names)
    }

    /// `from <sender's login>: <body>` exactly as the server would send it, without `\n`.
    func delivery(from sender: Int, sequence: Int, time: UInt64 = 1_000, login: String? = nil) -> [UInt8] {
        var body = [UInt8](repeating: 0, count: format.bodyBytes)
        body.withUnsafeMutableBytes {
            format.writeBody(sender: sender, sequence: sequence, time: time, to: $0.baseAddress!)
        }
        return Array("from \(login ?? names.sender(sender)): ".utf8) + body
    }

    @discardableResult
    func check(
        _ checker: DeliveryChecker, _ line: [UInt8], to recipient: Int, at now: UInt64 = 5_000
    ) -> DeliveryChecker.Outcome {
        line.withUnsafeBytes { checker.check($0, recipient: recipient, now: now) }
    }

    /// Every (sender, recipient) pair of the ring receives its three messages in order.
    func deliverAll(_ checker: DeliveryChecker, except skipped: (Int, Int, Int)? = nil) {
        for recipient in 0..<4 {
            for distance in 1...2 {
                let sender = (recipient - distance + 4) % 4
                for sequence in 0..<3 where skipped.map({ $0 != (sender, recipient, sequence) }) ?? true {
                    check(checker, delivery(from: sender, sequence: sequence), to: recipient)
                }
            }
        }
    }

    @Test func countsACompleteRunAsClean() {
        let checker = makeChecker()
        deliverAll(checker)
        #expect(checker.expected == 24)
        #expect(checker.received == 24)
        #expect(checker.lost == 0)
        #expect(checker.outOfOrder == 0)
        #expect(checker.corrupt == 0)
        #expect(checker.latency.count == 24)
        #expect(checker.latency.maximum == 4_000)
    }

    @Test func detectsALostMessage() {
        let checker = makeChecker()
        deliverAll(checker, except: (3, 1, 1))
        #expect(checker.lost == 1)
        #expect(checker.count(from: 3, to: 1) == 2)
        #expect(checker.outOfOrder == 0)
    }

    /// A message its sender never sent is not lost: the run ended before it was due.
    @Test func onlyWhatWasSentCanBeLost() {
        let checker = makeChecker()
        // Sender 0 sent its first two messages; recipient 1 got both, recipient 2 only the first.
        check(checker, delivery(from: 0, sequence: 0), to: 1)
        check(checker, delivery(from: 0, sequence: 1), to: 1)
        check(checker, delivery(from: 0, sequence: 0), to: 2)
        #expect(checker.lost(sent: { $0 == 0 ? 2 : 0 }) == 1)
        #expect(checker.lost(sent: { _ in 3 }) == checker.lost)
        #expect(checker.lost == 24 - 3)
    }

    @Test func detectsAReorderedMessage() {
        let checker = makeChecker()
        for sequence in [0, 2, 1] {
            #expect(check(checker, delivery(from: 0, sequence: sequence), to: 1) == .delivery(sender: 0))
        }
        #expect(checker.outOfOrder == 1)
        #expect(checker.count(from: 0, to: 1) == 3)
    }

    @Test func detectsADuplicate() {
        let checker = makeChecker(messages: 1)
        check(checker, delivery(from: 0, sequence: 0), to: 1)
        check(checker, delivery(from: 0, sequence: 0), to: 1)
        #expect(checker.surplus == 1)
        #expect(checker.outOfOrder == 1)
    }

    @Test func rejectsAlteredContent() {
        let checker = makeChecker()
        var line = delivery(from: 0, sequence: 1)
        line[line.count - 3] ^= 1
        #expect(check(checker, line, to: 1) == .corrupt)
        // The body of sender 0 under another sender's name.
        #expect(check(checker, delivery(from: 0, sequence: 0, login: names.sender(3)), to: 1) == .corrupt)
        // Sender 0 does not send to recipient 3, nor to itself.
        #expect(check(checker, delivery(from: 0, sequence: 0), to: 3) == .corrupt)
        #expect(check(checker, delivery(from: 0, sequence: 0), to: 0) == .corrupt)
        // A sequence number past the end of the run.
        #expect(check(checker, delivery(from: 0, sequence: 3), to: 1) == .corrupt)
        #expect(check(checker, Array("from x: hello".utf8), to: 1) == .corrupt)
        #expect(checker.corrupt == 6)
        #expect(checker.received == 0)
        #expect(checker.lost == 24)
    }

    @Test func countsNoticesApart() {
        let checker = makeChecker()
        #expect(check(checker, Array("error: 'bob' is not online".utf8), to: 1) == .notice)
        #expect(checker.notices == 1)
        #expect(checker.corrupt == 0)
        #expect(checker.samples == ["error: 'bob' is not online"])
    }

    /// Only the first senders send: one sender to three recipients in a ring of four.
    @Test func onlyTheSendersAreExpectedAndOwedCountsWhatARecipientStillLacks() {
        let checker = DeliveryChecker(
            clients: 4, senders: 1, recipients: 3, messages: 2, format: format, names: names)
        #expect(checker.expected == 6)
        // Client 1 sends nothing, so a delivery from it is not one of this run's.
        #expect(check(checker, delivery(from: 1, sequence: 0), to: 2) == .corrupt)
        check(checker, delivery(from: 0, sequence: 0), to: 1)
        check(checker, delivery(from: 0, sequence: 1), to: 1)
        check(checker, delivery(from: 0, sequence: 0), to: 2)
        #expect(checker.owed(to: 1) == 0)
        #expect(checker.owed(to: 2) == 1)
        #expect(checker.owed(to: 3) == 2)
        #expect(checker.owed(to: 0) == 0)
        #expect(checker.lost(sent: { $0 == 0 ? 2 : 0 }) == 3)
    }

    /// With several recipients, a message is complete when the last of them has it, timed from
    /// when it was sent.
    @Test func completionIsTheLastRecipientsTime() {
        let checker = DeliveryChecker(
            clients: 4, senders: 1, recipients: 3, messages: 2, format: format, names: names)
        #expect(checker.tracksCompletion)
        check(checker, delivery(from: 0, sequence: 0, time: 1_000), to: 1, at: 2_000)
        check(checker, delivery(from: 0, sequence: 0, time: 1_000), to: 3, at: 5_000)
        #expect(checker.completion.count == 0)
        check(checker, delivery(from: 0, sequence: 0, time: 1_000), to: 2, at: 9_000)
        #expect(checker.completion.count == 1)
        #expect(checker.completion.maximum == 8_000)
        #expect(checker.latency.count == 3)
        #expect(makeChecker().tracksCompletion)
        // One recipient: completion is the latency itself and is not kept twice.
        #expect(
            !DeliveryChecker(clients: 2, recipients: 1, messages: 1, format: format, names: names)
                .tracksCompletion)
    }

    @Test func bodiesRoundTrip() throws {
        var body = [UInt8](repeating: 0, count: format.bodyBytes)
        body.withUnsafeMutableBytes {
            format.writeBody(
                sender: 0xABCDE, sequence: 12_345_678, time: 0xFFF_FFFF_FFFF, to: $0.baseAddress!)
        }
        let header = try #require(body.withUnsafeBytes { format.parseHeader($0.baseAddress!) })
        #expect(header.sender == 0xABCDE)
        #expect(header.sequence == 12_345_678)
        #expect(header.time == 0xFFF_FFFF_FFFF)
        #expect(body.withUnsafeBytes { format.paddingMatches($0.baseAddress!, sequence: 12_345_678) })
        #expect(!body.withUnsafeBytes { format.paddingMatches($0.baseAddress!, sequence: 12_345_679) })
        #expect(body.allSatisfy { $0 > 0x20 && $0 < 0x7F })
    }
}

@Suite struct HistogramTests {
    @Test func percentilesAreWithinTheBucketPrecision() {
        let histogram = LatencyHistogram()
        for value in 1...10_000 { histogram.record(UInt64(value) * 1_000) }
        let p50 = Double(histogram.percentile(0.5))
        let p99 = Double(histogram.percentile(0.99))
        #expect(abs(p50 - 5_000_000) / 5_000_000 < 0.02)
        #expect(abs(p99 - 9_900_000) / 9_900_000 < 0.02)
        #expect(histogram.percentile(1) == 10_000_000)
        #expect(histogram.maximum == 10_000_000)
    }

    @Test func smallAndHugeValuesLand() {
        let histogram = LatencyHistogram()
        histogram.record(0)
        histogram.record(63)
        histogram.record(UInt64.max)
        #expect(histogram.count == 3)
        #expect(histogram.percentile(0.34) == 63)
        #expect(histogram.maximum == UInt64.max)
    }
}
