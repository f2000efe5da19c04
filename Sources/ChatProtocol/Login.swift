#if os(Linux)
    @_spi(_Unicode) import Swift
#endif

/// The rules for the first line of a connection.
public enum Login {
    public static let maximumCharacters = 32
    /// A character may carry any number of combining scalars, so 32 characters alone do not
    /// bound a login's size. 256 bytes hold 32 characters of up to eight bytes each: letters
    /// with accents, flags, emoji with a skin tone.
    public static let maximumBytes = 256
    /// How much of a first line the server reads before refusing it as too long a login: a
    /// login plus generous white space around it. Bounds what a client that never logs in costs.
    public static let maximumLineBytes = 1024

    /// Why a login line was refused. The server turns these into notices.
    public enum Refusal: Error, Equatable, Sendable, CustomStringConvertible {
        case empty
        case tooLong
        /// The first line ran past `maximumLineBytes` without ending: whatever it holds, it is
        /// no login.
        case firstLineTooLong
        case forbiddenCharacter(Unicode.Scalar)
        /// A combining mark with nothing to combine with: it would sit on the quote before it.
        case leadingMark(Unicode.Scalar)
        /// More than `maximumMarksInARow` nonspacing marks in a row, or one mark twice in a row.
        case stackedMarks(Unicode.Scalar)
        /// Not in Unicode's composed form (NFC), such as `e` followed by a combining acute accent:
        /// the first character (as sent) that composes otherwise.
        case notComposed(String)
        /// Two characters whose scripts may not be mixed, such as a Latin `l` and a Cyrillic `а`.
        case mixedScripts(Unicode.Scalar, Unicode.Scalar)

        /// For logs: short, and safe to print whatever the character.
        public var description: String {
            switch self {
            case .empty: return "empty"
            case .tooLong: return "too long"
            case .firstLineTooLong: return "first line over \(Login.maximumLineBytes) bytes"
            case .forbiddenCharacter(let scalar): return "forbidden character \(Login.codePoint(scalar))"
            case .leadingMark(let scalar): return "starts with the mark \(Login.codePoint(scalar))"
            case .stackedMarks(let scalar): return "stacked marks at \(Login.codePoint(scalar))"
            case .notComposed(let character):
                return "not in NFC at \(Login.codePoints(character))"
            case .mixedScripts(let first, let second):
                return "mixes \(Login.codePoint(first)) and \(Login.codePoint(second))"
            }
        }
    }

    /// UTS #39 (5.4) finds more nonspacing marks than this on one letter suspect: no language
    /// needs them, and a tower of marks draws over the lines around it.
    public static let maximumMarksInARow = 4

    /// `U+001B`: how a character that should not be printed as itself is named.
    public static func codePoint(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }

    /// Each scalar of `text` as `codePoint` names it: `U+0065 U+0301`.
    public static func codePoints(_ text: String) -> String {
        text.unicodeScalars.map(codePoint).joined(separator: " ")
    }

    /// The login a first line asks for: the line trimmed of white space, if it obeys the rules.
    /// Characters are counted as users see them (grapheme clusters), so "é" is one character
    /// whichever way it is encoded; but only its composed form is accepted as a login (NFC).
    ///
    /// Two logins that pass never differ only by invisible characters, by encoding (one spelling
    /// per name: composed), by piled-up marks, or by a look-alike letter of another script mixed
    /// in (names wholly in another script are left alone). The server calls this once per
    /// connection; a login of up to 256 bytes costs 0.3 to 30 µs (release build, 2-core machine;
    /// 30 µs for 32 precomposed letters with a mark each, which also take the decomposed pass:
    /// 22 µs without it).
    public static func validate(_ line: String) -> Result<String, Refusal> {
        let login = trimmed(line)
        if login.isEmpty { return .failure(.empty) }
        // Before any per-character work, so a huge first line costs next to nothing.
        if login.utf8.count > maximumBytes { return .failure(.tooLong) }
        let scan = Scan(login)
        if let bad = scan.forbidden { return .failure(.forbiddenCharacter(bad)) }
        if let mark = scan.leadingMark { return .failure(.leadingMark(mark)) }
        if login.count > maximumCharacters { return .failure(.tooLong) }
        if !scan.isComposedAsItIs && !isComposed(login) {
            return .failure(.notComposed(firstUncomposed(in: login)))
        }
        if let mark = scan.stackedMark ?? (scan.mayDecompose ? stackedMarkWhenDecomposed(login) : nil) {
            return .failure(.stackedMarks(mark))
        }
        if let (first, second) = scriptClash(in: login) { return .failure(.mixedScripts(first, second)) }
        return .success(login)
    }

    /// What one pass over a login's scalars finds, each the first of its kind. One pass with one
    /// look-up of the general category per scalar: checking each rule on its own took three
    /// times as long (12 µs of 25 µs for 96 scalars of letters and marks, release build).
    private struct Scan {
        /// `,` and `:` would make the name impossible to address; white space would be trimmed
        /// away from recipients; control characters could rewrite other users' screens; invisible
        /// ones would let `al\u{200B}ice` pass for `alice` or turn every line it sends around.
        var forbidden: Unicode.Scalar?
        var leadingMark: Unicode.Scalar?
        /// A nonspacing mark one too many in a row, or a repeat of the one before it (`q` with
        /// two acute accents looks like `q` with one).
        var stackedMark: Unicode.Scalar?
        /// Every scalar is below U+0300, where nothing composes or decomposes: NFC as it is.
        var isComposedAsItIs = true
        /// Some scalar is at or past U+00C0, the first with a canonical decomposition: a
        /// precomposed letter carries marks of its own (`ä` is `a` and U+0308).
        var mayDecompose = false

