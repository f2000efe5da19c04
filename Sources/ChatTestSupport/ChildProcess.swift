import Foundation
import NIOConcurrencyHelpers
import SystemPackage
import SystemSupport

/// One of the package's executables (or any program) run as a real child process, with its
/// output collected as it arrives.
public final class ChildProcess: Sendable {
    private let process: SpawnedProcess
    public var pid: Int32 { process.pid }
    private let stdinDescriptor: NIOLockedValueBox<CInt?>
    private let output: NIOLockedValueBox<(stdout: [UInt8], stderr: [UInt8], ended: Int)>
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

    /// util-linux's `taskset`, which runs a program on the cores it is given.
    public static let taskset = URL(fileURLWithPath: "/usr/bin/taskset")

    /// The first core this process may run on, as `taskset -c` takes it (the allowed cores need
    /// not start at 0).
    public static func firstAllowedCore() throws -> String {
        guard let allowed = UsableCores.allowedList(),
            let first = allowed.split(whereSeparator: { $0 == "," || $0 == "-" }).first
        else { throw TestTimeout("cannot read this process's allowed cores from /proc/self/status") }
        return String(first)
    }

    /// Starts `executable` with `arguments`. Its stdin is a pipe the test writes to. With
    /// `stallingStderr`, its stderr is a pipe nobody reads (so it fills) until `readStderr()`.
    public init(
        _ executable: URL,
        _ arguments: [String],
        environment: [String: String]? = nil,
        stallingStderr: Bool = false
    ) throws {
        let process = try SpawnedProcess(
            executable.path, arguments, environment: environment, input: .pipe, errorOutput: .pipe)
        let output = NIOLockedValueBox((stdout: [UInt8](), stderr: [UInt8](), ended: 0))
        let stdout = process.standardOutput
        Thread.detachNewThread {
            FileDescriptor(rawValue: stdout).readToEndAndClose { chunk in
                output.withLockedValue { $0.stdout += chunk }
            }
            output.withLockedValue { $0.ended += 1 }
        }
        self.unreadStderr = NIOLockedValueBox(process.standardError)
        self.process = process
        self.stdinDescriptor = NIOLockedValueBox(process.standardInput)
        self.output = output
        if !stallingStderr { readStderr() }
    }

    /// Starts collecting stderr, if nobody does yet.
    public func readStderr() {
        guard let stderr = unreadStderr.withLockedValue({ $0.take() }) else { return }
        let output = self.output
        Thread.detachNewThread {
            FileDescriptor(rawValue: stderr).readToEndAndClose { chunk in
                output.withLockedValue { $0.stderr += chunk }
            }
            output.withLockedValue { $0.ended += 1 }
        }
    }

    public var stdout: String { output.withLockedValue { String(decoding: $0.stdout, as: UTF8.self) } }
    public var stderr: String { output.withLockedValue { String(decoding: $0.stderr, as: UTF8.self) } }

    public func write(_ text: String) throws {
        try stdinDescriptor.withLockedValue { descriptor in
            guard let descriptor else { throw TestTimeout("stdin is closed") }
            do {
                try Array(text.utf8).withUnsafeBytes {
                    try FileDescriptor(rawValue: descriptor).writeFully($0)
                }
            } catch {
                throw TestTimeout("writing to stdin: \(error)")
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
        process.signal(signal)
    }

    /// Reaps the child if it has ended, without waiting.
    public var isRunning: Bool { process.exitIfEnded == nil }

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
        let (line, _) = try await poll(
            for: timeout, every: .milliseconds(5),
            look: { output().split(separator: "\n").map(String.init).first(where: matches) },
            until: { $0 != nil })
        if let line { return line }
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
        // The readers have what it wrote last once both pipes are at their end; a grandchild
        // that inherited them may hold them open, so this wait is bounded.
        let readers = ContinuousClock.now + .seconds(5)
        while output.withLockedValue({ $0.ended }) < 2 && ContinuousClock.now < readers {
            try await Task.sleep(for: .milliseconds(5))
        }
        return process.exitIfEnded!.shellStatus
    }

    /// Resident memory now and at its peak, in KiB, read from /proc (zeros once it has ended).
    public func memory() -> (residentKiB: Int, peakKiB: Int) {
        let memory = ProcessProbe(pid: pid).memory()
        return (memory?.residentKiB ?? 0, memory?.peakKiB ?? 0)
    }

    /// Kills the process if it is still running, so a failed test leaves nothing behind.
    public func terminate() {
        try? closeStdin()
        readStderr()
        process.kill()
    }

    deinit {
        terminate()
    }
}

/// The real `chat-server` executable on a free port.
public final class ServerProcess: Sendable {
    public let child: ChildProcess
    public let port: Int

    /// With `cores` (a kernel CPU list such as `0`), the server runs under `taskset -c cores`.
    public init(arguments: [String] = [], stallingStderr: Bool = false, cores: String? = nil) async throws {
        let executable = ChildProcess.executable("chat-server")
        let flags = ["--port", "0", "--log-level", "warning"] + arguments
        let (program, programArguments) =
            if let cores { (ChildProcess.taskset, ["-c", cores, executable.path] + flags) } else {
                (executable, flags)
            }
        child = try ChildProcess(program, programArguments, stallingStderr: stallingStderr)
        let line = try await child.waitForStdoutLine { $0.hasPrefix("listening on ") }
        guard let port = line.split(separator: ":").last.flatMap({ Int($0) }) else {
            throw TestTimeout("cannot read a port from \(line.debugDescription)")
        }
        self.port = port
    }
}

/// Runs a program to its end and returns its exit status and output (stdout and stderr).
func runToCompletion(_ path: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = try SpawnedProcess(path, arguments, input: .nullDevice, errorOutput: .standardOutput)
    var bytes: [UInt8] = []
    FileDescriptor(rawValue: process.standardOutput).readToEndAndClose { bytes += $0 }
    return (process.waitForExit().shellStatus, String(decoding: bytes, as: UTF8.self))
}
