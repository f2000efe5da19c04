import Testing

@testable import ChatBench

@Suite struct ThrottleTests {
    let millisecond: UInt64 = 1_000_000

    @Test func aReaderInDebtWaitsUntilTheRateHasPaidIt() {
        // 100 kB/s: the burst is 4 KiB (more than 20 ms worth).
        var throttle = ReadThrottle(bytesPerSecond: 100_000, now: 0)
        #expect(throttle.burstBytes == 4096)
        #expect(throttle.pause(now: 0) == 0)
        throttle.spend(4096, now: 0)
        #expect(throttle.pause(now: 0) == 0)
        // 10 kB beyond the burst: 100 ms to pay back.
        throttle.spend(10_000, now: 0)
        #expect(throttle.pause(now: 0) == 100 * millisecond)
        #expect(throttle.pause(now: 60 * millisecond) == 40 * millisecond)
        #expect(throttle.pause(now: 100 * millisecond) == 0)
    }

    /// Idle time refills at most the burst: a reader cannot save up for a long gulp.
    @Test func idleTimeBuysAtMostOneBurst() {
        var throttle = ReadThrottle(bytesPerSecond: 1_000_000, now: 0)
        #expect(throttle.burstBytes == 20_000)
        throttle.spend(20_000, now: 10_000 * millisecond)
        #expect(throttle.pause(now: 10_000 * millisecond) == 0)
        throttle.spend(1_000, now: 10_000 * millisecond)
        #expect(throttle.pause(now: 10_000 * millisecond) == 1 * millisecond)
    }

    /// Over many reads of any size the bytes read keep to the rate.
    @Test func theLongRunRateIsTheGivenOne() {
        var throttle = ReadThrottle(bytesPerSecond: 6_000_000, now: 0)
        var now: UInt64 = 0
        var read = 0
        while read < 60_000_000 {
            now += throttle.pause(now: now)
            let chunk = 65_536 - (read % 7_919)
            throttle.spend(chunk, now: now)
            read += chunk
        }
        let seconds = Double(now) / 1e9
        #expect(abs(Double(read) / seconds - 6_000_000) / 6_000_000 < 0.01)
    }
}
