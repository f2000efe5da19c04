import Foundation
import Synchronization
import SystemPackage
import SystemSupport

/// A server the bench starts itself, so that each scenario measures a fresh process: memory
/// figures then belong to that scenario alone. It must print `listening on HOST:PORT` on
/// stdout once it accepts connections, as chat-server and the tutorial port do.
public final class SpawnedServer: Sendable {
    public let address: ServerAddress
    public var pid: Int32 { process.pid }
    private let process: SpawnedProcess
    private let output: Output

    public static let defaultStartTimeoutSeconds = 30.0
    /// How long a server that has not said it listens gets between SIGTERM and SIGKILL: it has
    /// no clients to say goodbye to.
    static let startFailureGraceSeconds = 1.0

    /// What the reader threads collect.
    private final class Output: Sendable {
        struct State {
            var stdout: [UInt8] = []
            var listeningLine: String?
            /// The end of what the server wrote on stderr, for a failure message.
            var stderrTail: [UInt8] = []
            var stderrClosed = false
        }
        let state = Mutex(State())
    }

    public init(
        executable: String, arguments: [String], timeoutSeconds: Double = defaultStartTimeoutSeconds
    ) throws {
        let process: SpawnedProcess
        do {
            process = try SpawnedProcess(executable, arguments, input: .nullDevice, errorOutput: .pipe)
        } catch {
            throw BenchError(description: error.description)
        }
        self.process = process
        let output = Output()
        self.output = output
        Self.drain(process, into: output)

        let line = try Self.listeningLine(of: executable, process, output, timeoutSeconds: timeoutSeconds)
        guard let address = ServerAddress(listeningLine: line) else {
            process.stop(graceSeconds: Self.startFailureGraceSeconds)
            throw BenchError(
                description:
                    "\(executable) printed a 'listening on' line without HOST:PORT: \(line.debugDescription)"
            )
        }
        self.address = address
    }

    /// How the process ended (`status 1`, `signal 9`), or nil while it runs.
    public var exitDescription: String? { process.exitIfEnded?.description }

    /// Waits up to `seconds` for the process to end on its own; how it ended, or nil.
    public func waitForExit(seconds: Double) -> String? { process.waitForExit(seconds: seconds)?.description }

    /// SIGTERM, then SIGKILL if it has not exited within `graceSeconds`; reaps it either way, so
    /// no server outlives the bench, not even one that ignores SIGTERM.
    public func stop(graceSeconds: Double = 10) { process.stop(graceSeconds: graceSeconds) }

    /// Both pipes are drained for the server's whole life: a server that prints a line per
    /// connection would otherwise block once a pipe filled. Its stderr is passed on to ours.
    private static func drain(_ process: SpawnedProcess, into output: Output) {
        let stdout = process.standardOutput
        Thread.detachNewThread {
            FileDescriptor(rawValue: stdout).readToEndAndClose { chunk in
                output.state.withLock { state in
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
        guard let stderr = process.standardError else { return }
        Thread.detachNewThread {
            FileDescriptor(rawValue: stderr).readToEndAndClose { chunk in
                _ = try? chunk.withUnsafeBytes { try FileDescriptor.standardError.writeFully($0) }
                output.state.withLock { state in
                    state.stderrTail += chunk
                    if state.stderrTail.count > 4096 {
                        state.stderrTail.removeFirst(state.stderrTail.count - 4096)
                    }
                }
            }
            output.state.withLock { $0.stderrClosed = true }
        }
    }

    /// Waits for the server's `listening on` line; stops it and throws if the line does not
    /// come in time or the server exits first.
    private static func listeningLine(
        of executable: String, _ process: SpawnedProcess, _ output: Output, timeoutSeconds: Double
    ) throws -> String {
        let deadline = ContinuousClock.now + .seconds(timeoutSeconds)
        while true {
            if let line = output.state.withLock({ $0.listeningLine }) { return line }
            if let exit = process.exitIfEnded {
                throw BenchError(
                    description: "\(executable) exited before listening (\(exit))\(lastErrorLine(output))")
            }
            if ContinuousClock.now >= deadline {
                process.stop(graceSeconds: startFailureGraceSeconds)
                throw BenchError(
                    description:
                        "\(executable) printed no 'listening on' line within \(Report.exact(timeoutSeconds)) s"
                )
            }
            usleep(10_000)
        }
    }

    /// `: ` and the last line the server wrote on stderr, or nothing if it wrote none.
    private static func lastErrorLine(_ output: Output) -> String {
        // The pipe closes just after the process ends; its last words may still be on the way.
        let deadline = ContinuousClock.now + .milliseconds(200)
        while !output.state.withLock({ $0.stderrClosed }) && ContinuousClock.now < deadline {
            usleep(5_000)
        }
        let tail = output.state.withLock { $0.stderrTail }
        let line = tail.split(separator: UInt8(ascii: "\n")).last.map {
            String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespaces)
        }
        guard let line, !line.isEmpty else { return "" }
        return ": " + String(line.prefix(300))
    }
}
