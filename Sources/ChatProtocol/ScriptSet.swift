/// A set of Unicode scripts, one bit each, as UTS #39 section 5.1 augments them: Han also counts
/// as Japanese, Korean and Han-with-Bopomofo, Hiragana and Katakana as Japanese, Hangul as Korean,
/// so that writing systems which mix scripts by nature resolve to one. The table of which
/// characters belong to which scripts is generated (`ScriptTable.swift`).
struct ScriptSet: Equatable, Sendable {
    var low: UInt64
    var middle: UInt64
    var high: UInt64

    init(_ low: UInt64, _ middle: UInt64, _ high: UInt64) {
        self.low = low
        self.middle = middle
        self.high = high
    }

    init(bit: Int) {
        self.init(
            bit < 64 ? 1 << bit : 0,
            (64..<128).contains(bit) ? 1 << (bit - 64) : 0,
            bit >= 128 ? 1 << (bit - 128) : 0)
    }

    /// What a character of the Common or Inherited script goes with.
    static let all = ScriptSet(~0, ~0, ~0)

    var isEmpty: Bool { low | middle | high == 0 }

    func intersection(_ other: ScriptSet) -> ScriptSet {
        ScriptSet(low & other.low, middle & other.middle, high & other.high)
    }

    func intersects(_ other: ScriptSet) -> Bool { !intersection(other).isEmpty }

    /// The scripts `scalar` is written in, or nil when it goes with any script: Common and
    /// Inherited characters (digits, punctuation, emoji, most combining marks), and code points
    /// this table's Unicode version does not assign, so a newer emoji is still a fine name.
    static func of(_ scalar: Unicode.Scalar) -> ScriptSet? {
        let value = UInt64(scalar.value)
        // The last range that starts at or before `value`.
        var lower = 0
        var upper = ranges.count
        while lower < upper {
            let middle = (lower + upper) / 2
            if ranges[middle] >> 40 <= value { lower = middle + 1 } else { upper = middle }
        }
        guard lower > 0 else { return nil }
        let range = ranges[lower - 1]
        guard value <= (range >> 16) & 0xFF_FFFF else { return nil }
        let index = Int(range & 0xFFFF) * 3
        return ScriptSet(setWords[index], setWords[index + 1], setWords[index + 2])
    }

    /// The scripts' names, without the augmented ones when a real script is there too.
    var names: [String] {
        let named = (0..<Self.names.count).filter { intersects(ScriptSet(bit: $0)) }.map { Self.names[$0] }
        let real = named.filter { !Self.augmentedNames.contains($0) }
        return real.isEmpty ? named : real
    }

    private static let augmentedNames: Set<String> = ["Han with Bopomofo", "Japanese", "Korean"]
}

extension Login {
    /// Two characters whose scripts may not be mixed in one login, or nil if the login's scripts
    /// go together. This is UTS #39's "moderately restrictive" level: one script (Common and
    /// Inherited characters go with any); or Latin with Han, Hiragana and Katakana, with Han and
    /// Bopomofo, or with Han and Hangul; or Latin with one other recommended script that is not
    /// Greek or Cyrillic, whose letters look too much like Latin ones (`pаypal` with a Cyrillic
    /// `а`). A name written wholly in another script passes: telling `аре` from `ape` is left to
    /// the people who know whom they talk to.
    static func scriptClash(in login: String) -> (Unicode.Scalar, Unicode.Scalar)? {
        var resolved = ScriptSet.all
        var nonLatin = ScriptSet.all
        var first: Unicode.Scalar?
        var clash: Unicode.Scalar?
        for scalar in login.unicodeScalars {
            guard let scripts = ScriptSet.of(scalar) else { continue }
            if first == nil { first = scalar }
            resolved = resolved.intersection(scripts)
            if resolved.isEmpty && clash == nil { clash = scalar }
            if !scripts.intersects(.latin) { nonLatin = nonLatin.intersection(scripts) }
        }
        guard let first, let clash else { return nil }
        return nonLatin.intersects(.latinPartners) ? nil : (first, clash)
    }

    /// "Cyrillic", or "Arabic or Syriac" for a character shared by scripts.
    public static func scriptName(of scalar: Unicode.Scalar) -> String {
        guard let names = ScriptSet.of(scalar)?.names, !names.isEmpty else { return "Common" }
        return names.count <= 3
            ? names.joined(separator: " or ") : names.prefix(2).joined(separator: ", ") + "…"
    }
}
