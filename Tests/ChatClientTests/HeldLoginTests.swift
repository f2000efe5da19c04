import ChatServer
import ChatTestSupport
import Foundation
import Testing

/// A network that dies without the server noticing: the full screen reconnects while the server
/// still holds its login, tries again, and is back once the server lets the old connection go.
@Suite(.serialized) struct HeldLoginTests {
    @Test func aLoginStillHeldByTheLostConnectionIsTriedAgainUntilItIsFree() async throws {
        let server = try await startTestServer()
        let front = try await Front(backendPort: server.port)
        let client = ChildProcess.executable("chat-client").path
        let tmux = try TmuxSession(
            command: "\(client) --no-timestamps --port \(front.port) --reconnect-delay 3 alice", height: 30)
        defer { tmux.kill() }
        try await tmux.waitForText("-- logging in as alice")
        try await waitUntilOnline(server, count: 1)

        // Retries wait 3, 6 and 12 s (less up to a quarter): the test has at least 15.75 s from
        // the first one's remark to let the login go before the third is refused and the client
        // gives up. With 1, 2 and 4 s it had 5.25 s, which a loaded machine can spend on its own.
        let closeServerSides = front.cutClientsKeepingServerSides()
        let retry = "-- login alice is still online (likely the lost connection); retry 1 of 3"
        try await tmux.waitForText(retry)
        #expect(try await server.onlineCount() == 1)
        // The server lets go of the old connection: the next try gets through.
        closeServerSides()
        let screen = try await tmux.waitForScreen(timeout: .seconds(60), "back") {
            $0.contains("-- reconnected to 127.0.0.1:\(front.port)") && $0[28].hasSuffix("| connected")
        }
        #expect(screen.contains("-!- login 'alice' is already online"))
        #expect(!screen.contains { $0.hasPrefix("-- gave up") })
        try await waitUntilOnline(server, count: 1)
        await front.close()
        await server.shutdown()
    }
}
