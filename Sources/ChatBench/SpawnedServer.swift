import Foundation
import Synchronization

/// A server the bench starts itself, so that each scenario measures a fresh process: memory
/// figures then belong to that scenario alone. It must print `listening on HOST:PORT` on
/// stdout once it accepts connections, as chat-server and the tutorial port do.
public final class SpawnedServer {
    public let host: String
    public let port: Int
    public let pid: Int32
    private let process: Process

    public init(executable: String, arguments: [String], timeoutSeconds: Double = 30) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardInput = FileHandle.nullDevice

        // The pipe is drained for the server's whole life: a server that prints a line per
        // connection would otherwise block once the pipe filled.
        let listening = Mutex<(pending: [UInt8], line: String?)>(([], nil))
        let found = DispatchSemaphore(value: 0)
        stdout.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty { handle.readabilityHandler = nil }
            let signal = listening.withLock { state -> Bool in
                guard state.line == nil else { return false }
                state.pending += data
                let lines = state.pending.split(
                    separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
                if let line = lines.dropLast().lazy.map({ String(decoding: $0, as: UTF8.self) })
                    .first(where: { $0.hasPrefix("listening on ") })
                {
                    state.line = line
                    state.pending = []
                    return true
                }
                if data.isEmpty {
                    state.line = ""
                    return true
                }
                return false
            }
            if signal { found.signal() }
        }
        do {
            try process.run()
        } catch {
            throw BenchError(description: "cannot start \(executable): \(error)")
        }
        self.process = process
        self.pid = process.processIdentifier

        if found.wait(timeout: .now() + timeoutSeconds) == .timedOut {
            process.terminate()
            throw BenchError(description: "\(executable) printed no 'listening on' line")
        }
        let line = listening.withLock { $0.line ?? "" }
        // `listening on 127.0.0.1:PORT`; an IPv6 host has colons of its own, so split at the last.
        let address = line.dropFirst("listening on ".count)
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...])
        else {
            process.terminate()
            throw BenchError(description: "\(executable) exited before listening (\(line.debugDescription))")
        }
        self.host = String(address[..<colon])
        self.port = port
    }

    /// How the process ended, or nil while it runs.
    public var exitDescription: String? {
        guard !process.isRunning else { return nil }
        let how = process.terminationReason == .uncaughtSignal ? "signal" : "status"
        return "\(how) \(process.terminationStatus)"
    }

    /// SIGTERM, then SIGKILL if it has not exited within `graceSeconds`.
    public func stop(graceSeconds: Double = 10) {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(graceSeconds)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
    }
}
