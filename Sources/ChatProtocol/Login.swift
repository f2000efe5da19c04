/// The rules for the first line of a connection.
public enum Login {
    public static let maximumCharacters = 32

    /// Why a login line was refused. The server turns these into notices.
    public enum Refusal: Error, Equatable, Sendable {
        case empty
        case tooLong
        case forbiddenCharacter(Unicode.Scalar)
    }

    /// The login a first line asks for: the line trimmed of white space, if it obeys the rules.
    /// Characters are counted as users see them (grapheme clusters), so "é" is one character
    /// whether it arrives precomposed or as `e` plus a combining accent.
    public static func validate(_ line: String) -> Result<String, Refusal> {
        let login = trimmed(line)
        if login.isEmpty { return .failure(.empty) }
        if let bad = login.unicodeScalars.first(where: isForbidden) {
            return .failure(.forbiddenCharacter(bad))
        }
        if login.count > maximumCharacters { return .failure(.tooLong) }
        return .success(login)
    }

    /// `,` and `:` would make the name impossible to address; white space would be trimmed away
    /// from recipients; control characters could rewrite other users' screens.
    static func isForbidden(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "," || scalar == ":" || scalar.properties.isWhitespace
            || scalar.properties.generalCategory == .control
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
