import ChatProtocol

/// Tab completion of logins: the names seen in deliveries and in the user's own messages, most
/// recent first. A Tab completes the name under the cursor, in the recipient list (before the
/// first `:`) or as a mention in the text; Tab again cycles through the other matches.
public struct LoginCompletion: Equatable, Sendable {
    /// Most recent first.
    public private(set) var knownLogins: [String] = []
    public let limit: Int
    private var cycle: Cycle?

    private struct Cycle: Equatable, Sendable {
        var start: Int
        var matches: [String]
        var index: Int
        var suffix: String
        /// The text and cursor as the last completion left them: anything else means the user
        /// moved on. Not the whole editor: drawing scrolls it sideways, which is no edit.
        var text: [Character]
        var cursor: Int
    }

    public init(limit: Int = 500) {
        self.limit = limit
    }

    public mutating func noteLogin(_ login: String) {
        guard !login.isEmpty else { return }
        if knownLogins.first == login { return }
        knownLogins.removeAll { $0 == login }
        knownLogins.insert(login, at: 0)
        if knownLogins.count > limit { knownLogins.removeLast() }
    }

    /// Notes every recipient of a message line the user sent.
    public mutating func noteRecipients(ofSentLine line: String) {
        var names: [String] = []
        Array(line.utf8).withUnsafeBytes { bytes in
            guard case .message(let recipients, _) = MessageLine.parse(bytes) else { return }
            for name in RecipientNames(bytes, recipients) {
                names.append(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[name]), as: UTF8.self))
            }
        }
        for name in names.reversed() { noteLogin(name) }
    }

    /// What ends a word in the text of a message, besides white space.
    private static let textPunctuation: Set<Character> = [
        ",", ":", ";", "!", "?", "(", ")", "[", "]", "\"", "@", "<", ">",
    ]

    /// The recipient list's other names: `carol, ca` completes to someone other than carol, since
    /// the server delivers to each name once however often it is listed.
    private static func namesListed(in characters: [Character], apartFrom word: Range<Int>) -> Set<String> {
        var list = Array(characters[..<(characters.firstIndex(of: ":") ?? characters.count)])
        list.removeSubrange(word.clamped(to: list.indices))
        return Set(String(list).split(separator: ",").map { Login.trimmed(String($0)) })
    }

    /// Any key other than Tab ends a run of completions.
    public mutating func endCycle() {
        cycle = nil
    }

    /// Completes in `editor`; false when there is nothing to complete.
    public mutating func complete(_ editor: inout LineEditor) -> Bool {
        if var cycle, cycle.text == editor.characters, cycle.cursor == editor.cursor, cycle.matches.count > 1
        {
            let shown = cycle.matches[cycle.index].count + cycle.suffix.count
            cycle.index = (cycle.index + 1) % cycle.matches.count
            editor.replace(cycle.start..<cycle.start + shown, with: cycle.matches[cycle.index] + cycle.suffix)
            (cycle.text, cycle.cursor) = (editor.characters, editor.cursor)
            self.cycle = cycle
            return true
        }
        cycle = nil
        let characters = editor.characters
        let cursor = editor.cursor
        // Past the first ':' the user is writing the text, where a name is a mention: a word
        // among others, ended by white space or punctuation.
        let isInText = characters[..<cursor].contains(":")
        let isSeparator: (Character) -> Bool =
            isInText
            ? { $0.isWhitespace || Self.textPunctuation.contains($0) }
            : { $0 == "," || $0 == ":" || $0.isWhitespace }
        var start = cursor
        while start > 0, !isSeparator(characters[start - 1]) { start -= 1 }
        var end = cursor
        while end < characters.count, !isSeparator(characters[end]) { end += 1 }
        let prefix = String(characters[start..<cursor])
        // Every known name would match nothing typed yet; in the text that is no completion.
        if isInText && prefix.isEmpty { return false }
        let listed = isInText ? [] : Self.namesListed(in: characters, apartFrom: start..<end)
        let candidates = knownLogins.filter { !listed.contains($0) }
        var matches = candidates.filter { $0.hasPrefix(prefix) }
        if matches.isEmpty {
            matches = candidates.filter { $0.lowercased().hasPrefix(prefix.lowercased()) }
        }
        guard let first = matches.first else { return false }
        let isAtEnd = end == characters.count
        // The last name of a list with no text yet gets the ": " that starts the message; a
        // mention at the end of the text, the space before the next word.
        let suffix = isInText ? (isAtEnd ? " " : "") : (isAtEnd && !characters.contains(":") ? ": " : "")
        editor.replace(start..<end, with: first + suffix)
        cycle = Cycle(
            start: start, matches: matches, index: 0, suffix: suffix, text: editor.characters,
            cursor: editor.cursor)
        return true
    }
}
