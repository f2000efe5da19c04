/// Text output. The single-run report is `key: value` lines that scripts and tests can parse;
/// the scenario report is one table.
public enum Report {
    public static func describe(_ result: BenchResult) -> String {
        let configuration = result.configuration
        let rate = configuration.rate.map { "\(format($0, 0)) msg/s per client" } ?? "unlimited rate"
        var lines = [
            "run: \(configuration.clients) clients x \(configuration.messages) messages x "
                + "\(configuration.recipients) recipients, \(configuration.payloadBytes)-byte bodies, \(rate), "
                + "window \(configuration.rate == nil ? String(configuration.effectiveWindow) : "off")"
                + (configuration.slowReaders > 0 ? ", \(configuration.slowReaders) slow readers" : ""),
            "login: \(configuration.clients + configuration.slowReaders) clients in \(format(result.loginSeconds, 3)) s",
            "deliveries: expected \(result.expected), received \(result.received), lost \(result.lost), "
                + "out-of-order \(result.outOfOrder), corrupt \(result.corrupt), duplicate \(result.surplus), "
                + "notices \(result.notices)" + (result.stalled ? " (stalled)" : ""),
            "throughput: \(format(result.deliveriesPerSecond, 0)) deliveries/s over \(format(result.runSeconds, 3)) s",
            "latency: p50 \(milliseconds(result.latencyP50)) ms, p99 \(milliseconds(result.latencyP99)) ms, "
                + "max \(milliseconds(result.latencyMax)) ms",
        ]
        if configuration.serverPID != nil {
            var memory =
                "server rss: baseline \(kib(result.serverBaselineKiB)) KiB, idle \(kib(result.serverIdleKiB)) KiB, "
            memory += "peak \(kib(result.serverPeakKiB)) KiB"
            if let perConnection = result.idleKiBPerConnection {
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
        if result.serverExited { lines.append("server: exited during the run") }
        // With slow readers, notices that they are offline are expected; otherwise show a few.
        if !result.passed || (result.notices > 0 && configuration.slowReaders == 0) {
            for sample in result.samples { lines.append("sample: \(sample)") }
        }
        lines.append("result: \(result.passed ? "PASS" : "FAIL")")
        return lines.joined(separator: "\n")
    }

    public static func table(_ rows: [(name: String, result: BenchResult)]) -> String {
        let header = [
            "scenario", "clients", "msgs", "rcpt", "body", "deliveries/s", "lost", "ooo", "p50 ms", "p99 ms",
            "max ms", "idle MiB", "peak MiB", "KiB/conn", "cpu bench/server/other s", "notes",
        ]
        var cells = [header]
        for (name, result) in rows {
            let configuration = result.configuration
            var notes: [String] = []
            if let rate = configuration.rate { notes.append("\(format(rate, 0)) msg/s each") }
            if configuration.slowReaders > 0 {
                notes.append("\(result.slowReadersCutOff)/\(configuration.slowReaders) slow cut off")
            }
            if result.serverExited { notes.append("server exited") }
            if result.stalled { notes.append("stalled") }
            if result.corrupt + result.surplus > 0 {
                notes.append("corrupt \(result.corrupt + result.surplus)")
            }
            let cpu = [result.benchCPUSeconds, result.serverCPUSeconds, result.otherCPUSeconds]
                .map { $0.map { format($0, 2) } ?? "-" }.joined(separator: "/")
            cells.append([
                name,
                "\(configuration.clients + configuration.slowReaders)",
                "\(configuration.messages)",
                "\(configuration.recipients)",
                "\(configuration.payloadBytes)",
                configuration.messages == 0 ? "-" : format(result.deliveriesPerSecond, 0),
                "\(result.lost)",
                "\(result.outOfOrder)",
                configuration.messages == 0 ? "-" : milliseconds(result.latencyP50),
                configuration.messages == 0 ? "-" : milliseconds(result.latencyP99),
                configuration.messages == 0 ? "-" : milliseconds(result.latencyMax),
                mib(result.serverIdleKiB),
                mib(result.serverPeakKiB),
                // Per-connection memory only means something with many connections.
                configuration.clients + configuration.slowReaders >= 1000
                    ? result.idleKiBPerConnection.map { format($0, 2) } ?? "-" : "-",
                cpu,
                notes.joined(separator: ", "),
            ])
        }
        let widths = header.indices.map { column in cells.map { $0[column].count }.max() ?? 0 }
        return cells.map { row in
            row.indices.map { column in
                let cell = row[column]
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                // Names and notes read left to right; numbers line up on the right.
                return column == 0 || column == row.count - 1 ? cell + pad : pad + cell
            }.joined(separator: "  ").trimmingTrailingSpaces()
        }.joined(separator: "\n")
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

    static func milliseconds(_ seconds: Double) -> String { format(seconds * 1000, 3) }
    static func kib(_ value: Int?) -> String { value.map(String.init) ?? "-" }
    static func mib(_ value: Int?) -> String { value.map { format(Double($0) / 1024, 1) } ?? "-" }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}
