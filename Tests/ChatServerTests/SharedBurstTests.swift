import ChatServer
import ChatTestSupport
import NIOCore
import Testing

/// A message to a large group on a server with a core no loop uses: the loop and a helper thread
/// write it side by side (`Broker+SharedBurst.swift`).
@Suite struct SharedBurstTests {
    @Test(
        .loadsTheMachine,
        .enabled(if: ChatServerConfiguration.usableCores > 1, "needs a core that no loop uses"))
    func aLargeGroupGetsEveryMessageOnceAndInOrderWhenItsWritesAreShared() async throws {
        let members = 300
        let messages = 20
        let configuration = ChatServerConfiguration.forTests.with {
            $0.eventLoops = 1
            $0.metrics = MetricsEndpointConfiguration(port: 0, requestTimeout: patientScraper)
        }
        try await withServer(configuration: configuration) { server in
            var group: [LineClient] = []
            for index in 0..<members {
                group.append(try await loggedIn("m\(index)", port: server.port))
            }
            let lead = try await loggedIn("lead", port: server.port)
            let list = (0..<members).map { "m\($0)" }.joined(separator: ",")
            for sequence in 0..<messages {
                try await lead.send("\(list): \(sequence)")
            }
            for member in group {
                for sequence in 0..<messages {
                    #expect(try await member.readLine() == "from lead: \(sequence)")
                }
            }
            try await group[0].expectSilence(for: .milliseconds(200))
            try await group[members - 1].expectSilence(for: .milliseconds(200))
            let metrics = try await scrape(try #require(server.metricsAddress?.port))
            let shared = try #require(metrics["chat_write_bursts_shared_total"].flatMap(Double.init))
            #expect(shared >= 1)
            for member in group { await member.close() }
            await lead.close()
        }
    }
}
