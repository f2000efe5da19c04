import SystemSupport

/// The servers of one run, watched through /proc: their memory and CPU time added up, and
/// whether any has exited.
struct ServerProbes: Sendable {
    let probes: [ProcessProbe]

    init(pids: [Int32]) {
        probes = pids.map(ProcessProbe.init(pid:))
    }

    var isEmpty: Bool { probes.isEmpty }

    /// All of them together; nil if any cannot be read (one has exited).
    func memory() -> ProcessProbe.Memory? {
        var total = ProcessProbe.Memory(residentKiB: 0, peakKiB: 0)
        for probe in probes {
            guard let memory = probe.memory() else { return nil }
            total.residentKiB += memory.residentKiB
            total.peakKiB += memory.peakKiB
        }
        return probes.isEmpty ? nil : total
    }

    func cpuSeconds() -> Double? {
        var total = 0.0
        for probe in probes {
            guard let seconds = probe.cpuSeconds() else { return nil }
            total += seconds
        }
        return probes.isEmpty ? nil : total
    }

    /// The pid of a server that is no longer running, if one is not.
    var exited: Int32? { probes.first { !$0.isAlive }?.pid }
}
