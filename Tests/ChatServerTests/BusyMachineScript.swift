import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A script that logs in as `alice`, sends `bob: N` and closes, `rounds` times as fast as a
/// blocking socket lets it, on a thread of its own, while `busyThreads` threads spin beside it:
/// a machine with no core to spare, as a CI run compiling on both cores is.
enum BusyMachineScript {
    static func run(port: Int, rounds: Int, busyThreads: Int) async {
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
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                for round in 0..<rounds {
                    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                    guard descriptor >= 0 else { break }
                    if connectToLoopback(descriptor, port: port) == 0 {
                        let lines = Array("alice\nbob: \(round)\n".utf8)
                        _ = lines.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, 0) }
                    }
                    close(descriptor)
                }
                done.resume()
            }
        }
        stop.store(true, ordering: .relaxed)
        spinning.wait()
    }
}