        init(_ login: String) {
            var marks = MarkRun()
            var previous: Unicode.Scalar?
            for scalar in login.unicodeScalars {
                defer { previous = scalar }
                if scalar.isASCII {
                    if scalar.value <= 0x20 || scalar.value == 0x7F || scalar == "," || scalar == ":" {
                        forbidden = scalar
                        return
                    }
                    marks.next(scalar, .otherLetter)
                    continue
                }
                if scalar.value >= 0x300 { isComposedAsItIs = false }
                let category = scalar.properties.generalCategory
                // A mark that decomposes is not NFC, refused before the marks are counted.
                if scalar.value >= 0xC0 && !Login.isMark(category) { mayDecompose = true }
                if Login.isInvisible(scalar, category) || Login.isWhitespace(category) {
                    forbidden = scalar
                    return
                }
                if previous == nil && Login.isMark(category) { leadingMark = scalar }
                if marks.next(scalar, category) && stackedMark == nil { stackedMark = scalar }
            }
        }
    }

    /// Nonspacing marks in a row: more than `maximumMarksInARow`, or one twice running, stack.
    private struct MarkRun {
        private var count = 0
        private var last: Unicode.Scalar?

        /// Whether `scalar` stacks on the marks before it.
        @discardableResult
        mutating func next(_ scalar: Unicode.Scalar, _ category: Unicode.GeneralCategory) -> Bool {
            defer { last = scalar }
            switch category {
            case .nonspacingMark, .enclosingMark:
                count += 1
                return count > maximumMarksInARow || scalar == last
            default:
                count = 0
                return false
            }
        }
    }

    /// The stacked mark in the login's canonical decomposition, which the scan of its composed
    /// scalars cannot see: `ä` then U+0308 is `a` with U+0308 twice, and looks like `ä`. Only
    /// for logins with a scalar that may decompose, so ASCII logins pay nothing.
    private static func stackedMarkWhenDecomposed(_ login: String) -> Unicode.Scalar? {
        #if os(Linux)
            var marks = MarkRun()
            // The standard library's own normalizer, as for NFC: no Foundation. Its decomposition
            // is an SPI of the toolchain's standard library, which Darwin's may not offer.
            return login._nfd.first { marks.next($0, $0.properties.generalCategory) }
        #else
            return nil
        #endif
    }

    /// Beyond ASCII, White_Space is exactly the space separators, the line and paragraph
    /// separators, and U+0085 (a control).
    private static func isWhitespace(_ category: Unicode.GeneralCategory) -> Bool {
        switch category {
        case .spaceSeparator, .lineSeparator, .paragraphSeparator, .control: return true
        default: return false
        }
    }

    /// Characters that show nothing themselves or change how the text around them is shown:
    /// controls, format characters (zero-width spaces and joiners, bidi overrides), private use,
    /// every Default_Ignorable_Code_Point (variation selectors, the combining grapheme joiner,
    /// the Hangul fillers U+115F, U+1160, U+3164 and U+FFA0, Mongolian and Khmer invisibles), and
    /// the blank braille pattern U+2800, which fonts draw as nothing. Other unassigned code points
    /// are not among them: an emoji newer than this program's Unicode tables is still a fine name.
    public static func isInvisible(_ scalar: Unicode.Scalar) -> Bool {
        isInvisible(scalar, scalar.properties.generalCategory)
    }

    private static func isInvisible(_ scalar: Unicode.Scalar, _ category: Unicode.GeneralCategory) -> Bool {
        switch category {
        case .control, .format, .privateUse, .surrogate: return true
        default: return scalar.properties.isDefaultIgnorableCodePoint || scalar == "\u{2800}"
        }
    }

    /// A combining mark of any kind: it belongs on the character before it.
    public static func isMark(_ scalar: Unicode.Scalar) -> Bool {
        isMark(scalar.properties.generalCategory)
    }

    private static func isMark(_ category: Unicode.GeneralCategory) -> Bool {
        switch category {
        case .nonspacingMark, .spacingMark, .enclosingMark: return true
        default: return false
        }
    }

    /// True when `login` is in Unicode Normalization Form C. `é` may arrive as one code point or
    /// as `e` and a combining accent; the two look the same, so only one may be a login. The
    /// server refuses the decomposed form rather than composing it: a login stays exactly the
    /// bytes its owner sent, so the name a client logged in with is the name it sees in
    /// deliveries, and the broker keeps comparing names byte for byte on its hot path. Keyboards
    /// and input methods produce composed text. The standard library's own normalizer (the one
    /// behind `String`'s `==`) decides, so this costs no Foundation.
    static func isComposed(_ login: String) -> Bool {
        var composed = login.utf8.makeIterator()
        var matches = true
        login._withNFCCodeUnits { unit in
            if matches && composed.next() != unit { matches = false }
        }
        return matches && composed.next() == nil
    }

    /// The first character of `login` that NFC would write otherwise, for the notice to name:
    /// composition never reaches across characters (user-perceived ones, grapheme clusters).
    static func firstUncomposed(in login: String) -> String {
        login.first { !isComposed(String($0)) }.map(String.init) ?? login
    }

    /// `character` as NFC writes it.
    public static func composed(_ character: String) -> String {
        var units: [UInt8] = []
        character._withNFCCodeUnits { units.append($0) }
        return String(decoding: units, as: UTF8.self)
    }

    /// `text` without the white space `Bytes.trimmed` removes.
    public static func trimmed(_ text: String) -> String {
        var utf8 = Array(text.utf8)
        let range = utf8.withUnsafeBytes { Bytes.trimmed($0, 0..<$0.count) }
        if range.count == utf8.count { return text }
        utf8 = Array(utf8[range])
        return String(decoding: utf8, as: UTF8.self)
    }
}
