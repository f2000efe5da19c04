import ChatTestSupport
import Foundation
import NIOPosix
import Synchronization
import Testing

@testable import ChatBench

/// The table against a second server: runs alternate, each figure is a median with A/B.
@Suite struct ComparisonTests {
    static let tutorialServer = TestFixtures.path("tutorial_server.py")
    let ours = ServerSource.spawn(
        SpawnCommand(
            executable: ChildProcess.executable("chat-server").path, arguments: ["--port", "0"],
            startTimeoutSeconds: 30),
        count: 1)
    let tutorial = ServerSource.spawn(
        SpawnCommand(executable: "python3", arguments: [tutorialServer, "0"], startTimeoutSeconds: 30),
        count: 1)

    /// Our server against the tutorial's, a small scenario twice each: A, B, then B, A, so that
    /// neither always goes first.
    @Test func runsAlternateAndEveryRunIsKept() async throws {
        let small = Scenario(name: "small", clients: 10, messages: 50, recipients: 2)
        let progress = Mutex<[String]>([])
        let (ours, tutorial) = (self.ours, self.tutorial)
        let rows = try await offThePool {
            try ScenarioRunner.compare(
                [small], base: BenchConfiguration(), a: ours, b: tutorial, repeats: 2,
                on: MultiThreadedEventLoopGroup.singleton,
                progress: { line in progress.withLock { $0.append(line) } })
        }
        let labels = progress.withLock { $0.map { $0.split(separator: ":").first.map(String.init) ?? "" } }
        #expect(labels == ["small A", "small B", "small B", "small A"], "\(progress.withLock { $0 })")
        let row = try #require(rows.first)
        #expect(row.a.count == 2 && row.b.count == 2)
        #expect((row.a + row.b).allSatisfy { $0.passed && $0.received == 1000 && $0.serverPeakKiB != nil })
        let table = Report.comparisonTable(rows).split(separator: "\n")
        let header = table[0].split(separator: " ")
        #expect(Array(header.prefix(8)) == ["scenario", "deliveries/s", "A", "B", "A/B", "p50", "ms", "A"])
        #expect(table[1].hasPrefix("small "))
    }

    @Test func figuresAreMediansAndRatiosOfA() throws {
        func run(_ deliveriesPerSecond: Double, lost: Int = 0) -> BenchResult {
            var configuration = BenchConfiguration()
            configuration.clients = 2
            configuration.messages = 1
            var result = BenchResult(configuration: configuration)
            result.received = Int(deliveriesPerSecond)
            result.runSeconds = 1
            result.lost = lost
            return result
        }
        let row = ScenarioRunner.Comparison(
            name: "r", a: [run(300), run(100), run(200)], b: [run(50), run(150, lost: 3)])
        let table = Report.comparisonTable([row]).split(separator: "\n")
        let cells = table[1].split(separator: " ").map(String.init)
        // Median of A: 200; of B: (50 + 150) / 2 = 100; A/B 2.
        #expect(Array(cells[0...3]) == ["r", "200", "100", "2.00"], "\(table)")
        #expect(Array(cells.suffix(5)) == ["0/3", "1/2", "B:", "lost", "3"], "\(table)")
        #expect(Report.median([]) == nil)
        #expect(Report.median([3]) == 3)
    }

    /// The executable, with a second copy of our server, set up otherwise, as B.
    @Test func theCommandPrintsBothServersAndOneTable() async throws {
        let server = ChildProcess.executable("chat-server").path
        let bench = try ChildProcess(
            ChildProcess.executable("chat-bench"),
            [
                "--scenarios", "--only", "idle-5000", "--spawn-server", server, "--compare-spawn-server",
                server,
                "--compare-spawn-arg", "--port", "--compare-spawn-arg", "0", "--compare-spawn-arg",
                "--soft-queue-bytes", "--compare-spawn-arg", "65536",
            ])
        #expect(try await bench.waitForExit(timeout: .seconds(120)) == 0, "\(bench.stdout)\n\(bench.stderr)")
        let lines = bench.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "A: \(server) --port 0 --log-level warning")
        #expect(lines.dropFirst().first == "B: \(server) --port 0 --soft-queue-bytes 65536")
        let row = try #require(lines.last { $0.hasPrefix("idle-5000 ") }, "\(lines)")
        #expect(row.hasSuffix("0/1  0/1"), "\(row)")
        #expect(lines.last == "result: PASS")
    }
}
