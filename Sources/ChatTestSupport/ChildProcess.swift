import ChatBench
import Foundation
import NIOConcurrencyHelpers

/// One of the package's executables (or any program) run as a real child process, with its
/// output collected as it arrives.
public final class ChildProcess: Sendable {
    public let pid: Int32
    private let stdinDescriptor: NIOLockedValueBox<CInt?>
    private let output: NIOLockedValueBox<(stdout: [UInt8], stderr: [UInt8])>
    /// The exit status once reaped.
    private let exitStatus = NIOLockedValueBox<Int32?>(nil)
    /// The read end of a stderr that nobody reads until `readStderr()`.
    private let unreadStderr: NIOLockedValueBox<CInt?>

    /// The directory holding the package's built products: the test bundle sits beside them.
    public static var productsDirectory: URL {
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return me.deletingLastPathComponent()
    }

    public static func executable(_ name: String) -> URL {
        productsDirectory.appendingPathComponent(name)
    }

    /// Starts `executable` with `arguments`. Its stdin is a pipe the test writes to. With
    /// `stallingStderr`, its stderr is a pipe nobody reads (so it fills) until `readStderr()`.
    public init(
        _ executable: URL,
        _ arguments: [String],
        environment: [String: String]? = nil,
        stallingStderr: Bool = false
    ) throws {
        let child = try CleanSpawn(
            executable.path,
            arguments,
            environment: environment,
            stdinPipe: true,
            mergeStderr: false
        )
        let output = NIOLockedValueBox((stdout: [UInt8](), stderr: [UInt8]()))
        Thread.detachNewThread {
            ChildProcessSupport.readToEnd(child.stdout) { chunk in
                output.withLockedValue { $0.stdout += chunk }
            }
        }
        self.unreadStderr = NIOLockedValueBox(child.stderr)
        self.pid = child.pid
        self.stdinDescriptor = NIOLockedValueBox(child.stdin)
        self.output = output
        if !stallingStderr { readStderr() }
    }

    /// Starts collecting stderr, if nobody does yet.
    public func readStderr() {
        guard let descriptor = unreadStderr.withLockedValue({ $0.take() }) else { return }
        let output = self.output
        Thread.detachNewThread {
            ChildProcessSupport.readToEnd(descriptor) { chunk in
                output.withLockedValue { $0.stderr += chunk }
            }
        }
    }

    public var stdout: String { output.withLockedValue { String(decoding: $0.stdout, as: UTF8.self) } }
    public var stderr: String { output.withLockedValue { String(decoding: $0.stderr, as: UTF8.self) } }

    public func write(_ text: String) throws {
        try stdinDescriptor.withLockedValue { descriptor in
            guard let descriptor else { throw TestTimeout("stdin is closed") }
            var bytes = Array(text.utf8)[...]
            while !bytes.isEmpty {
                let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { throw TestTimeout("writing to stdin: errno \(errno)") }
                bytes = bytes.dropFirst(written)
            }
        }
    }

    public func closeStdin() throws {
        stdinDescriptor.withLockedValue { descriptor in
            if let open = descriptor { close(open) }
            descriptor = nil
        }
    }

    public func signal(_ signal: Int32) {
        if isRunning { kill(pid, signal) }
    }

    /// Reaps the child if it has ended, without waiting.
    public var isRunning: Bool {
        exitStatus.withLockedValue { status in
            if status != nil { return false }
            var waitStatus: Int32 = 0
            guard waitpid(pid, &waitStatus, WNOHANG) == pid else { return true }
            status = CleanSpawn.exitStatus(waitStatus)
            return false
        }
    }

    /// Waits until stdout holds a line for which `matches` is true, and returns that line.
    @discardableResult
    public func waitForStdoutLine(
        timeout: Duration = .seconds(30),
        where matches: (String) -> Bool
    ) async throws -> String {
        try await waitForLine(of: { self.stdout }, named: "stdout", timeout: timeout, where: matches)
    }

    /// Waits until stderr holds a line for which `matches` is true, and returns that line.
    @discardableResult
    public func waitForStderrLine(
        timeout: Duration = .seconds(30),
        where matches: (String) -> Bool
    ) async throws -> String {
        try await waitForLine(of: { self.stderr }, named: "stderr", timeout: timeout, where: matches)
    }

    private func waitForLine(
        of output: () -> String,
        named name: String,
        timeout: Duration,
        where matches: (String) -> Bool
    ) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let line = output().split(separator: "\n").map(String.init).first(where: matches) { return line }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw TestTimeout("no matching \(name) line; stdout: \(stdout.debugDescription) stderr: \(stderr)")
    }

    /// The exit status (128 + N for a signal N), once the process has ended within `timeout`.
    public func waitForExit(timeout: Duration = .seconds(30)) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while isRunning {
            if ContinuousClock.now >= deadline {
                throw TestTimeout("process \(pid) still running; stderr: \(stderr)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        // Let the readers collect what the process wrote last.
        try await Task.sleep(for: .milliseconds(50))
        return exitStatus.withLockedValue { $0! }
    }

    /// Resident memory now and at its peak, in KiB, read from /proc.
    public func memory() -> (residentKiB: Int, peakKiB: Int) {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        func field(_ name: String) -> Int {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else {
                return 0
            }
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0")
                ?? 0
        }
        return (field("VmRSS"), field("VmHWM"))
    }

    /// Kills the process if it is still running, so a failed test leaves nothing behind.
    public func terminate() {
        try? closeStdin()
        if let descriptor = unreadStderr.withLockedValue({ $0.take() }) { close(descriptor) }
        exitStatus.withLockedValue { status in
            guard status == nil else { return }
            kill(pid, SIGKILL)
            var waitStatus: Int32 = 0
            while waitpid(pid, &waitStatus, 0) < 0 && errno == EINTR {}
            status = CleanSpawn.exitStatus(waitStatus)
        }
    }

    deinit {
        terminate()
    }
}

/// The real `chat-server` executable on a free port.
public final class ServerProcess: Sendable {
    public let child: ChildProcess
    public let port: Int

    public init(arguments: [String] = [], stallingStderr: Bool = false) async throws {
        child = try ChildProcess(
            ChildProcess.executable("chat-server"),
            ["--port", "0", "--log-level", "warning"] + arguments,
            stallingStderr: stallingStderr
        )
        let line = try await child.waitForStdoutLine { $0.hasPrefix("listening on ") }
        guard let port = line.split(separator: ":").last.flatMap({ Int($0) }) else {
            throw TestTimeout("cannot read a port from \(line.debugDescription)")
        }
        self.port = port
    }
}
