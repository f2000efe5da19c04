#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads another process's memory and CPU time from /proc, and this process's CPU time. It is
/// called every few milliseconds while a run goes on, so it reads into a reused buffer with
/// plain system calls.
public struct ProcessProbe: Sendable {
    public let pid: Int32

    public init(pid: Int32) {
        self.pid = pid
    }

    public struct Memory: Sendable, Equatable {
        /// VmRSS: resident now.
        public var residentKiB: Int
        /// VmHWM: the most it has ever been resident.
        public var peakKiB: Int

        public init(residentKiB: Int, peakKiB: Int) {
            self.residentKiB = residentKiB
            self.peakKiB = peakKiB
        }
    }

    public func memory() -> Memory? {
        guard let status = Self.readFile("/proc/\(pid)/status") else { return nil }
        guard let resident = Self.field("VmRSS:", in: status), let peak = Self.field("VmHWM:", in: status)
        else { return nil }
        return Memory(residentKiB: resident, peakKiB: peak)
    }

    /// User plus system CPU seconds the process has used, from /proc/PID/stat.
    public func cpuSeconds() -> Double? {
        guard let stat = Self.readFile("/proc/\(pid)/stat") else { return nil }
        // The command name (field 2) is in parentheses and may hold spaces: count from after it.
        guard let close = stat.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = stat[(close + 2)...].split(separator: UInt8(ascii: " "))
        // Fields 14 and 15 (utime, stime) are the 12th and 13th after the command name.
        guard fields.count > 12, let user = Int(ascii: fields[11]), let system = Int(ascii: fields[12]) else {
            return nil
        }
        return Double(user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// User plus system CPU seconds this process has used.
    public static func selfCPUSeconds() -> Double {
        var usage = rusage()
        #if canImport(Glibc)
            getrusage(RUSAGE_SELF.rawValue, &usage)
        #else
            getrusage(RUSAGE_SELF, &usage)
        #endif
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// CPU seconds the whole machine has been busy (every CPU, all processes and the kernel),
    /// from /proc/stat: what is left after the bench and the server is other people's work.
    public static func machineBusySeconds() -> Double? {
        guard let stat = readFile("/proc/stat"),
            let lineEnd = stat.firstIndex(of: UInt8(ascii: "\n")),
            stat.starts(with: Array("cpu ".utf8))
        else { return nil }
        let fields = stat[4..<lineEnd].split(separator: UInt8(ascii: " ")).compactMap { Int(ascii: $0) }
        // user nice system idle iowait irq softirq steal ...: idle and iowait are not busy.
        guard fields.count >= 5 else { return nil }
        let busy = fields.reduce(0, +) - fields[3] - fields[4]
        return Double(busy) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// True while the process runs. A zombie (exited, not yet reaped by its parent, as a server
    /// the bench spawned is until the bench reaps it) still answers `kill(pid, 0)`, so /proc
    /// decides where it can be read.
    public var isAlive: Bool {
        guard pid > 0, kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let stat = Self.readFile("/proc/\(pid)/stat"),
            let close = stat.lastIndex(of: UInt8(ascii: ")")), close + 2 < stat.count
        else { return true }
        let state = stat[close + 2]
        return state != UInt8(ascii: "Z") && state != UInt8(ascii: "X")
    }

    static func readFile(_ path: String) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: 4096)
        var filled = 0
        while true {
            if filled == bytes.count { bytes += [UInt8](repeating: 0, count: bytes.count) }
            let count = bytes.withUnsafeMutableBytes { buffer in
                read(descriptor, buffer.baseAddress! + filled, buffer.count - filled)
            }
            if count <= 0 { break }
            filled += count
        }
        return Array(bytes[..<filled])
    }

    /// The number after `name` on its line of a /proc status file (in kB there).
    static func field(_ name: String, in status: [UInt8]) -> Int? {
        let key = Array(name.utf8)
        var lineStart = 0
        while lineStart < status.count {
            let lineEnd = status[lineStart...].firstIndex(of: UInt8(ascii: "\n")) ?? status.count
            if status[lineStart..<lineEnd].starts(with: key) {
                let digits = status[(lineStart + key.count)..<lineEnd].filter { $0 >= 48 && $0 <= 57 }
                return Int(ascii: digits[...])
            }
            lineStart = lineEnd + 1
        }
        return nil
    }
}

extension Int {
    fileprivate init?(ascii digits: ArraySlice<UInt8>) {
        guard !digits.isEmpty else { return nil }
        var value = 0
        for byte in digits {
            guard byte >= 48, byte <= 57 else { return nil }
            value = value * 10 + Int(byte - 48)
        }
        self = value
    }
}
