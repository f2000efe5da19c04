/// Latencies in nanoseconds, counted in log-linear buckets: each power of two is split into 64
/// equal sub-buckets, so any recorded value is known to within 1/64 (1.6%) of itself. The
/// buckets are allocated once; recording is an index computation and an increment.
///
/// Everything `record` touches is raw memory rather than stored `var`s: a class's stored
/// properties get a dynamic exclusivity check on every write, which at millions of samples a
/// second cost more than the recording itself.
public final class LatencyHistogram {
    /// Values below 2^subBucketBits land in exact buckets of width 1.
    static let subBucketBits = 6
    static let subBuckets = 1 << subBucketBits
    /// 2^42 ns is over an hour; anything longer is clamped into the last bucket.
    static let maximumExponent = 42
    static let bucketCount = (maximumExponent - subBucketBits + 2) * subBuckets

    /// The buckets, then the sample count, then the maximum.
    private let counts: UnsafeMutablePointer<UInt64>
    private var total: UnsafeMutablePointer<UInt64> { counts + Self.bucketCount }
    private var largest: UnsafeMutablePointer<UInt64> { counts + Self.bucketCount + 1 }

    public var count: UInt64 { total.pointee }
    public var maximum: UInt64 { largest.pointee }

    public init() {
        counts = .allocate(capacity: Self.bucketCount + 2)
        counts.initialize(repeating: 0, count: Self.bucketCount + 2)
    }

    deinit {
        counts.deallocate()
    }

    public func record(_ nanoseconds: UInt64) {
        counts[Self.index(of: nanoseconds)] &+= 1
        total.pointee &+= 1
        if nanoseconds > largest.pointee { largest.pointee = nanoseconds }
    }

    /// The smallest value such that at least `fraction` of the samples are at or below it,
    /// reported as the upper edge of its bucket (the recorded maximum caps it). Zero when empty.
    public func percentile(_ fraction: Double) -> UInt64 {
        guard count > 0 else { return 0 }
        let rank = Swift.max(1, UInt64((Double(count) * fraction).rounded(.up)))
        var seen: UInt64 = 0
        for index in 0..<Self.bucketCount {
            seen &+= counts[index]
            if seen >= rank { return Swift.min(Self.upperEdge(of: index), maximum) }
        }
        return maximum
    }

    static func index(of value: UInt64) -> Int {
        if value < UInt64(subBuckets) { return Int(value) }
        let exponent = Swift.min(63 - value.leadingZeroBitCount, maximumExponent)
        let shift = exponent - subBucketBits
        let subBucket = Swift.min(Int(value >> UInt64(shift)), 2 * subBuckets - 1) - subBuckets
        return (shift + 1) * subBuckets + subBucket
    }

    static func upperEdge(of index: Int) -> UInt64 {
        if index < subBuckets { return UInt64(index) }
        let shift = index / subBuckets - 1
        let subBucket = index % subBuckets + subBuckets
        return (UInt64(subBucket + 1) << UInt64(shift)) - 1
    }
}
