import ChatProtocol

/// `Bytes.isValidUTF8` against the standard library's validator, and `MessageLine.parse` on every
/// valid line against a model written with Strings: the same kind, the same names and text, and
/// every range inside the line.
enum MessageLineTarget {
    static func run(_ input: UnsafeBufferPointer<UInt8>) {
        let bytes = UnsafeRawBufferPointer(input)
        let valid = Bytes.isValidUTF8(bytes)
        let text = String(validating: input, as: UTF8.self)
        require(valid == (text != nil), "isValidUTF8 says \(valid) for \(Array(input))")
        guard let text else { return }

        let parsed: Parsed
        switch MessageLine.parse(bytes) {
        case .blank: parsed = .blank
        case .missingColon: parsed = .missingColon
        case .noRecipients: parsed = .noRecipients
        case .message(let list, let body):
            require(
                list.lowerBound == 0 && list.upperBound < bytes.count
                    && bytes[list.upperBound] == UInt8(ascii: ":"),
                "recipient list \(list) in \(bytes.count) bytes")
            require(
                body.lowerBound > list.upperBound && body.lowerBound <= body.upperBound
                    && body.upperBound <= bytes.count,
                "text \(body) after \(list) in \(bytes.count) bytes")
            var names: [String] = []
            for name in RecipientNames(bytes, list) {
                require(
                    !name.isEmpty && name.lowerBound >= list.lowerBound && name.upperBound <= list.upperBound,
                    "name \(name) outside \(list)")
                names.append(String(decoding: bytes[name], as: UTF8.self))
            }
            parsed = .message(names, String(decoding: bytes[body], as: UTF8.self))
        }
        let expected = model(text)
        require(parsed == expected, "parsed \(parsed), the model \(expected) for \(text.debugDescription)")
    }

    enum Parsed: Equatable {
        case blank
        case missingColon
        case noRecipients
        case message([String], String)
    }

    /// Works on code points, not characters: a `,` or `:` followed by a combining mark is one
    /// character to Swift, yet still splits the line, as in the tutorial's Rust (found by this
    /// target; see `MessageLineTests.splitsAtACommaOrColonThatAMarkFollows`).
    static func model(_ line: String) -> Parsed {
        let scalars = Substring(line).unicodeScalars
        if trimmed(scalars).isEmpty { return .blank }
        guard let colon = scalars.firstIndex(of: ":") else { return .missingColon }
        let names = scalars[..<colon].split(separator: ",", omittingEmptySubsequences: false)
            .map(trimmed).filter { !$0.isEmpty }
        if names.isEmpty { return .noRecipients }
        return .message(names, trimmed(scalars[scalars.index(after: colon)...]))
    }

    /// Trimmed of Unicode White_Space, scalar by scalar.
    static func trimmed(_ scalars: Substring.UnicodeScalarView) -> String {
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(String.UnicodeScalarView(scalars[first...last]))
    }
}
