import ChatBench
import ChatTestSupport
import Foundation
import Testing

/// Several servers in one run: client i on server i mod N. Against independent servers (no
/// cluster), a delivery between two servers cannot arrive; the report must count it lost.
@Suite struct MultiServerTests {
    func configuration(servers: Int, clients: Int, recipients: Int) -> BenchConfiguration {
        var configuration = BenchConfiguration()
        configuration.servers = (0..<servers).map { ServerAddress(host: "127.0.0.1", port: 9000 + $0) }
        configuration.clients = clients
        configuration.recipients = recipients
        return configuration
    }

    /// The cluster scenarios put every recipient on the other node.
    @Test func theClusterScenariosCrossNodesWithEveryDelivery() throws {
        for scenario in Scenario.cluster {
            var base = BenchConfiguration()
            base.servers = [ServerAddress(host: "a", port: 1), ServerAddress(host: "b", port: 2)]
            let configuration = scenario.configuration(basedOn: base)
            #expect(scenario.nodes == 2 && scenario.isCluster)
            #expect(configuration.crossServerShare == 1, "\(scenario.name)")
        }
        #expect(configuration(servers: 2, clients: 4, recipients: 2).crossServerShare == 0.5)
        #expect(configuration(servers: 1, clients: 4, recipients: 2).crossServerShare == nil)
        // Three servers, a ring of 4: 0→1, 1→2, 2→3 cross; 3→0 is on server 0 both times.
        #expect(configuration(servers: 3, clients: 4, recipients: 1).crossServerShare == 0.75)
    }

    @Test(arguments: [
        ("127.0.0.1:8080", ServerAddress(host: "127.0.0.1", port: 8080)),
        ("[::1]:9", ServerAddress(host: "::1", port: 9)),
        ("localhost:65535", ServerAddress(host: "localhost", port: 65535)),
    ])
    func addressesParse(text: String, address: ServerAddress) {
        #expect(ServerAddress(text) == address)
        #expect(ServerAddress(address.description) == address)
    }

    @Test(arguments: ["127.0.0.1", ":80", "host:0", "host:65536", "host:x", "[]:80"])
    func badAddressesDoNot(text: String) {
        #expect(ServerAddress(text) == nil)
    }

    /// Four clients in a ring, each sending to its next two, over two spawned servers: i+1 is
    /// on the other server (lost), i+2 on the same (delivered).
    @Test func spawnedServersShareTheClientsAndCrossServerDeliveriesAreLost() async throws {
        let bench = try ChildProcess(
            ChildProcess.executable("chat-bench"),
            [
                "--spawn-server", ChildProcess.executable("chat-server").path, "--spawn-count", "2",
                "--clients", "4", "--recipients", "2", "--messages", "10", "--stall-timeout", "5",
            ])
        #expect(try await bench.waitForExit(timeout: .seconds(60)) == 1, "\(bench.stderr)")
        let output = bench.stdout
        #expect(
            output.contains(
                "servers: 2 (client i connects to server i mod 2), 50% of deliveries cross servers"),
            "\(output)")
        #expect(
            output.contains("deliveries: expected 80, received 40, lost 40, out-of-order 0, corrupt 0"),
            "\(output)")
        #expect(output.hasSuffix("result: FAIL\n"))
    }

    /// The same against servers the user started, named with --server, their memory added up.
    @Test func externalServersAreNamedOneByOne() async throws {
        let first = try await ServerProcess()
        let second = try await ServerProcess()
        let bench = try ChildProcess(
            ChildProcess.executable("chat-bench"),
            [
                "--server", "127.0.0.1:\(first.port)", "--server", "127.0.0.1:\(second.port)",
                "--server-pid", "\(first.child.pid)", "--server-pid", "\(second.child.pid)",
                "--clients", "4", "--recipients", "2", "--messages", "10", "--stall-timeout", "5",
            ])
        #expect(try await bench.waitForExit(timeout: .seconds(60)) == 1, "\(bench.stderr)")
        let output = bench.stdout
        #expect(output.contains("received 40, lost 40,"), "\(output)")
        #expect(output.contains("server rss: baseline "), "\(output)")
    }

    /// The cluster scenario runs on two spawned nodes that get `--cluster URL`. Here the nodes
    /// are a shell that notes its arguments and then runs an ordinary server: every delivery
    /// crosses between two servers that know nothing of each other, and is lost.
    @Test func theClusterScenarioPassesTheURLToBothNodesAndCountsTheLoss() async throws {
        let notes = FileManager.default.temporaryDirectory
            .appendingPathComponent("chat-bench-cluster-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: notes) }
        let server = ChildProcess.executable("chat-server").path
        let bench = try ChildProcess(
            ChildProcess.executable("chat-bench"),
            [
                "--scenarios", "--only", "cluster", "--stall-timeout", "5",
                "--spawn-server", "sh", "--spawn-arg", "-c",
                "--spawn-arg", "echo \"$@\" >> \(notes); exec \(server) --port 0 --log-level warning",
                "--spawn-arg", "node", "--cluster-url", "postgres://u:p@127.0.0.1:1/chat",
            ])
        #expect(try await bench.waitForExit(timeout: .seconds(120)) == 1, "\(bench.stderr)")
        let output = bench.stdout
        let row = try #require(output.split(separator: "\n").first { $0.hasPrefix("cluster ") }, "\(output)")
        let cells = row.split(separator: " ")
        // scenario, clients, msgs, rcpt, body, deliveries/s, lost.
        #expect(cells[1] == "100" && cells[2] == "2000", "\(row)")
        let lost = try #require(Int(cells[6]))
        #expect(lost > 0, "\(row)")
        #expect(output.contains("stalled"), "\(output)")
        let noted = try String(contentsOfFile: notes, encoding: .utf8)
        #expect(
            noted == "--cluster postgres://u:p@127.0.0.1:1/chat\n--cluster postgres://u:p@127.0.0.1:1/chat\n")
    }
}
