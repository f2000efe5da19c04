import ChatProtocol
import Foundation
import Synchronization

/// A server the bench starts itself, so that each scenario measures a fresh process: memory
/// figures then belong to that scenario alone. It must print `listening on HOST:PORT` on
/// stdout once it accepts connections, as chat-server and the tutorial port do.
///
/// Started with posix_spawnp rather than Foundation's `Process`: that looks a bare name up in
/// PATH as a shell does, says why a start failed in an errno instead of a Foundation error dump,
/// and leaves reaping to this class, so that every way out can end with SIGKILL and `waitpid`.
public final class SpawnedServer {
    public let host: String
    public let port: Int
    public let pid: Int32
    private let shared: Shared

    public static let defaultStartTimeoutSeconds = 30.0
    /// How long a server that has not said it listens gets between SIGTERM and SIGKILL: it has
    /// no clients to say goodbye to.
    static let startFailureGraceSeconds = 1.0

    /// What the reader threads and the owner share.
    private final class Shared: Sendable {
        struct State {
            var stdout: [UInt8] = []
            var listeningLine: String?
            /// The end of what the server wrote on stderr, for a failure message.
            var stderrTail: [UInt8] = []
            var stderrClosed = false
            /// `status N` or `signal N` once reaped.
            var exit: String?
        }
        let state = Mutex(State())
    }

    public init(
        executable: String, arguments: [String], timeoutSeconds: Double = defaultStartTimeoutSeconds
    ) throws {
        let shared = Shared()
        self.shared = shared
        let (pid, stdout, stderr) = try Self.spawn(executable, arguments)
        self.pid = pid

        // Both pipes are drained for the server's whole life: a server that prints a line per
        // connection would otherwise block once a pipe filled. Its stderr is passed on to ours.
        Thread.detachNewThread {
            ChildProcessSupport.readToEnd(stdout) { chunk in
                shared.state.withLock { state in
                    guard state.listeningLine == nil else { return }
                    state.stdout += chunk
                    while let newline = state.stdout.firstIndex(of: UInt8(ascii: "\n")) {
                        let line = String(decoding: state.stdout[..<newline], as: UTF8.self)
                        state.stdout.removeSubrange(...newline)
                        if line.hasPrefix("listening on ") {
                            state.listeningLine = line
                            state.stdout = []
                            return
                        }
                    }
                }
            }
        }
        Thread.detachNewThread {
            ChildProcessSupport.readToEnd(stderr) { chunk in
                chunk.withUnsafeBytes { bytes in
                    var offset = 0
                    while offset < bytes.count {
                        let written = write(2, bytes.baseAddress! + offset, bytes.count - offset)
                        if written < 0 && errno == EINTR { continue }
                        guard written > 0 else { break }
                        offset += written
                    }
                }
                shared.state.withLock { state in
                    state.stderrTail += chunk
                    if state.stderrTail.count > 4096 {
                        state.stderrTail.removeFirst(state.stderrTail.count - 4096)
                    }
                }
            }
            shared.state.withLock { $0.stderrClosed = true }
        }

        let line = try Self.listeningLine(of: executable, pid, shared, timeoutSeconds: timeoutSeconds)
        // `listening on 127.0.0.1:PORT`; an IPv6 host has colons of its own, so split at the last.
        let address = line.dropFirst("listening on ".count)
        guard let colon = address.lastIndex(of: ":"), colon > address.startIndex,
            let port = Int(address[address.index(after: colon)...]), (1...65535).contains(port)
        else {
            Self.stop(pid, shared, graceSeconds: Self.startFailureGraceSeconds)
            throw BenchError(
                description:
                    "\(executable) printed a 'listening on' line without HOST:PORT: \(line.debugDescription)"
            )
        }
        // `[::1]` is how an IPv6 host is written next to a port; connecting wants it bare.
        let host = address[..<colon]
        self.host = String(host.hasPrefix("[") && host.hasSuffix("]") ? host.dropFirst().dropLast() : host)
        self.port = port
    }

    /// How the process ended (`status 1`, `signal 9`), or nil while it runs. Reaps it once ended.
    public var exitDescription: String? { Self.reap(pid, shared) }

    /// Waits up to `seconds` for the process to end on its own; how it ended, or nil.
    public func waitForExit(seconds: Double) -> String? { Self.waitForExit(pid, shared, seconds: seconds) }

    /// SIGTERM, then SIGKILL if it has not exited within `graceSeconds`; reaps it either way, so
    /// no server outlives the bench, not even one that ignores SIGTERM.
    public func stop(graceSeconds: Double = 10) { Self.stop(pid, shared, graceSeconds: graceSeconds) }

    /// Waits for the server's `listening on` line; stops it and throws if the line does not
    /// come in time or the server exits first.
    private static func listeningLine(
        of executable: String, _ pid: pid_t, _ shared: Shared, timeoutSeconds: Double
    ) throws -> String {
        let deadline = monotonicNanoseconds() &+ UInt64(timeoutSeconds * 1e9)
        while true {
            if let line = shared.state.withLock({ $0.listeningLine }) { return line }
            if let exit = reap(pid, shared) {
                throw BenchError(
                    description: "\(executable) exited before listening (\(exit))\(lastErrorLine(shared))")
            }
            if monotonicNanoseconds() >= deadline {
                stop(pid, shared, graceSeconds: startFailureGraceSeconds)
                throw BenchError(
                    description:
                        "\(executable) printed no 'listening on' line within \(Report.exact(timeoutSeconds)) s"
                )
            }
            usleep(10_000)
        }
    }

