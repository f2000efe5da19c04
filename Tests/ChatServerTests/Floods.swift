import ChatTestSupport
import Testing

/// Numbered lines for flow-control tests: `<recipients>: <sequence> <padding>`, so a reader can
/// check that every line arrived, once, in order, and whole.
struct Flood {
    let recipients: String
    let count: Int
    /// Bytes of text per line, sequence number included.
    let textBytes: Int

    func text(_ sequence: Int) -> String {
        let number = "\(sequence) "
        return number + String(repeating: "x", count: max(0, textBytes - number.utf8.count))
    }

    /// Sends every line, about 64 KiB per write; each write waits while the server does not read.
    func send(from client: LineClient) async throws {
        var batch = ""
        for sequence in 0..<count {
            batch += "\(recipients): \(text(sequence))\n"
            if batch.utf8.count >= 64 * 1024 || sequence == count - 1 {
                try await client.sendRaw(batch)
                batch = ""
            }
        }
    }
}

/// Reads `perSender` lines from each of `senders` (interleaved in any way) and checks each
/// sender's lines arrive complete and in order. Fails on any notice.
func expectEveryLine(
    _ reader: LineClient,
    from senders: [String],
    of flood: Flood,
    lineTimeout: Duration = .seconds(30)
) async throws {
    var next = Dictionary(uniqueKeysWithValues: senders.map { ($0, 0) })
    for _ in 0..<(flood.count * senders.count) {
        let line = try #require(try await reader.readLine(timeout: lineTimeout), "closed early: \(next)")
        try #require(line.hasPrefix("from "), "expected a delivery, got \(line.prefix(120))")
        let afterFrom = line.dropFirst(5)
        let colon = try #require(afterFrom.firstIndex(of: ":"))
        let sender = String(afterFrom[..<colon])
        let expected = try #require(next[sender], "unexpected sender in \(line.prefix(80))")
        try #require(
            line == "from \(sender): \(flood.text(expected))",
            "\(sender)'s line \(expected) is wrong or out of order: \(line.prefix(80))")
        next[sender] = expected + 1
    }
}

/// The server's peak resident memory may grow by at most `limitMiB` over `baselineKiB`.
func expectPeakGrowth(of server: ServerProcess, over baselineKiB: Int, atMostMiB limitMiB: Int) {
    let peak = server.child.memory().peakKiB
    #expect(
        peak - baselineKiB <= limitMiB * 1024,
        "server peak RSS grew by \((peak - baselineKiB) / 1024) MiB (limit \(limitMiB) MiB)")
}
