import ChatTestSupport
import Foundation
import Testing

/// Ctrl-Z in a real terminal, under a real shell: the job stops, the shell has the terminal,
/// `bg` does not give it back to the client, and `fg` brings the screen back with what arrived
/// meanwhile. The window title is the shell's while the client is stopped and after it ends,
/// under xterm's terminfo entry (title by xterm's escape, `XT`) and under tmux's own (`tsl`).
@Suite struct SuspendScreenTests {
    @Test(arguments: ["xterm-256color", "tmux-256color"])
    func ctrlZStopsTheClientAndFgBringsTheScreenBack(term: String) async throws {
        let server = try await startTestServer()
        let tmux = try TmuxSession(
            command: "env PS1='shell$ ' bash --norc --noprofile -o notify -i", term: term)
        defer { tmux.kill() }
        try await tmux.waitForText("shell$")
        try tmux.type("printf '\\033]2;the shell\\007'")
        try tmux.press("Enter")
        try await tmux.waitForDisplay("#{pane_title}") { $0 == "the shell" }
        try tmux.type("\(FullScreenTests.client) --no-timestamps --port \(server.port) alice")
        try tmux.press("Enter")
        try await tmux.waitForText("-- logging in as alice")
        try await tmux.waitForDisplay("#{pane_title}") { $0.hasPrefix("alice") }
        let bob = try await connectBob(to: server)
        try tmux.type("bob: before")
        try tmux.press("C-z")
        // The shell's own screen and prompt: the client gave the terminal back before it stopped.
        let stopped = try await tmux.waitForScreen { (screen: [String]) in
            screen.contains { $0.contains("Stopped") } && screen.last { !$0.isEmpty } == "shell$"
        }
        #expect(!stopped.contains { $0.contains(" alice | 127.0.0.1") }, "\(stopped)")
        try await tmux.waitForDisplay("#{pane_title}") { $0 == "the shell" }
        // Continued in the background, it stops again at its first touch of the terminal
        // (`notify` has the shell say so at once) rather than paint over the shell.
        try tmux.type("bg")
        try tmux.press("Enter")
        let stoppedAgain = try await tmux.waitForScreen { (screen: [String]) in
            screen.count { $0.contains("Stopped") } == 2
        }
        #expect(!stoppedAgain.contains { $0.contains(" alice | 127.0.0.1") }, "\(stoppedAgain)")
        #expect(try tmux.display("#{pane_title}") == "the shell")
        try await bob.send("alice: while you were away")
        try tmux.type("fg")
        try tmux.press("Enter")
        let back = try await tmux.waitForScreen { (screen: [String]) in
            screen.contains("bob: while you were away")
                && screen.contains { $0.hasPrefix(" alice | 127.0.0.1") }
                && screen.last == "> bob: before"
        }
        #expect(!back.contains { $0.contains("Stopped") }, "\(back)")
        try await tmux.waitForDisplay("#{pane_title}") { $0.hasPrefix("alice") }
        try tmux.press("C-c")
        try await tmux.waitForScreen { (screen: [String]) in screen.last { !$0.isEmpty } == "shell$" }
        try await tmux.waitForDisplay("#{pane_title}") { $0 == "the shell" }
        await bob.close()
        await server.shutdown()
    }

    /// Run straight by tmux, as by a terminal emulator, nothing would ever continue the client:
    /// it stays and says why.
    @Test func withoutAJobControlShellCtrlZSaysSoAndGoesOn() async throws {
        let server = try await startTestServer()
        let tmux = try startClientScreen(port: server.port, "--no-timestamps alice")
        defer { tmux.kill() }
        try await tmux.waitForText("-- logging in as alice")
        try tmux.press("C-z")
        try await tmux.waitForText("-- not suspended: no shell with job control started the client")
        let bob = try await connectBob(to: server)
        try await bob.send("alice: still here")
        try await tmux.waitForText("bob: still here")
        await bob.close()
        await server.shutdown()
    }
}