    private static func reap(_ pid: pid_t, _ shared: Shared) -> String? {
        shared.state.withLock { state in
            if state.exit == nil {
                var status: Int32 = 0
                if waitpid(pid, &status, WNOHANG) == pid { state.exit = describe(status) }
            }
            return state.exit
        }
    }

    private static func waitForExit(_ pid: pid_t, _ shared: Shared, seconds: Double) -> String? {
        let deadline = monotonicNanoseconds() &+ UInt64(seconds * 1e9)
        while reap(pid, shared) == nil && monotonicNanoseconds() < deadline { usleep(5_000) }
        return reap(pid, shared)
    }

    private static func stop(_ pid: pid_t, _ shared: Shared, graceSeconds: Double) {
        guard reap(pid, shared) == nil else { return }
        kill(pid, SIGTERM)
        if waitForExit(pid, shared, seconds: graceSeconds) != nil { return }
        kill(pid, SIGKILL)
        shared.state.withLock { state in
            guard state.exit == nil else { return }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            state.exit = describe(status)
        }
    }

    /// `: ` and the last line the server wrote on stderr, or nothing if it wrote none.
    private static func lastErrorLine(_ shared: Shared) -> String {
        // The pipe closes just after the process ends; its last words may still be on the way.
        let deadline = monotonicNanoseconds() &+ 200_000_000
        while !shared.state.withLock({ $0.stderrClosed }) && monotonicNanoseconds() < deadline {
            usleep(5_000)
        }
        let tail = shared.state.withLock { $0.stderrTail }
        let line = tail.split(separator: UInt8(ascii: "\n")).last.map {
            String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespaces)
        }
        guard let line, !line.isEmpty else { return "" }
        return ": " + String(line.prefix(300))
    }

    private static func describe(_ status: Int32) -> String {
        status & 0x7f == 0 ? "status \((status >> 8) & 0xff)" : "signal \(status & 0x7f)"
    }

    /// Starts the process with stdin from /dev/null and stdout and stderr on pipes; returns it
    /// and the read ends.
    private static func spawn(_ executable: String, _ arguments: [String]) throws -> (pid_t, CInt, CInt) {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var stdoutEnds: [CInt] = [-1, -1]
        var stderrEnds: [CInt] = [-1, -1]
        guard pipe(&stdoutEnds) == 0 else {
            throw BenchError(description: "pipe: \(Wording.reason(errno: errno))")
        }
        guard pipe(&stderrEnds) == 0 else {
            for descriptor in stdoutEnds { close(descriptor) }
            throw BenchError(description: "pipe: \(Wording.reason(errno: errno))")
        }
        // Close-on-exec, so that a second server started later does not hold this one's pipes;
        // dup2 clears it on the child's copies.
        for descriptor in stdoutEnds + stderrEnds { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, stdoutEnds[1], 1)
        posix_spawn_file_actions_adddup2(&actions, stderrEnds[1], 2)

        // A server should see signals as if a shell had started it, whatever the bench blocks.
        var attributes = ChildProcessSupport.shellSignalState()
        defer { posix_spawnattr_destroy(&attributes) }

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var pid: pid_t = 0
        let spawned = posix_spawnp(&pid, executable, &actions, &attributes, argv, environ)
        close(stdoutEnds[1])
        close(stderrEnds[1])
        guard spawned == 0 else {
            close(stdoutEnds[0])
            close(stderrEnds[0])
            let isPath = executable.contains("/")
            let reason =
                switch spawned {
                case ENOENT: isPath ? "no such file" : "not found in PATH"
                case EACCES: "permission denied (not an executable file?)"
                case ENOEXEC: "not an executable format"
                default: Wording.reason(errno: spawned)
                }
            throw BenchError(description: "cannot start \(executable): \(reason)")
        }
        return (pid, stdoutEnds[0], stderrEnds[0])
    }

}

/// What starting a child process and reading its output take, shared by the bench's spawned
/// servers and the tests' child processes.
public enum ChildProcessSupport {
    /// Attributes for `posix_spawn` that start a child with the signal state a shell would give
    /// it: nothing blocked and every signal at its default action, whatever the parent blocks or
    /// ignores (a test runner or an event loop may do both). The caller destroys them.
    public static func shellSignalState() -> posix_spawnattr_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        return attributes
    }

    /// Reads `descriptor` to its end, handing over each chunk, and closes it.
    public static func readToEnd(_ descriptor: CInt, onChunk: ([UInt8]) -> Void) {
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = read(descriptor, &chunk, chunk.count)
            if count > 0 {
                onChunk(Array(chunk[..<count]))
            } else if count == 0 || errno != EINTR {
                break
            }
        }
        close(descriptor)
    }
}
