import ChatTestSupport
import Foundation
import SystemSupport
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A script that logs in as `alice`, sends `bob: N` and closes, `rounds` times as fast as a
/// blocking socket lets it, on a thread of its own, against a server that shares its one core
/// with a spinning process: a machine with no core to spare, as a CI run compiling on both cores
/// is, confined to one core so that the tests running beside it keep the other.
enum BusyMachineScript {
    /// A process that spins on `core` until it is terminated, or until this process is gone (a
    /// test run that crashed would otherwise leave it spinning). `taskset` becomes the shell, so
    /// the shell's parent is this process.
    static func spin(on core: String) throws -> ChildProcess {
        try ChildProcess(
            ChildProcess.taskset,
            ["-c", core, "/bin/sh", "-c", "while kill -0 $PPID 2>/dev/null; do :; done"])
    }

    /// Returns why a round failed, if one did: the script stops there (each connect gives up
    /// after 5 s, so a server that stops answering ends it soon).
    static func run(port: Int, rounds: Int) async -> String? {
        await withCheckedContinuation { (done: CheckedContinuation<String?, Never>) in
            Thread.detachNewThread {
                let failure = (0..<rounds).lazy.compactMap { round in
                    oneRound(round, port: port).map { "round \(round): \($0)" }
                }.first
                done.resume(returning: failure)
            }
        }
    }

    private static func oneRound(_ round: Int, port: Int) -> String? {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return "socket: errno \(errno)" }
        defer { close(descriptor) }
        // Bounds a blocking connect on Linux too, so a server that stops answering fails the
        // round instead of hanging the test.
        var limit = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        guard connectToLoopback(descriptor, port: port) == 0 else { return "connect: errno \(errno)" }
        let lines = Array("alice\nbob: \(round)\n".utf8)
        let sent = lines.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, 0) }
        return sent == lines.count ? nil : "send: errno \(errno)"
    }
}
