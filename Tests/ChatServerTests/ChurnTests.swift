import ChatTestSupport
import Foundation
import Testing

/// Every resource a connection holds is released when it closes: rounds of connect, log in,
/// send a line, close leave the server's memory where the first round left it.
@Suite(.loadsTheMachine) struct ChurnTests {
    @Test func memoryStaysFlatOverRoundsOfConnectLoginClose() async throws {
        let server = try await ServerProcess()
        let rounds = 4
        let perRound = 5000
        var residentKiB: [Int] = []
        for round in 0..<rounds {
            // Four clients at a time keep the server busy without waiting on each round trip.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for client in 0..<4 {
                    group.addTask {
                        try await offThePool {
                            try churn(
                                port: server.port, connections: perRound / 4,
                                namePrefix: "r\(round)c\(client)u")
                        }
                    }
                }
                try await group.waitForAll()
            }
            // The server frees a connection when it sees the close; let it catch up.
            try await Task.sleep(for: .milliseconds(300))
            residentKiB.append(server.child.memory().residentKiB)
        }
        MemoryBound.expect(
            residentKiB.last! - residentKiB.first!, atMostKiB: 2 * 1024,
            "RSS growth after rounds of \(perRound) (\(residentKiB) KiB)")
        // A clean exit: under LeakSanitizer, anything a closed connection left behind is reported
        // here and turns the exit status.
        server.child.signal(SIGTERM)
        #expect(try await server.child.waitForExit() == 0, "\(server.child.stderr.suffix(2000))")
    }
}

/// Opens `connections` connections one after another, each logging in, messaging itself, reading
/// the echo and closing. Blocking sockets: the cheapest client there is, so the server is measured.
private func churn(port: Int, connections: Int, namePrefix: String) throws {
    for index in 0..<connections {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw TestTimeout("socket: errno \(errno)") }
        defer { close(descriptor) }
        guard connectToLoopback(descriptor, port: port) == 0 else {
            throw TestTimeout("connect: errno \(errno)")
        }
        let name = "\(namePrefix)\(index)"
        let request = Array("\(name)\n\(name): hi\n".utf8)
        guard write(descriptor, request, request.count) == request.count else {
            throw TestTimeout("write: errno \(errno)")
        }
        let expected = "from \(name): hi\n".utf8.count
        var received = 0
        var buffer = [UInt8](repeating: 0, count: 256)
        while received < expected {
            let count = read(descriptor, &buffer, buffer.count)
            guard count > 0 else { throw TestTimeout("read: \(count), errno \(errno)") }
            received += count
        }
    }
}
