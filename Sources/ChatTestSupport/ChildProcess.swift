import Foundation
import NIOConcurrencyHelpers

/// One of the package's executables (or any program) run as a real child process, with its
/// output collected as it arrives.
public final class ChildProcess: Sendable {
    public let process: Process
    private let stdinPipe: Pipe
    private let output: NIOLockedValueBox<(stdout: [UInt8], stderr: [UInt8])>

    /// The directory holding the package's built products: the test bundle sits beside them.
    public static var productsDirectory: URL {
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return me.deletingLastPathComponent()
    }

    public static func executable(_ name: String) -> URL {
        productsDirectory.appendingPathComponent(name)
    }

    /// Starts `executable` with `arguments`. Its stdin is a pipe the test writes to.
    public init(
        _ executable: URL,
        _ arguments: [String],
        environment: [String: String]? = nil
    ) throws {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let environment { process.environment = environment }
        let stdinPipe = Pipe()
        let stdoutPipe = Pipe()
        let stderrPipe = Pipe()
        process.standardInput = stdinPipe
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        let output = NIOLockedValueBox((stdout: [UInt8](), stderr: [UInt8]()))
        stdoutPipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty { handle.readabilityHandler = nil }
            output.withLockedValue { $0.stdout.append(contentsOf: data) }
        }
        stderrPipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty { handle.readabilityHandler = nil }
            output.withLockedValue { $0.stderr.append(contentsOf: data) }
        }
        try process.run()
        self.process = process
        self.stdinPipe = stdinPipe
        self.output = output
    }

    public var pid: Int32 { process.processIdentifier }
    public var stdout: String { output.withLockedValue { String(decoding: $0.stdout, as: UTF8.self) } }
    public var stderr: String { output.withLockedValue { String(decoding: $0.stderr, as: UTF8.self) } }

    public func write(_ text: String) throws {
        try stdinPipe.fileHandleForWriting.write(contentsOf: Data(text.utf8))
    }

    public func closeStdin() throws {
        try stdinPipe.fileHandleForWriting.close()
    }

    public func signal(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// Waits until stdout holds a line for which `matches` is true, and returns that line.
    @discardableResult
    public func waitForStdoutLine(
        timeout: Duration = .seconds(30),
        where matches: (String) -> Bool
    ) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let line = stdout.split(separator: "\n").map(String.init).first(where: matches) { return line }
            if !process.isRunning,
                let line = stdout.split(separator: "\n").map(String.init).first(where: matches)
            {
                return line
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw TestTimeout(
            description: "no matching stdout line; stdout: \(stdout.debugDescription) stderr: \(stderr)")
    }

    /// The exit status, once the process has ended within `timeout`.
    public func waitForExit(timeout: Duration = .seconds(30)) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now >= deadline {
                throw TestTimeout(description: "process \(pid) still running; stderr: \(stderr)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        // Let the pipes deliver what the process wrote last.
        try await Task.sleep(for: .milliseconds(50))
        return process.terminationStatus
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
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    deinit {
        terminate()
    }
}

/// The real `chat-server` executable on a free port.
public final class ServerProcess: Sendable {
    public let child: ChildProcess
    public let port: Int

    public init(arguments: [String] = []) async throws {
        child = try ChildProcess(
            ChildProcess.executable("chat-server"),
            ["--port", "0", "--log-level", "warning"] + arguments
        )
        let line = try await child.waitForStdoutLine { $0.hasPrefix("listening on ") }
        guard let port = line.split(separator: ":").last.flatMap({ Int($0) }) else {
            throw TestTimeout(description: "cannot read a port from \(line.debugDescription)")
        }
        self.port = port
    }
}
