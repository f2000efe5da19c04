import Foundation
import SystemPackage
import SystemSupport
import Testing

@Suite struct SystemSupportTests {
    /// A pipe made non-blocking by someone else, with more to write than it holds: every byte
    /// still arrives, where swift-system's `writeAll` stops with EAGAIN.
    @Test func writeFullyWaitsOutANonBlockingPipe() throws {
        let (readEnd, writeEnd) = try FileDescriptor.pipe()
        _ = fcntl(writeEnd.rawValue, F_SETFL, fcntl(writeEnd.rawValue, F_GETFL) | O_NONBLOCK)
        let bytes = (0..<1_000_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let reader = Thread.detach(returning: [UInt8].self) {
            var received: [UInt8] = []
            readEnd.readToEndAndClose { received += $0 }
            return received
        }
        try bytes.withUnsafeBytes { try writeEnd.writeFully($0) }
        try writeEnd.close()
        #expect(reader.value == bytes)
    }

    @Test func writeLineEndsTheLineAndAClosedReaderIsBrokenPipe() throws {
        let (readEnd, writeEnd) = try FileDescriptor.pipe()
        try writeEnd.writeLine("listening on 127.0.0.1:1")
        var received: [UInt8] = []
        try writeEnd.close()
        readEnd.readToEndAndClose { received += $0 }
        #expect(String(decoding: received, as: UTF8.self) == "listening on 127.0.0.1:1\n")

        let (other, writer) = try FileDescriptor.pipe()
        try other.close()
        signal(SIGPIPE, SIG_IGN)
        #expect(throws: Errno.brokenPipe) { try writer.writeLine("nobody reads this") }
        try writer.close()
    }

    @Test func theOpenFileLimitIsRaisedToTheHardLimit() {
        let soft = OpenFileLimit.raiseToHardLimit()
        var limit = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        #expect(soft == (limit.rlim_max >= rlim_t(Int.max) ? Int.max : Int(limit.rlim_max)))
        #expect(limit.rlim_cur == limit.rlim_max)
    }

    /// The child gets only its three standard descriptors, no blocked signal and default
    /// actions, whatever this process has open, blocks or ignores.
    @Test func aChildStartsAsAShellWouldStartIt() throws {
        let (keptOpen, other) = try FileDescriptor.pipe()
        defer {
            try? keptOpen.close()
            try? other.close()
        }
        signal(SIGUSR1, SIG_IGN)
        defer { signal(SIGUSR1, SIG_DFL) }
        let child = try SpawnedProcess(
            "sh", ["-c", "ls /proc/self/fd; grep -E '^Sig(Blk|Ign)' /proc/self/status"],
            errorOutput: .standardOutput)
        var output: [UInt8] = []
        FileDescriptor(rawValue: child.standardOutput).readToEndAndClose { output += $0 }
        #expect(child.waitForExit() == .status(0))
        let lines = String(decoding: output, as: UTF8.self).split(separator: "\n")
        // ls itself holds one more for the directory it lists.
        let descriptors = lines.compactMap { Int($0) }
        #expect(descriptors.filter { $0 > 3 }.isEmpty, "\(lines)")
        // Signals 1 to 31; glibc keeps the two above for itself and sigfillset leaves them out.
        func signals(_ name: String) -> UInt64? {
            lines.first { $0.hasPrefix(name + ":") }.flatMap {
                UInt64($0.dropFirst(name.count + 2), radix: 16)
            }
        }
        #expect(signals("SigBlk").map { $0 & 0x7fff_ffff } == 0, "\(lines)")
        #expect(signals("SigIgn").map { $0 & 0x7fff_ffff } == 0, "\(lines)")
    }

    @Test func exitsAreNamedAndStoppingEndsEvenAChildThatIgnoresSIGTERM() throws {
        let failing = try SpawnedProcess("sh", ["-c", "exit 3"])
        #expect(failing.waitForExit() == .status(3))
        #expect(failing.waitForExit().description == "status 3")
        #expect(failing.waitForExit().shellStatus == 3)

        let stubborn = try SpawnedProcess("sh", ["-c", "trap '' TERM; echo ready; exec sleep 30"])
        // Once it says so, its trap is set.
        var ready = [UInt8](repeating: 0, count: 6)
        let output = FileDescriptor(rawValue: stubborn.standardOutput)
        _ = try ready.withUnsafeMutableBytes { try output.read(into: $0) }
        defer { try? output.close() }
        let exit = stubborn.stop(graceSeconds: 0.2)
        #expect(exit == .signal(SIGKILL) && exit.description == "signal 9" && exit.shellStatus == 137)
        #expect(kill(stubborn.pid, 0) == -1)
    }

    @Test(arguments: [
        ("/nonexistent", "cannot start /nonexistent: no such file"),
        ("no-such-program-anywhere", "cannot start no-such-program-anywhere: not found in PATH"),
        ("/etc/passwd", "cannot start /etc/passwd: permission denied (not an executable file?)"),
    ])
    func aFailedStartIsInWords(executable: String, message: String) {
        let error = #expect(throws: SpawnError.self) { try SpawnedProcess(executable, []) }
        #expect(error?.description == message)
    }

    @Test func theProbeReadsThisProcess() throws {
        let probe = ProcessProbe(pid: getpid())
        let memory = try #require(probe.memory())
        #expect(memory.residentKiB > 0 && memory.peakKiB >= memory.residentKiB)
        #expect(probe.isAlive)
        #expect((probe.cpuSeconds() ?? -1) >= 0)
    }
}

extension Thread {
    /// Runs `body` on a thread of its own; `value` waits for its result.
    static func detach<T: Sendable>(returning: T.Type, _ body: @escaping @Sendable () -> T) -> Joined<T> {
        let joined = Joined<T>()
        Thread.detachNewThread { joined.finish(body()) }
        return joined
    }

    final class Joined<T: Sendable>: @unchecked Sendable {
        private let condition = NSCondition()
        private var result: T?

        func finish(_ value: T) {
            condition.lock()
            result = value
            condition.broadcast()
            condition.unlock()
        }

        var value: T {
            condition.lock()
            defer { condition.unlock() }
            while result == nil { condition.wait() }
            return result!
        }
    }

    @Test(arguments: [
        ("0", 1), ("0-1", 2), ("0-3,8,10-11", 7), (" 2", 1), ("", nil), ("3-1", nil), ("a", nil),
    ])
    func coreListsAreCounted(_ list: String, _ count: Int?) {
        #expect(UsableCores.countCores(inList: Substring(list)) == count)
    }
}
