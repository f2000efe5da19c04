import Foundation

/// A terminal for tests: a private tmux server (its own socket, no user config) running one
/// command in a pane of a fixed size. Tests type with `type` and `press`, read the screen with
/// `screen` and `cursor`, and wait by polling the screen, never by sleeping a fixed time.
public final class TmuxSession: Sendable {
    public let socketName: String
    /// tmux leaves its socket file behind when killed; `kill` removes it.
    private let socketPath: String

    /// Starts `command` (run by `sh -c`) in a `width` × `height` pane with TERM and a UTF-8
    /// locale set the way a user's terminal would set them.
    public init(
        command: String,
        width: Int = 80,
        height: Int = 24,
        term: String = "xterm-256color"
    ) throws {
        socketName = "a-chat-test-\(getpid())-\(UUID().uuidString.prefix(8))"
        // The pane stays after its command ends, so a test can still read the last screen.
        try Self.run(
            socketName,
            [
                "start-server", ";", "set-option", "-g", "remain-on-exit", "on", ";",
                "new-session", "-d", "-x", "\(width)", "-y", "\(height)",
                "env TERM=\(term) LANG=C.UTF-8 LC_ALL= \(command)",
            ])
        socketPath = try Self.run(socketName, ["display-message", "-p", "#{socket_path}"])
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Types `text` literally (UTF-8 as is, no key names).
    public func type(_ text: String) throws {
        try run(["send-keys", "-l", "--", text])
    }

    /// Presses keys by tmux name: "Enter", "BSpace", "C-c", "PPage", "Left"...
    public func press(_ keys: String...) throws {
        try run(["send-keys"] + keys)
    }

    /// The visible screen, one string per row, trailing blanks removed.
    public func screen() throws -> [String] {
        let text = try run(["capture-pane", "-p"])
        var rows = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if rows.last == "" { rows.removeLast() }
        return rows
    }

    /// The cursor's cell, zero-based.
    public func cursor() throws -> (x: Int, y: Int) {
        let text = try run(["display-message", "-p", "#{cursor_x} #{cursor_y}"])
        let parts = text.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        guard parts.count == 2 else { throw TestTimeout("cannot read the cursor from \(text)") }
        return (parts[0], parts[1])
    }

    public func resize(width: Int, height: Int) throws {
        try run(["resize-window", "-x", "\(width)", "-y", "\(height)"])
    }

    /// True while the pane's command is still running.
    public var isRunning: Bool {
        (try? run(["display-message", "-p", "#{pane_dead}"]).hasPrefix("0")) ?? false
    }

    /// Polls the screen until `matches` accepts it, and returns that screen.
    @discardableResult
    public func waitForScreen(
        timeout: Duration = .seconds(10),
        _ what: String = "the expected screen",
        where matches: ([String]) -> Bool
    ) async throws -> [String] {
        let deadline = ContinuousClock.now + timeout
        var last: [String] = []
        while ContinuousClock.now < deadline {
            last = try screen()
            if matches(last) { return last }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestTimeout("timed out waiting for \(what); screen:\n" + last.joined(separator: "\n"))
    }

    /// Waits until some row contains `text`.
    @discardableResult
    public func waitForText(_ text: String, timeout: Duration = .seconds(10)) async throws -> [String] {
        try await waitForScreen(timeout: timeout, "\(text.debugDescription) on screen") {
            $0.contains { $0.contains(text) }
        }
    }

    /// Waits until the cursor is at `x`, `y`.
    public func waitForCursor(x: Int, y: Int, timeout: Duration = .seconds(10)) async throws {
        let deadline = ContinuousClock.now + timeout
        var last = (x: -1, y: -1)
        while ContinuousClock.now < deadline {
            last = try cursor()
            if last == (x, y) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestTimeout(
            "cursor at \(last), expected (\(x), \(y)); screen:\n"
                + ((try? screen().joined(separator: "\n")) ?? ""))
    }

    /// Stops the tmux server and everything running in it.
    public func kill() {
        _ = try? run(["kill-server"])
        if !socketPath.isEmpty { unlink(socketPath) }
    }

    deinit {
        kill()
    }

    @discardableResult
    private func run(_ arguments: [String]) throws -> String {
        try Self.run(socketName, arguments)
    }

    @discardableResult
    private static func run(_ socketName: String, _ arguments: [String]) throws -> String {
        let (status, output) = try runToCompletion(
            "/usr/bin/env",
            ["LANG=C.UTF-8", "LC_ALL=C.UTF-8", "tmux", "-L", socketName, "-f", "/dev/null"] + arguments
        )
        guard status == 0 else {
            throw TestTimeout("tmux \(arguments.joined(separator: " ")) failed (\(status)): \(output)")
        }
        return output
    }
}
