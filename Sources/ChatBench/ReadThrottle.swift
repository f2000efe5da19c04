/// A token bucket that paces one client's reading to `bytesPerSecond`: reading spends tokens,
/// time refills them up to `burstBytes`, and a client in debt stops reading from its socket
/// until the debt is paid. The server then sees what a slow reader really is: a receive window
/// that fills and stays full, not a client that reads fast and discards.
struct ReadThrottle {
    let bytesPerSecond: Double
    /// What may be read at once after a pause: 20 ms worth, at least 4 KiB, so that a throttled
    /// client still reads in chunks of reasonable size.
    let burstBytes: Double
    private var tokens: Double
    private var lastRefill: UInt64

    init(bytesPerSecond: Double, now: UInt64) {
        self.bytesPerSecond = bytesPerSecond
        self.burstBytes = Swift.max(4096, bytesPerSecond / 50)
        self.tokens = burstBytes
        self.lastRefill = now
    }

    mutating func spend(_ bytes: Int, now: UInt64) {
        refill(now: now)
        tokens -= Double(bytes)
    }

    /// Nanoseconds to wait before reading again; zero when it may read now.
    mutating func pause(now: UInt64) -> UInt64 {
        refill(now: now)
        return tokens >= 0 ? 0 : UInt64((-tokens / bytesPerSecond * 1e9).rounded(.up))
    }

    private mutating func refill(now: UInt64) {
        guard now > lastRefill else { return }
        tokens = Swift.min(burstBytes, tokens + Double(now - lastRefill) / 1e9 * bytesPerSecond)
        lastRefill = now
    }
}
