import ChatBench
import Testing

/// The single-run report's wording, from hand-made results.
@Suite struct ReportTests {
    func result(_ change: (inout BenchConfiguration) -> Void) -> BenchResult {
        var configuration = BenchConfiguration()
        change(&configuration)
        return BenchResult(configuration: configuration)
    }

    func lines(_ result: BenchResult) -> [String] {
        Report.describe(result).split(separator: "\n").map(String.init)
    }

    @Test func oneOfEachIsSingular() {
        let report = lines(
            result {
                $0.clients = 2
                $0.messages = 1
                $0.recipients = 1
                $0.slowReaders = 1
                $0.rate = 0.5
            })
        #expect(
            report[0]
                == "run: 2 clients x 1 message x 1 recipient, 32-byte bodies, 0.5 msg/s per client, 1 slow reader"
        )
        #expect(report[1].hasPrefix("login: 3 clients in "))
        let one = lines(
            result {
                $0.clients = 1
                $0.messages = 0
                $0.recipients = 0
            })
        #expect(one[0] == "run: 1 client x 0 messages x 0 recipients, 32-byte bodies")
        #expect(one[1].hasPrefix("login: 1 client in "))
    }

    @Test func aWholeRateHasNoFractionAndAnUnpacedRunShowsItsWindow() {
        #expect(lines(result { $0.rate = 100 })[0].hasSuffix(", 100 msg/s per client"))
        #expect(lines(result { $0.window = 7 })[0].hasSuffix(", unlimited rate, window 7"))
    }

    @Test func nothingArrivedHasNoLatency() {
        #expect(lines(result { _ in })[4] == "latency: p50 -, p99 -, max -")
    }

    @Test func memoryPerConnectionOnlyWithAThousandConnections() {
        func memory(clients: Int) -> String? {
            var result = result {
                $0.clients = clients
                $0.serverPIDs = [1]
            }
            result.serverBaselineKiB = 1000
            result.serverIdleKiB = 2000
            return lines(result).first { $0.hasPrefix("server rss:") }
        }
        #expect(memory(clients: 5) == "server rss: baseline 1000 KiB, idle 2000 KiB, peak - KiB")
        #expect(memory(clients: 1000)?.hasSuffix(", 1.00 KiB per idle connection") == true)
    }

    @Test func aRunCutShortSaysWhyAndWhatWasNotSentAndEndsWithTheResult() {
        var cut = result {
            $0.clients = 5
            $0.messages = 10
            $0.recipients = 2
        }
        cut.expected = 100
        cut.received = 30
        cut.lost = 2
        cut.notSent = 34
        cut.endReason = "the server exited (signal 9)"
        let report = lines(cut)
        #expect(report.contains("not sent: 34 messages (68 deliveries, neither received nor lost)"))
        #expect(report.contains("run ended: the server exited (signal 9)"))
        #expect(report.last == "result: FAIL")
        #expect(!cut.passed)
    }
}
