import Dispatch
import Foundation
import Synchronization
import SystemSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A script that logs in as `alice`, sends `bob: N` and closes, `rounds` times as fast as a
/// blocking socket lets it, on a thread of its own, while `busyThreads` threads spin beside it:
/// a machine with no core to spare, as a CI run compiling on both cores is.
enum BusyMachineScript {
    /// Returns why a round failed, if one did: the script stops there (each connect gives up
    /// after 5 s, so a server that stops answering ends it soon).
    static func run(port: Int, rounds: Int, busyThreads: Int) async -> String? {
        // The in-process server holds every queued connection, and this process has both ends.
        _ = OpenFileLimit.raiseToHardLimit()
        let stop = Atomic<Bool>(false)
        let spinning = DispatchGroup()
        for _ in 0..<busyThreads {
            spinning.enter()
            Thread.detachNewThread {
                var turns = 0
                while !stop.load(ordering: .relaxed) { turns &+= 1 }
                spinning.leave()
            }
        }
        let failure = await withCheckedContinuation { (done: CheckedContinuation<String?, Never>) in
            Thread.detachNewThread {
                let failure = (0..<rounds).lazy.compactMap { round in
                    oneRound(round, port: port).map { "round \(round): \($0)" }
                }.first
                done.resume(returning: failure)
            }
        }
        stop.store(true, ordering: .relaxed)
        await withCheckedContinuation { (stopped: CheckedContinuation<Void, Never>) in
            spinning.notify(queue: .global()) { stopped.resume() }
        }
        return failure
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
