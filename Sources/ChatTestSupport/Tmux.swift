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
        guard parts.count == 2 else { throw TestTimeout(description: "cannot read the cursor from \(text)") }
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
        throw TestTimeout(
            description: "timed out waiting for \(what); screen:\n" + last.joined(separator: "\n"))
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
            description: "cursor at \(last), expected (\(x), \(y)); screen:\n"
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
        let (status, output) = try spawnCleanly(
            "/usr/bin/env",
            ["env", "LANG=C.UTF-8", "LC_ALL=C.UTF-8", "tmux", "-L", socketName, "-f", "/dev/null"] + arguments
        )
        guard status == 0 else {
            throw TestTimeout("tmux \(arguments.joined(separator: " ")) failed (\(status)): \(output)")
        }
        return output
    }
}

/// Runs a program to its end and returns its exit status and output (stdout and stderr).
///
/// Not `Process`: a test thread is a Dispatch worker, which blocks most signals, and `Process`
/// passes that mask on, so a tmux server started from a test would never see SIGCHLD and the
/// programs in its panes never SIGWINCH or SIGTERM. It would also keep every descriptor that
/// another test had open at that moment (a pipe's write end, a socket) for its whole life. So the
/// child starts with no signal blocked, default signal actions and only stdin, stdout and stderr.
func spawnCleanly(_ path: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    var output: [CInt] = [-1, -1]
    guard pipe(&output) == 0 else { throw TestTimeout("pipe: errno \(errno)") }
    for descriptor in output { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
    defer { close(output[0]) }

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_adddup2(&actions, output[1], 1)
    posix_spawn_file_actions_adddup2(&actions, output[1], 2)
    closeInheritedDescriptors(&actions)

    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var noSignals = sigset_t()
    sigemptyset(&noSignals)
    posix_spawnattr_setsigmask(&attributes, &noSignals)
    var allSignals = sigset_t()
    sigfillset(&allSignals)
    posix_spawnattr_setsigdefault(&attributes, &allSignals)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

    let argv = arguments.map { strdup($0) } + [nil]
    defer { for argument in argv { free(argument) } }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, path, &actions, &attributes, argv, environ)
    close(output[1])
    guard spawned == 0 else { throw TestTimeout("cannot run \(path): error \(spawned)") }

    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = read(output[0], &chunk, chunk.count)
        if count > 0 {
            bytes += chunk[..<count]
        } else if count == 0 || errno != EINTR {
            break
        }
    }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let exitStatus = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return (exitStatus, String(decoding: bytes, as: UTF8.self))
}

/// glibc's posix_spawn_file_actions_addclosefrom_np, looked up at run time because Swift's Glibc
/// module does not declare it; without it, the descriptors open now are closed one by one.
private func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t) {
    typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, CInt) -> CInt
    if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")
    {
        _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
        return
    }
    let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    for descriptor in open.compactMap({ CInt($0) }) where descriptor > 2 {
        posix_spawn_file_actions_addclose(&actions, descriptor)
    }
}

extension TestTimeout {
    /// For tests in other modules: the memberwise initializer is internal.
    public init(_ description: String) {
        self.init(description: description)
    }
}
