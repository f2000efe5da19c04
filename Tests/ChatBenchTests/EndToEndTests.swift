import ChatBench
import ChatServer
import ChatTestSupport
import Foundation
import NIOCore
import NIOPosix
import Testing

/// chat-bench against the real server: small runs that must check clean and report figures.
@Suite struct EndToEndTests {
    /// The value after `key` in `text`, up to the next comma or space.
    func number(after key: String, in text: String) -> Double? {
        guard let range = text.range(of: key) else { return nil }
        let rest = text[range.upperBound...].drop { $0 == " " }
        return Double(rest.prefix { $0.isNumber || $0 == "." })
    }

    @Test(.loadsTheMachine) func theExecutableChecksARunAgainstTheServerProcess() async throws {
        let server = try await ServerProcess()
        let bench = try ChildProcess(
            ChildProcess.executable("chat-bench"),
            [
                "--port", "\(server.port)", "--server-pid", "\(server.child.pid)",
                "--clients", "20", "--messages", "200", "--recipients", "3",
            ]
        )
        let status = try await bench.waitForExit(timeout: .seconds(30))
        let output = bench.stdout
        #expect(status == 0, "\(output)\n\(bench.stderr)")
        #expect(output.contains("deliveries: expected 12000, received 12000, lost 0, out-of-order 0"))
        #expect(output.contains("result: PASS"))
        #expect((number(after: "throughput:", in: output) ?? 0) > 0)
        let p99 = try #require(number(after: "p99", in: output))
        let max = try #require(number(after: "max", in: output))
        #expect(p99 > 0 && p99 <= max)
        #expect((number(after: "idle", in: output) ?? 0) > 0)
        #expect((number(after: "peak", in: output) ?? 0) > 0)
        #expect((number(after: "server", in: output.components(separatedBy: "cpu:").last ?? "") ?? -1) >= 0)
    }

    /// A port below the kernel's ephemeral range: a freed one of its own could be taken again by
    /// another test's listener, or be the bench's own source port (a connection to itself). Once
    /// in CI, with 10,000 ports of a login test waiting out their close beside it, no refusal
    /// came and the bench ran for 21 s.
    @Test func noServerIsOneLineAndStatus2() async throws {
        let port = try SparePort.take()
        let bench = try ChildProcess(ChildProcess.executable("chat-bench"), ["--port", "\(port)"])
        #expect(try await bench.waitForExit() == 2)
        #expect(bench.stderr == "chat-bench: cannot connect to 127.0.0.1:\(port): connection refused\n")
    }

