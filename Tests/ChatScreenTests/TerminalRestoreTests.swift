import ChatScreen
import ChatServer
import ChatTestSupport
import Foundation
import Testing

/// The terminal is given back exactly as it was found, however the client ends.
@Suite(.serialized) struct TerminalRestoreTests {
    /// Runs the client from a shell script in tmux that saves `stty -a` before and after, then
    /// ends it with `quit`, and compares.
    private func checkRestored(
        expectedStatus: Int32,
        quit: (TmuxSession, URL) async throws -> Void
    ) async throws {
        let server = try await startTestServer()
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let script = """
            stty -a > before
            echo $$ > shell.pid
            "\(FullScreenTests.client)" --port \(server.port) alice
            echo $? > status.tmp && mv status.tmp status
            stty -a > after.tmp && mv after.tmp after
            """
        try Data(script.utf8).write(to: directory.appendingPathComponent("run.sh"))
        let tmux = try TmuxSession(command: "sh -c 'cd \"\(directory.path)\" && sh run.sh'")
        defer { tmux.kill() }
        try await tmux.waitForText("-- logging in as alice")
        try await quit(tmux, directory)
        let after = try await contents(of: directory.appendingPathComponent("after"))
        let before = try String(contentsOf: directory.appendingPathComponent("before"), encoding: .utf8)
        #expect(after == before)
        #expect(before.contains(" icanon") && before.contains(" echo "))
        #expect(try await contents(of: directory.appendingPathComponent("status")) == "\(expectedStatus)\n")
        // The screen the shell gets back is the shell's, not the chat's.
        #expect(try !tmux.screen().contains { $0.contains("alice | 127.0.0.1") })
        await server.shutdown()
    }

    @Test func afterQuitCommand() async throws {
        try await checkRestored(expectedStatus: 0) { tmux, _ in
            try tmux.type("/quit")
            try tmux.press("Enter")
        }
    }

    @Test func afterControlC() async throws {
        try await checkRestored(expectedStatus: 0) { tmux, _ in try tmux.press("C-c") }
    }

    @Test func afterSIGTERM() async throws {
        try await checkRestored(expectedStatus: 128 + SIGTERM) { _, directory in
            let shell = try String(contentsOf: directory.appendingPathComponent("shell.pid"), encoding: .utf8)
            let children = try String(
                contentsOfFile: "/proc/\(shell.trimmingCharacters(in: .whitespacesAndNewlines))/task/"
                    + "\(shell.trimmingCharacters(in: .whitespacesAndNewlines))/children",
                encoding: .utf8)
            let client = try #require(children.split(separator: " ").first.flatMap { Int32($0) })
            kill(client, SIGTERM)
        }
    }
}
