import ChatProtocol

/// Why a line the user entered would not get through, in the words of a remark: the server
/// would answer a malformed message with a notice and close the connection over a bad login, so
/// such lines are stopped before they go.
enum LineChecks {
    /// Why the server would not deliver `line`, or nil if it would.
    static func messageProblem(_ line: String) -> String? {
        switch Array(line.utf8).withUnsafeBytes({ MessageLine.parse($0) }) {
        case .blank, .missingColon:
            return "no ':'"
        case .noRecipients:
            return "no name before ':'"
        case .message(_, let text):
            return text.isEmpty ? "no text after ':'" : nil
        }
    }

    /// Why the server would refuse a login, short enough for a remark.
    static func explain(_ refusal: Login.Refusal) -> String {
        switch refusal {
        case .empty:
            return "a login may not be empty"
        case .tooLong:
            return "a login may have at most \(Login.maximumCharacters) characters"
        case .forbiddenCharacter(let scalar)
        where scalar == "," || scalar == ":" || scalar.properties.isWhitespace:
            return "a login may not contain spaces, ',' or ':'"
        case .forbiddenCharacter(let scalar):
            // The character cannot be seen, so its code point is the only way to point at it.
            return "a login may not contain invisible or control characters (\(Login.codePoint(scalar)))"
        case .firstLineTooLong, .leadingMark, .stackedMarks, .notComposed, .mixedScripts:
            return Notice.loginRefused(refusal).text
        }
    }
}
