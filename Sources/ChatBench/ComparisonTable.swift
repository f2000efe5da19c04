extension Report {
    /// One figure of a run, with how the comparison table heads and formats it.
    struct Figure: Sendable {
        var header: String
        var decimals: Int
        var value: @Sendable (BenchResult) -> Double?
    }

    static let comparedFigures: [Figure] = [
        Figure(header: "deliveries/s", decimals: 0) {
            $0.configuration.messages == 0 ? nil : $0.deliveriesPerSecond
        },
        Figure(header: "p50 ms", decimals: 3) { $0.received == 0 ? nil : $0.latencyP50 * 1000 },
        Figure(header: "p99 ms", decimals: 3) { $0.received == 0 ? nil : $0.latencyP99 * 1000 },
        Figure(header: "all p50 ms", decimals: 3) { $0.completionP50.map { $0 * 1000 } },
        Figure(header: "all p99 ms", decimals: 3) { $0.completionP99.map { $0 * 1000 } },
        Figure(header: "peak MiB", decimals: 1) { $0.serverPeakKiB.map { Double($0) / 1024 } },
        Figure(header: "KiB/conn", decimals: 2) {
            $0.configuration.clients + $0.configuration.slowReaders >= perConnectionMinimum
                ? $0.idleKiBPerConnection : nil
        },
        Figure(header: "server µs/delivery", decimals: 2) { result in
            result.received == 0 ? nil : result.serverCPUSeconds.map { $0 / Double(result.received) * 1e6 }
        },
    ]

    /// The table of a comparison: for each figure the median over A's runs, over B's runs, and
    /// A/B; then how many runs of each failed. A figure no run of a row has is `-`.
    public static func comparisonTable(_ rows: [ScenarioRunner.Comparison]) -> String {
        var header = ["scenario"]
        for figure in comparedFigures { header += ["\(figure.header) A", "B", "A/B"] }
        header += ["failed A", "B", "notes"]
        var cells = [header]
        for row in rows {
            var line = [row.name]
            for figure in comparedFigures {
                let a = median(row.a.compactMap(figure.value))
                let b = median(row.b.compactMap(figure.value))
                line.append(a.map { format($0, figure.decimals) } ?? "-")
                line.append(b.map { format($0, figure.decimals) } ?? "-")
                if let a, let b, b > 0 { line.append(format(a / b, 2)) } else { line.append("-") }
            }
            let failedA = row.a.filter { !$0.passed }
            let failedB = row.b.filter { !$0.passed }
            line += ["\(failedA.count)/\(row.a.count)", "\(failedB.count)/\(row.b.count)"]
            var notes: [String] = []
            for (label, failed) in [("A", failedA), ("B", failedB)] {
                guard let worst = failed.max(by: { $0.lost + $0.cutOff < $1.lost + $1.cutOff }) else {
                    continue
                }
                var note = "\(label): lost \(worst.lost)"
                if worst.cutOff > 0 { note += ", cut off \(worst.cutOff)" }
                if worst.notSent > 0 { note += ", not sent \(worst.notSent)" }
                if let reason = worst.endReason { note += ", \(reason)" }
                notes.append(note)
            }
            line.append(notes.joined(separator: "; "))
            cells.append(line)
        }
        return align(cells)
    }

    /// The middle value, or the mean of the middle two; nil for none.
    static func median(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
}
