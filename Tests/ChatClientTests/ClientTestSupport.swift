import ChatServer
import ChatTestSupport

/// Waits until `server` counts at least `count` logins.
func waitUntilOnline(_ server: ChatServer, count: Int) async throws {
    let deadline = ContinuousClock.now + .seconds(30)
    while try await server.onlineCount() < count {
        guard ContinuousClock.now < deadline else { throw TestTimeout("fewer than \(count) logins online") }
        try await Task.sleep(for: .milliseconds(5))
    }
}
