import ChatServer
import ChatTestSupport
import Foundation
import Testing

/// Plain mode whose stdout is a terminal (`--plain`, or the fallback for a terminal curses
/// cannot drive): a peer's control characters are shown, never obeyed. In a pipe they pass
/// unchanged (`PlainModeTests.controlCharactersReachStdoutByteForByte`).
@Suite(.serialized) struct PlainTerminalTests {
    @Test(arguments: [("--plain", "xterm-256color"), ("", "dumb")])
    func controlCharactersFromAPeerAreShownNotObeyed(flag: String, term: String) async throws {
        let server = try await startTestServer()
        let client = ChildProcess.executable("chat-client").path
        let tmux = try TmuxSession(command: "\(client) --port \(server.port) \(flag) alice", term: term)
        defer { tmux.kill() }
        try await waitUntilOnline(server, count: 1)
        let title = try tmux.display("#{pane_title}")
        let bob = try await LineClient.connect(port: server.port)
        try await bob.send("bob")
        try await waitUntilOnline(server, count: 2)
        try await bob.send("alice: \u{1B}]2;PWNED\u{7}\u{1B}[2Jx\ry \u{9B}z")
        try await tmux.waitForText("from bob: ␛]2;PWNED␇␛[2Jx␍y <U+009B>z")
        #expect(try tmux.display("#{pane_title}") == title)
        #expect(try !tmux.display("#{pane_title}").contains("PWNED"))
        await bob.close()
        await server.shutdown()
    }
}
