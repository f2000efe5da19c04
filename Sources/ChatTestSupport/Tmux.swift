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

    /// Pastes `text` as the terminal pastes from its clipboard (each `\n` becomes a carriage
    /// return): between bracketed-paste marks when `bracketed` and the program asked for them
    /// (xterm's mode 2004), else as bare keys, as a terminal without the mode would.
    /// The text goes through a file: tmux refuses a command line of more than about 16 KB.
    public func paste(_ text: String, bracketed: Bool) throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(socketName)-paste")
        try Data(text.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        try run(["load-buffer", "-b", "test-paste", file.path])
        try run(["paste-buffer", "-d", "-b", "test-paste"] + (bracketed ? ["-p"] : []))
    }

    /// The visible screen, one string per row, trailing blanks removed.
    public func screen() throws -> [String] {
        Self.rows(of: try run(["capture-pane", "-p"]))
    }

    /// `screen()` for the waits, which poll it: read on a thread of its own, so that screen tests
    /// polling side by side do not hold the test process's few concurrency threads in `waitpid`
    /// (with 2 of them on a 2-core machine, in-process servers' clients then waited seconds).
    private func screenWithoutBlocking() async throws -> [String] {
        Self.rows(of: try await runWithoutBlocking(["capture-pane", "-p"]))
    }

    private static func rows(of text: String) -> [String] {
        var rows = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if rows.last == "" { rows.removeLast() }
        return rows
    }

    /// The visible screen with each cell's attributes and colours, read from `capture-pane -e`.
    public func styledScreen() throws -> [[StyledCell]] {
        let text = try run(["capture-pane", "-p", "-e"])
        var rows = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            StyledCell.parse(String($0))
        }
        if rows.last?.isEmpty == true { rows.removeLast() }
        return rows
    }

    /// A tmux format expanded for the pane: `#{pane_title}`, `#{window_bell_flag}`...
    public func display(_ format: String) throws -> String {
        try run(["display-message", "-p", format]).trimmingCharacters(in: .newlines)
    }

    private static let cursorFormat = "#{cursor_x} #{cursor_y}"

    /// The cursor's cell, zero-based, from `cursorFormat` expanded.
    private static func parseCursor(_ text: String) throws -> (x: Int, y: Int) {
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

    /// Polls the screen until `matches` accepts it, and returns that screen. The default wait is
    /// long: a screen that should change does so in milliseconds, but a client on a loaded CI
    /// machine has been seen to take over 10 s to draw it.
    ///
    /// The screen is returned once two looks in a row agree on it: tmux shows what it has read of
    /// the program's output so far, so a look can land inside a frame. One did in CI: the
    /// scrollback already had the frame's new remark, the status line below it still the last
    /// frame's state. A screen that keeps changing (a flood, a countdown) is taken after a few
    /// looks that all match, and one that matched only for a moment as it was.
    @discardableResult
    public func waitForScreen(
        timeout: Duration = .seconds(30),
        _ what: String = "the expected screen",
        where matches: ([String]) -> Bool
    ) async throws -> [String] {
        var previousMatch: [String]?
        var matchingLooks = 0
        var settled: [String]?
        let (last, _) = try await poll(
            for: timeout, every: Self.pollInterval, look: screenWithoutBlocking
        ) { screen in
            guard matches(screen) else {
                settled = previousMatch
                return settled != nil
            }
            matchingLooks += 1
            if screen == previousMatch || matchingLooks >= Self.looksForAChangingScreen { settled = screen }
            previousMatch = screen
            return settled != nil
        }
        if let screen = settled ?? previousMatch { return screen }
        throw TestTimeout("timed out waiting for \(what); screen:\n" + last.joined(separator: "\n"))
    }

    /// How many matching looks in a row stand for a settled screen when no two of them agree.
    private static let looksForAChangingScreen = 5

    /// Waits until some row contains `text`.
    @discardableResult
    public func waitForText(_ text: String, timeout: Duration = .seconds(30)) async throws -> [String] {
        try await waitForScreen(timeout: timeout, "\(text.debugDescription) on screen") {
            $0.contains { $0.contains(text) }
        }
    }

    /// Polls `format` until `matches` accepts its value, and returns that value.
    @discardableResult
    public func waitForDisplay(
        _ format: String, timeout: Duration = .seconds(30), where matches: (String) -> Bool
    ) async throws -> String {
        let (last, matched) = try await poll(
            for: timeout, every: Self.pollInterval,
            look: {
                try await runWithoutBlocking(["display-message", "-p", format]).trimmingCharacters(
                    in: .newlines)
            },
            until: matches)
        if matched { return last }
        throw TestTimeout("timed out waiting for \(format) to change; it is \(last.debugDescription)")
    }

    /// Waits until the cursor is at `x`, `y`.
    public func waitForCursor(x: Int, y: Int, timeout: Duration = .seconds(30)) async throws {
        // Off the test's thread: a blocking poll holds one of the few threads every test shares.
        let (last, matched) = try await poll(
            for: timeout, every: Self.pollInterval,
            look: {
                try Self.parseCursor(
                    try await runWithoutBlocking(["display-message", "-p", Self.cursorFormat]))
            },
            until: { $0 == (x, y) })
        if matched { return }
        throw TestTimeout(
            "cursor at \(last), expected (\(x), \(y)); screen:\n"
                + ((try? screen().joined(separator: "\n")) ?? ""))
    }

    /// How often the waits above look at the pane.
    private static let pollInterval = Duration.milliseconds(20)

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

    private func runWithoutBlocking(_ arguments: [String]) async throws -> String {
        let socketName = self.socketName
        return try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try Self.run(socketName, arguments) })
            }
        }
    }

    @discardableResult
    private static func run(_ socketName: String, _ arguments: [String]) throws -> String {
        let (status, output) = try runToCompletion(
            "/usr/bin/env",
            ["LANG=C.UTF-8", "LC_ALL=C.UTF-8", "tmux", "-L", socketName, "-f", "/dev/null"] + arguments
        )
        guard status == 0 else {
            throw TestTimeout(
                "tmux \(arguments.joined(separator: " ").prefix(500)) failed (\(status)): \(output)")
        }
        return output
    }
}

