import ChatProtocol
import NIOCore
import NIOPosix
import SystemSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

public enum Bench {
    /// Runs one benchmark against the server at `configuration.host:port` and blocks until it is
    /// done. Call it from a thread that is not an event loop (the command's main thread).
    ///
    /// The phases: note the server's memory; connect and log in every client (each messages
    /// itself and waits for it: then it is surely registered); note memory and CPU at the
    /// barrier; send and check everything; note CPU and peak memory; see whether the slow
    /// readers were cut off; close.
    public static func run(_ configuration: BenchConfiguration, on group: any EventLoopGroup) throws
        -> BenchResult
    {
        try configuration.validate()
        let loop = group.next()
        let probes = ServerProbes(pids: configuration.serverPIDs)
        var result = BenchResult(configuration: configuration)
        if let exited = probes.exited {
            throw BenchError(description: "no process with pid \(exited)")
        }
        result.serverBaselineKiB = probes.memory()?.residentKiB

        // Resolved once, not per connect: 10,000 clients would otherwise each look the host up.
        let addresses = try configuration.servers.map { server in
            do {
                return try SocketAddress.makeAddressResolvingHost(server.host, port: server.port)
            } catch {
                throw BenchError(description: "cannot connect to \(server): " + Wording.reason(error))
            }
        }
        let tls = try configuration.tlsCAFile.map(BenchTLS.init(trustedCAFile:))
        let driver = try loop.submit {
            NIOLoopBound(
                BenchDriver(loop: loop, addresses: addresses, tls: tls, configuration: configuration),
                eventLoop: loop)
        }
        .wait()
        defer {
            _ = try? loop.flatSubmit { driver.value.closeAll() }.wait()
        }

        let loginStart = monotonicNanoseconds()
        try loop.flatSubmit { driver.value.connectAll() }.wait()
        result.loginSeconds = Double(monotonicNanoseconds() - loginStart) / 1e9
        result.serverIdleKiB = probes.memory()?.residentKiB

        let benchCPUStart = ProcessProbe.selfCPUSeconds()
        let serverCPUStart = probes.cpuSeconds()
        let machineStart = ProcessProbe.machineBusySeconds()
        try loop.flatSubmit { driver.value.run() }.wait()
        result.benchCPUSeconds = ProcessProbe.selfCPUSeconds() - benchCPUStart
        if let serverCPUStart, let end = probes.cpuSeconds() {
            result.serverCPUSeconds = end - serverCPUStart
        }
        if let machineStart, let machineEnd = ProcessProbe.machineBusySeconds() {
            let others = machineEnd - machineStart - result.benchCPUSeconds - (result.serverCPUSeconds ?? 0)
            result.otherCPUSeconds = Swift.max(0, others)
        }

        result.slowReadersCutOff = try loop.flatSubmit { driver.value.drainSlowReaders() }.wait()

        let peakSample = try loop.submit { driver.value.peakSampleKiB }.wait()
        if !probes.isEmpty {
            // A process that has exited (or is a zombie) has no memory lines left in /proc.
            if let memory = probes.memory() {
                result.serverPeakKiB = Swift.max(memory.peakKiB, peakSample)
            } else {
                result.serverExited = true
            }
        }

        let measured = result
        return try loop.submit {
            let driver = driver.value
            let checker = driver.checker
            var result = measured
            let senders = driver.clients.prefix(configuration.sendingClients)
            result.expected = checker.expected
            result.received = checker.received
            result.lost = checker.lost { senders[$0].sent }
            result.notSent = senders.reduce(0) { $0 + configuration.messages - $1.sent }
            result.surplus = checker.surplus
            result.outOfOrder = checker.outOfOrder
            result.corrupt = checker.corrupt
            result.notices = checker.notices
            result.samples = checker.samples
            if checker.tracksCompletion && checker.completion.count > 0 {
                result.completionP50 = Double(checker.completion.percentile(0.5)) / 1e9
                result.completionP99 = Double(checker.completion.percentile(0.99)) / 1e9
            }
            if case .finished(let end) = driver.lifecycle.phase {
                result.stalled = end == .stalled
                if case .serverGone(let reason) = end { result.endReason = reason }
            }
            // The server's exit says more than the connections it took with it.
            if result.serverExited, let pid = probes.exited {
                result.endReason = "the server (pid \(pid)) exited"
            }
            // When the server went away every connection closed with it; nobody was cut off.
            if !result.serverExited && result.endReason == nil {
                result.cutOff = driver.lifecycle.closedByServer
            }
            result.runSeconds = Double(driver.lastDeliveryTime &- driver.startTime) / 1e9
            result.latencyP50 = Double(checker.latency.percentile(0.5)) / 1e9
            result.latencyP99 = Double(checker.latency.percentile(0.99)) / 1e9
            result.latencyMax = Double(checker.latency.maximum) / 1e9
            return result
        }.wait()
    }
}
