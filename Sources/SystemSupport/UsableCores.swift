#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How many cores this process may run on. NIO's `System.coreCount` follows the cgroup's CPU
/// quota but not the affinity mask, so a server started under `taskset -c 0` would start one
/// event loop per core of the machine and run them all on the one core it has: two loops pinned
/// to one core lost up to 40% of one loop's throughput (docs/benchmark.md, "One loop against
/// two").
public enum UsableCores {
    /// The cores in this process's affinity mask, capped by `machineCount` (the cgroup's view);
    /// `machineCount` itself where the mask cannot be read.
    ///
    /// Read from /proc, because Swift's Glibc module does not offer `sched_getaffinity`.
    public static func count(machineCount: Int) -> Int {
        guard let list = allowedList(), let inMask = countCores(inList: Substring(list)) else {
            return machineCount
        }
        return max(1, min(machineCount, inMask))
    }

    /// This process's affinity mask as the kernel lists it (`Cpus_allowed_list`, say `0-3,8`),
    /// or nil where it cannot be read.
    public static func allowedList() -> String? {
        let field = "Cpus_allowed_list:"
        guard let status = ProcessProbe.readFile("/proc/self/status"),
            let line = String(decoding: status, as: UTF8.self).split(separator: "\n")
                .first(where: { $0.hasPrefix(field) })
        else { return nil }
        return line.dropFirst(field.count).filter { $0 != " " && $0 != "\t" }
    }

    /// Counts the cores in a kernel CPU list such as `0-3,8,10-11`; nil if it is not one.
    public static func countCores(inList list: Substring) -> Int? {
        var count = 0
        for range in list.split(separator: ",") {
            let ends = range.split(separator: "-").map { Int($0.filter { $0 != " " && $0 != "\t" }) }
            switch ends.count {
            case 1:
                guard ends[0] != nil else { return nil }
                count += 1
            case 2:
                guard let first = ends[0], let last = ends[1], first <= last else { return nil }
                count += last - first + 1
            default:
                return nil
            }
        }
        return count > 0 ? count : nil
    }
}
