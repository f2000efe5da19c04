import ChatServer
import ChatTestSupport
import Foundation
import Testing

/// Alt and a key, as a terminal sends it (Escape and the key together), in a real terminal; and
/// Escape pressed on its own before a key.
@Suite(.serialized) struct AltKeyScreenTests {
    private static let inputRow = FullScreenTests.inputRow

    /// Alt with a key the client does not bind does nothing. Escape pressed by habit, then
    /// typing, types the letter; a key Alt gives a meaning still has it after Escape (Esc then
    /// B), as in readline.
    @Test func altWithAKeyTheClientDoesNotBindDoesNothing() async throws {
        let server = try await startTestServer()
        let tmux = try startClientScreen(port: server.port, "--no-timestamps alice")
        defer { tmux.kill() }
        try await tmux.waitForText("-- logging in as alice")
        let bob = try await connectBob(to: server)
        try tmux.type("bob: hello world")
        try await tmux.waitForCursor(x: 18, y: Self.inputRow)
        // Alt-D deletes "world"; the space before it stays, not drawn at the end of the row.
        try tmux.press("M-b", "M-x", "M-a", "M-1", "M-.", "M-d")
        try await tmux.waitForScreen { FullScreenTests.inputLine($0) == "> bob: hello" }
        try await tmux.waitForCursor(x: 13, y: Self.inputRow)
        for (key, count) in [("x", 1), ("b", 2)] {
            try tmux.press("Escape")
            // A gap well past curses' 25 ms escape delay, then a line the screen shows: the
            // loop has read the Escape alone before the key is sent.
            try await Task.sleep(for: .milliseconds(300))
            try await bob.send("alice: seen \(count)")
            try await tmux.waitForText("bob: seen \(count)")
            try tmux.type(key)
        }
        try await tmux.waitForScreen { FullScreenTests.inputLine($0) == "> bob: hello x" }
        try await tmux.waitForCursor(x: 13, y: Self.inputRow)
        await bob.close()
        await server.shutdown()
    }
}
