extension Report {
    /// The scenario table: one row per scenario, numbers right-aligned.
    public static func table(_ rows: [(name: String, result: BenchResult)]) -> String {
        let header = [
            "scenario", "clients", "msgs", "rcpt", "body", "deliveries/s", "lost", "cut", "ooo", "p50 ms",
            "p99 ms", "max ms", "all p50/p99 ms", "idle MiB", "peak MiB", "KiB/conn",
            "cpu bench/server/other s", "notes",
        ]
        var cells = [header]
        for (name, result) in rows {
            let configuration = result.configuration
            var notes: [String] = []
            if let rate = configuration.rate { notes.append("\(exact(rate)) msg/s each") }
            if configuration.floods { notes.append("flood") }
            if let readerRate = configuration.readerRate {
                notes.append("read \(format(readerRate / 1e6, 1)) MB/s each")
            }
            if configuration.sendingClients < configuration.clients {
                notes.append("\(configuration.sendingClients) sending")
            }
            if configuration.slowReaders > 0 {
                notes.append("\(result.slowReadersCutOff)/\(configuration.slowReaders) slow cut off")
            }
            if result.serverExited || result.serverExit != nil {
                notes.append("server exited")
            } else if result.endReason != nil {
                notes.append("connections closed")
            }
            if result.stalled { notes.append("stalled") }
            if result.notSent > 0 { notes.append("not sent \(result.notSent)") }
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
                "\(result.cutOff)",
                "\(result.outOfOrder)",
                result.received == 0 ? "-" : milliseconds(result.latencyP50),
                result.received == 0 ? "-" : milliseconds(result.latencyP99),
                result.received == 0 ? "-" : milliseconds(result.latencyMax),
                completion(result),
                mib(result.serverIdleKiB),
                mib(result.serverPeakKiB),
                configuration.clients + configuration.slowReaders >= perConnectionMinimum
                    ? result.idleKiBPerConnection.map { format($0, 2) } ?? "-" : "-",
                cpu,
                notes.joined(separator: ", "),
            ])
        }
        return align(cells)
    }

    /// Cells in columns: names and notes (the first and last column) read left to right,
    /// numbers line up on the right.
    static func align(_ cells: [[String]]) -> String {
        let columns = cells.first?.count ?? 0
        let widths = (0..<columns).map { column in cells.map { $0[column].count }.max() ?? 0 }
        return cells.map { row in
            row.indices.map { column in
                let cell = row[column]
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                return column == 0 || column == row.count - 1 ? cell + pad : pad + cell
            }.joined(separator: "  ").trimmingTrailingSpaces()
        }.joined(separator: "\n")
    }

    /// `p50/p99` of the time until a message's last recipient had it, or `-`.
    static func completion(_ result: BenchResult) -> String {
        guard let p50 = result.completionP50, let p99 = result.completionP99 else { return "-" }
        return "\(milliseconds(p50))/\(milliseconds(p99))"
    }
}
