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
        case forbiddenCharacter(Unicode.Scalar)

        /// For logs: short, and safe to print whatever the character.
        public var description: String {
            switch self {
            case .empty: return "empty"
            case .tooLong: return "too long"
            case .forbiddenCharacter(let scalar): return "forbidden character \(Login.codePoint(scalar))"
            }
        }
    }

    /// `U+001B`: how a character that should not be printed as itself is named.
    public static func codePoint(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }

    /// The login a first line asks for: the line trimmed of white space, if it obeys the rules.
    /// Characters are counted as users see them (grapheme clusters), so "é" is one character
    /// whether it arrives precomposed or as `e` plus a combining accent.
    public static func validate(_ line: String) -> Result<String, Refusal> {
        let login = trimmed(line)
        if login.isEmpty { return .failure(.empty) }
        // Before any per-character work, so a huge first line costs next to nothing.
        if login.utf8.count > maximumBytes { return .failure(.tooLong) }
        if let bad = login.unicodeScalars.first(where: isForbidden) {
            return .failure(.forbiddenCharacter(bad))
        }
        if login.count > maximumCharacters { return .failure(.tooLong) }
        return .success(login)
    }

    /// `,` and `:` would make the name impossible to address; white space would be trimmed away
    /// from recipients; control characters could rewrite other users' screens; invisible format
    /// characters (zero-width spaces, bidi overrides) would let `al\u{200B}ice` pass for `alice`
    /// or turn every line it sends around.
    static func isForbidden(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "," || scalar == ":" || scalar.properties.isWhitespace || isInvisible(scalar)
    }

    /// Characters that show nothing themselves or change how the text around them is shown.
    /// Unassigned code points are not among them: an emoji newer than this program's Unicode
    /// tables is still a fine name.
    public static func isInvisible(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .privateUse, .surrogate: return true
        default: return false
        }
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