/// One cell of a captured screen: its character and how tmux says it is drawn.
public struct StyledCell: Equatable, Sendable {
    public var character: Character
    /// SGR attributes in effect: 1 bold, 2 dim, 4 underline, 7 reverse.
    public var attributes: Set<Int>
    /// The foreground colour as tmux writes it: "31" for red, "38;5;142" for a 256-colour one,
    /// nil for the default.
    public var foreground: String?

    /// The cells of one line of `capture-pane -e` output.
    static func parse(_ line: String) -> [StyledCell] {
        var cells: [StyledCell] = []
        var attributes: Set<Int> = []
        var foreground: String?
        var characters = line[...]
        while let first = characters.first {
            guard first == "\u{1B}", characters.dropFirst().first == "[" else {
                cells.append(StyledCell(character: first, attributes: attributes, foreground: foreground))
                characters = characters.dropFirst()
                continue
            }
            let body = characters.dropFirst(2)
            guard let end = body.firstIndex(where: { $0.isLetter }) else { break }
            if body[end] == "m" {
                var codes = body[..<end].split(separator: ";", omittingEmptySubsequences: false).map {
                    Int($0) ?? 0
                }[...]
                if codes.isEmpty { codes = [0] }
                while let code = codes.popFirst() {
                    switch code {
                    case 0:
                        attributes = []
                        foreground = nil
                    case 1, 2, 4, 7: attributes.insert(code)
                    case 22: attributes.subtract([1, 2])
                    case 24: attributes.remove(4)
                    case 27: attributes.remove(7)
                    case 30...37, 90...97: foreground = "\(code)"
                    case 39: foreground = nil
                    case 38, 48:
                        // 38;5;N or 38;2;R;G;B, and the same for the background.
                        let mode = codes.popFirst()
                        let values = codes.prefix(mode == 2 ? 3 : 1)
                        codes = codes.dropFirst(values.count)
                        if code == 38 {
                            foreground = (["38", "\(mode ?? 0)"] + values.map(String.init)).joined(
                                separator: ";")
                        }
                    default: break
                    }
                }
            }
            characters = body[body.index(after: end)...]
        }
        return cells
    }
}

extension Array where Element == StyledCell {
    public var text: String { String(map(\.character)) }

    /// The cells of the first occurrence of `text` in this row.
    public func cells(of text: String) -> ArraySlice<StyledCell>? {
        let characters = [Character](text)
        guard characters.count <= count else { return nil }
        for start in 0...(count - characters.count)
        where self[start..<start + characters.count].map(\.character) == characters {
            return self[start..<start + characters.count]
        }
        return nil
    }
}
