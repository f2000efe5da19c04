/// Text output. The single-run report is `key: value` lines that scripts and tests can parse;
/// the scenario report is one table.
public enum Report {
    public static func describe(_ result: BenchResult) -> String {
        let configuration = result.configuration
        let connections = configuration.clients + configuration.slowReaders
        var run = "run: \(count(configuration.clients, "client"))"
        if configuration.sendingClients < configuration.clients {
            run += " (\(configuration.sendingClients) sending)"
        }
        run +=
            " x \(count(configuration.messages, "message")) x "
            + "\(count(configuration.recipients, "recipient")), \(configuration.payloadBytes)-byte bodies"
        // Rate and window only shape sending; without messages they mean nothing.
        if configuration.messages > 0 {
            if let rate = configuration.rate {
                run += ", \(exact(rate)) msg/s per client"
            } else if configuration.floods {
                run += ", flood (no window)"
            } else {
                run += ", unlimited rate, window \(configuration.effectiveWindow)"
            }
        }
        if let readerRate = configuration.readerRate {
            run += ", each reading at most \(exact(readerRate)) B/s"
        }
        if configuration.slowReaders > 0 { run += ", \(count(configuration.slowReaders, "slow reader"))" }
        let arrived = result.received > 0
        var lines = [run]
        if configuration.servers.count > 1 {
            var servers =
                "servers: \(configuration.servers.count) (client i connects to server i mod "
                + "\(configuration.servers.count))"
            if let share = configuration.crossServerShare {
                servers += ", \(format(share * 100, 0))% of deliveries cross servers"
            }
            lines.append(servers)
        }
        lines += [
            "login: \(count(connections, "client")) in \(format(result.loginSeconds, 3)) s",
            "deliveries: expected \(result.expected), received \(result.received), lost \(result.lost), "
                + "out-of-order \(result.outOfOrder), corrupt \(result.corrupt), duplicate \(result.surplus), "
                + "notices \(result.notices)" + (result.stalled ? " (stalled)" : ""),
        ]
        if result.notSent > 0 {
            lines.append(
                "not sent: \(count(result.notSent, "message")) "
                    + "(\(result.notSent * configuration.recipients) deliveries, neither received nor lost)")
        }
        lines += [
            "throughput: \(format(result.deliveriesPerSecond, 0)) deliveries/s over \(format(result.runSeconds, 3)) s",
            arrived
                ? "latency: p50 \(milliseconds(result.latencyP50)) ms, p99 \(milliseconds(result.latencyP99)) ms, "
                    + "max \(milliseconds(result.latencyMax)) ms"
                : "latency: p50 -, p99 -, max -",
        ]
        if let p50 = result.completionP50, let p99 = result.completionP99 {
            lines.append(
                "every recipient: p50 \(milliseconds(p50)) ms, p99 \(milliseconds(p99)) ms "
                    + "(from sending a message until its last recipient had it)")
        }
        if !configuration.serverPIDs.isEmpty {
            var memory =
                "server rss: baseline \(kib(result.serverBaselineKiB)) KiB, idle \(kib(result.serverIdleKiB)) KiB, "
            memory += "peak \(kib(result.serverPeakKiB)) KiB"
            if connections >= perConnectionMinimum, let perConnection = result.idleKiBPerConnection {
                memory += ", \(format(perConnection, 2)) KiB per idle connection"
            }
            lines.append(memory)
        }
        var cpu = "cpu: bench \(format(result.benchCPUSeconds, 3)) s"
        if let server = result.serverCPUSeconds {
            cpu += ", server \(format(server, 3)) s"
            if server > 0 { cpu += " (bench/server \(format(result.benchCPUSeconds / server, 2)))" }
        }
        if let others = result.otherCPUSeconds { cpu += ", rest of the machine \(format(others, 3)) s" }
        lines.append(cpu)
        if configuration.slowReaders > 0 {
            lines.append(
                "slow readers: \(result.slowReadersCutOff) of \(configuration.slowReaders) cut off by the server"
            )
        }
        if result.cutOff > 0 {
            lines.append(
                "cut off: \(result.cutOff) of \(count(configuration.clients, "client")) closed by the server "
                    + "mid-run (what they were sent and never got is lost)")
        }
        if let endReason = result.endReason { lines.append("run ended: \(endReason)") }
        // With slow readers, notices that they are offline are expected; otherwise show a few.
        if !result.passed || (result.notices > 0 && configuration.slowReaders == 0) {
            for sample in result.samples { lines.append("sample: \(sample)") }
        }
        lines.append("result: \(result.passed ? "PASS" : "FAIL")")
        return lines.joined(separator: "\n")
    }

    /// `value` with `decimals` digits after the point, without Foundation's formatter.
    public static func format(_ value: Double, _ decimals: Int) -> String {
        guard value.isFinite else { return "\(value)" }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        let whole = Int(scaled / scale)
        let fraction = Int(scaled - Double(whole) * scale)
        let sign = value < 0 && scaled > 0 ? "-" : ""
        guard decimals > 0 else { return sign + "\(whole)" }
        let digits = String(fraction)
        return sign + "\(whole)." + String(repeating: "0", count: decimals - digits.count) + digits
    }

    /// Per-connection memory only means something with many connections: with a few, the
    /// server's own growth between the two samples dominates.
    static let perConnectionMinimum = 1000

    /// `rate` as given: `0.5`, not rounded to `1`; whole numbers without `.0`.
    static func exact(_ rate: Double) -> String {
        rate == rate.rounded() && abs(rate) < 1e15 ? String(Int(rate)) : "\(rate)"
    }

    /// `1 client`, `2 clients`.
    static func count(_ number: Int, _ noun: String) -> String {
        "\(number) \(noun)\(number == 1 ? "" : "s")"
    }

    static func milliseconds(_ seconds: Double) -> String { format(seconds * 1000, 3) }
    static func kib(_ value: Int?) -> String { value.map(String.init) ?? "-" }
    static func mib(_ value: Int?) -> String { value.map { format(Double($0) / 1024, 1) } ?? "-" }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}
