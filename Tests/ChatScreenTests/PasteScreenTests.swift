import ChatScreen
import ChatServer
import ChatTestSupport
import Foundation
import Testing

/// Pasting into the full screen: lines pasted right behind a login.
@Suite(.serialized) struct PasteScreenTests {
    private static let inputRow = FullScreenTests.inputRow

    /// The server refuses a login and closes without delivering what came behind it; the lines
    /// were shown as sent the moment they went, so a remark says they were not delivered.
    @Test func linesPastedBehindARefusedLoginAreSaidNotDelivered() async throws {
        let server = try await startTestServer()
        let bob = try await connectBob(to: server, online: 1)
        let tmux = try startClientScreen(port: server.port, "--no-timestamps")
        defer { tmux.kill() }
        try await tmux.waitForScreen {
            $0.count > Self.inputRow && $0[Self.inputRow] == "login:"
                && $0.contains { $0.hasPrefix("-- connected") }
        }
        try tmux.type("bob\rbob: pasted line\rbob: second pasted\r")
        let screen = try await tmux.waitForText("-- login refused; enter another login (Up brings it back)")
        let remark =
            "-- 2 lines not delivered (login refused; Up brings them back)"
        let notice = try #require(screen.firstIndex(of: "-!- login 'bob' is already online"))
        #expect(screen[notice + 1] == remark)
        try tmux.press("Up", "Up")
        try await tmux.waitForScreen {
            $0.count > Self.inputRow && $0[Self.inputRow] == "login: bob: second pasted"
        }
        // bob, who was online all along, got nothing.
        try await bob.expectSilence(for: .milliseconds(300))
        await bob.close()
        await server.shutdown()
    }
}