    /// The bench waits out up to two minutes without progress: once in CI, with the suites'
    /// PostgreSQL servers starting beside it (50 s of other processes' CPU in the row), nothing
    /// moved for the default 10 s and the row was given up as stalled.
    @Test(.loadsTheMachine) func scenariosSpawnTheirOwnServerAndPrintOneTable() async throws {
        let bench = try ChildProcess(
            ChildProcess.executable("chat-bench"),
            [
                "--scenarios", "--only", "100x2000x1", "--stall-timeout", "120",
                "--spawn-server", ChildProcess.executable("chat-server").path,
            ]
        )
        let status = try await bench.waitForExit(timeout: .seconds(300))
        let output = bench.stdout
        #expect(status == 0, "\(output)\n\(bench.stderr)")
        let lines = output.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("scenario ") && $0.contains("deliveries/s") }, "\(output)")
        #expect(lines.contains { $0.hasPrefix("100x2000x1 ") }, "\(output)")
        #expect(output.contains("result: PASS"))
    }

    /// Sending at a fixed rate, through the library against a server in this process.
    @Test func aPacedRun() async throws {
        let result = try await runAgainstTestServer {
            $0.clients = 10
            $0.messages = 100
            $0.recipients = 2
            $0.rate = 200
            $0.serverPIDs = [getpid()]
        }
        #expect(result.passed, "\(Report.describe(result))")
        #expect(result.received == 10 * 100 * 2)
        // 100 messages at 200 per second: the last goes out after about half a second.
        #expect(result.runSeconds >= 0.45)
        #expect(result.latencyP50 > 0)
    }

    /// A reader that never reads is cut off by the server once it has taken nothing for the
    /// server's stall timeout (a second here, well inside the bench's own ten), and the others
    /// lose nothing.
    @Test(.loadsTheMachine) func aSlowReaderIsCutOffAndTheOthersGetEverything() async throws {
        let result = try await runAgainstTestServer(stallTimeout: .seconds(1)) {
            $0.clients = 5
            // 10 MB for the slow reader: more than the kernel buffers between it and the server hold.
            $0.messages = 2000
            $0.payloadBytes = 1024
            $0.recipients = 1
            $0.slowReaders = 1
        }
        #expect(result.passed, "\(Report.describe(result))")
        #expect(result.received == 5 * 2000)
        #expect(result.slowReadersCutOff == 1)
        #expect(result.notices > 0)
    }

    /// The table's `slow-reader` row waits longer than a server's default stall timeout (10 s),
    /// so that the server's cut-off shows in it rather than the run ending as stalled first; a
    /// longer `--stall-timeout` given is kept.
    @Test func theSlowReaderRowOutwaitsTheServersStallTimeout() throws {
        let row = try #require(Scenario.standard.first { $0.name == "slow-reader" })
        #expect(row.configuration(basedOn: BenchConfiguration()).stallTimeoutSeconds > 10)
        var patient = BenchConfiguration()
        patient.stallTimeoutSeconds = 60
        #expect(row.configuration(basedOn: patient).stallTimeoutSeconds == 60)
    }

    /// A throttled reader takes what it is sent no faster than its rate: 400 kB at 400 kB/s
    /// cannot arrive in much under a second, however fast the machine (the first burst of 8 kB
    /// is free, and the last read may take one burst before it is paid for).
    @Test func aThrottledReaderKeepsToItsRate() async throws {
        let result = try await runAgainstTestServer {
            $0.clients = 2
            $0.senders = 1
            $0.messages = 400
            $0.payloadBytes = 1000
            $0.floods = true
            $0.readerRate = 400_000
        }
        #expect(result.passed, "\(Report.describe(result))")
        #expect(result.received == 400)
        #expect(result.runSeconds >= 0.95, "\(Report.describe(result))")
        #expect(Report.describe(result).contains("flood (no window), each reading at most 400000 B/s"))
    }

    /// A reader that reads next to nothing, flooded without a window with more than the kernel's
    /// buffers hold: the server cuts it off once it has taken nothing for the server's stall
    /// timeout. The bench says so apart from the loss, and ends the run when nothing more can
    /// arrive, not at its own stall timeout.
    @Test(.loadsTheMachine) func aReaderTheServerCutsOffIsReportedApartFromTheLoss() async throws {
        let bench = try ChildProcess(
            ChildProcess.executable("chat-bench"),
            [
                "--spawn-server", ChildProcess.executable("chat-server").path,
                "--spawn-arg", "--port", "--spawn-arg", "0", "--spawn-arg", "--stall-timeout",
                "--spawn-arg", "1", "--spawn-arg", "--drain-timeout", "--spawn-arg", "1",
                "--clients", "2", "--senders", "1", "--messages", "20000",
                "--payload-bytes", "1024", "--flood", "--reader-rate", "1", "--stall-timeout", "3600",
            ])
        #expect(try await bench.waitForExit(timeout: .seconds(120)) == 1, "\(bench.stderr)")
        let output = bench.stdout
        let lines = output.split(separator: "\n").map(String.init)
        #expect(
            lines.contains(
                "cut off: 1 of 2 clients closed by the server mid-run (what they were sent and never got is lost)"
            ),
            "\(output)")
        let deliveries = try #require(lines.first { $0.hasPrefix("deliveries:") }, "\(output)")
        #expect(!deliveries.contains("stalled"))
        let received = try #require(number(after: "received", in: deliveries))
        let lost = try #require(number(after: "lost", in: deliveries))
        #expect(lost > 0 && received + lost == 20000, "\(output)")
        #expect(!output.contains("run ended:"), "\(output)")
        #expect(output.hasSuffix("result: FAIL\n"))
    }

    /// One run through the library against a server in this process.
    func runAgainstTestServer(
        stallTimeout: TimeAmount = .seconds(10), _ change: (inout BenchConfiguration) -> Void
    ) async throws -> BenchResult {
        let server = try await startTestServer(
            configuration: .forTests.with { $0.stallTimeout = stallTimeout })
        var configuration = BenchConfiguration()
        configuration.servers = [ServerAddress(host: "127.0.0.1", port: server.port)]
        change(&configuration)
        let result = try await offThePool { [configuration, group] in try Bench.run(configuration, on: group)
        }
        await server.shutdown()
        return result
    }

    let group = MultiThreadedEventLoopGroup.singleton
}
