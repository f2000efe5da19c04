import Foundation
import NIOConcurrencyHelpers

/// Loopback ports for what must be told its port before it binds: a `chat-server` started again
/// on the port its killed predecessor had, PostgreSQL, a port that refuses.
///
/// A port found by binding to 0 comes from the kernel's ephemeral range, the same range every
/// connection the suite opens takes its local port from; one such connection took a "free" port
/// between the probe and the server's bind and failed a CI run ("address already in use"). So
/// these come from below that range, where nothing in the suite binds unasked, and no port is
/// handed out twice in one run.
public enum SparePort {
    private static let handedOut = NIOLockedValueBox(Set<Int>())

    /// A loopback port nothing is bound to now and nothing in this run will take unasked.
    public static func take() throws -> Int {
        let ephemeral = ephemeralRange()
        // Well above the ports services keep, and below the ephemeral range when there is room.
        let candidates =
            ephemeral.lowerBound > 20_000 ? 15_000..<ephemeral.lowerBound : 1_024..<ephemeral.lowerBound
        for _ in 0..<200 {
            let port = Int.random(in: candidates)
            let fresh = handedOut.withLockedValue { $0.insert(port).inserted }
            if fresh, isBindable(port) { return port }
        }
        throw TestTimeout("no spare loopback port below \(ephemeral.lowerBound)")
    }

    /// The kernel's range for local ports it picks itself, from procfs (Linux's default if absent).
    static func ephemeralRange() -> ClosedRange<Int> {
        let text =
            (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        let bounds = text.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        guard bounds.count == 2, bounds[0] > 1_024, bounds[0] <= bounds[1] else { return 32_768...60_999 }
        return bounds[0]...bounds[1]
    }

    private static func isBindable(_ port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        return withLoopbackAddress(port: port) { bind(descriptor, $0, $1) } == 0
    }
}
