/// Which kind of `Notice` a notice's text is, for a client that must act on it: a refused login
/// is answered differently from any other close.
///
/// Only the `error: ` prefix is the contract; the wording may change. So the kinds are not
/// recognised by words written here but by templates built from `Notice.text` itself: every
/// kind renders sample notices that differ only in their parameter, and what all of them share
/// at the start and at the end is that kind's template. A change of wording changes the
/// templates with it, and a new `Notice` case does not compile until it has a kind here.
extension Notice {
    public enum Kind: Int, CaseIterable, Equatable, Sendable {
        case lineTooLong
        case invalidUTF8
        case loginEmpty
        case loginTooLong
        case loginFirstLineTooLong
        case loginForbiddenCharacter
        case loginLeadingMark
        case loginStackedMarks
        case loginNotComposed
        case loginMixedScripts
        case loginTaken
        case recipientOffline
        case moreRecipientsOffline
        case missingColon
        case noRecipients
        case tooSlow
        case stalled
        case loginTimedOut
        case shuttingDown
        case serverFull
        case tooManyFromAddress
        case loginUnavailable
        case leaseLost
        case serverUnreachable
        case serverBusy
        case recipientLeft
        case recipientArriving

        /// Whether a server that sends this notice is refusing the login: it closes the
        /// connection right after.
        public var refusesLogin: Bool {
            switch self {
            case .loginEmpty, .loginTooLong, .loginFirstLineTooLong, .loginForbiddenCharacter,
                .loginLeadingMark, .loginStackedMarks,
                .loginNotComposed, .loginMixedScripts, .loginTaken:
                return true
            case .lineTooLong, .invalidUTF8, .recipientOffline, .moreRecipientsOffline, .missingColon,
                .noRecipients, .tooSlow,
                .stalled,
                .loginTimedOut, .shuttingDown, .serverFull, .tooManyFromAddress, .loginUnavailable,
                .leaseLost,
                .serverUnreachable, .serverBusy, .recipientLeft, .recipientArriving:
                // A full server or a login that came too late is no verdict on the login itself.
                return false
            }
        }

        /// Notices of this kind whose parameters differ as much as their rendering can: in
        /// their first and last characters, in length, and in the forms a name or a character
        /// takes when quoted (plain, in words, as a code point, cut short).
        public var samples: [Notice] {
            switch self {
            case .lineTooLong: return [1, 2, 1000, 65_536].map { .lineTooLong(limit: $0) }
            case .invalidUTF8: return [.invalidUTF8]
            case .loginEmpty: return [.loginRefused(.empty)]
            case .loginTooLong: return [.loginRefused(.tooLong)]
            case .loginFirstLineTooLong: return [.loginRefused(.firstLineTooLong)]
            case .loginForbiddenCharacter:
                return [",", ":", " ", "\t", "\u{200B}", "\u{1B}", "x", "y"].map {
                    .loginRefused(.forbiddenCharacter($0))
                }
            case .loginLeadingMark:
                return ["\u{301}", "\u{300}", "\u{20DD}"].map { .loginRefused(.leadingMark($0)) }
            case .loginStackedMarks:
                return ["\u{301}", "\u{300}", "\u{20DD}"].map { .loginRefused(.stackedMarks($0)) }
            case .loginNotComposed:
                return ["e\u{301}", "a\u{300}", "\u{1100}\u{1161}"].map { .loginRefused(.notComposed($0)) }
            case .loginMixedScripts:
                return [("a", "\u{430}"), ("\u{3B1}", "b"), ("z", "\u{5D0}")].map {
                    .loginRefused(.mixedScripts($0, $1))
                }
            case .loginTaken: return Self.sampleNames.map(Notice.loginTaken)
            case .recipientOffline: return Self.sampleNames.map(Notice.recipientOffline)
            case .moreRecipientsOffline: return [2, 17, 18_725].map(Notice.moreRecipientsOffline)
            case .missingColon: return [.missingColon]
            case .noRecipients: return [.noRecipients]
            case .tooSlow: return [.tooSlow]
            case .stalled: return Self.sampleDurations.map(Notice.stalled)
            case .loginTimedOut: return Self.sampleDurations.map(Notice.loginTimedOut)
            case .shuttingDown: return [.shuttingDown]
            case .serverFull: return [.serverFull]
            case .tooManyFromAddress: return [1, 2, 1000].map(Notice.tooManyFromAddress)
            case .loginUnavailable: return [.loginUnavailable]
            case .leaseLost: return [.leaseLost]
            case .serverUnreachable: return Self.sampleNames.map(Notice.serverUnreachable)
            case .serverBusy: return Self.sampleNames.map(Notice.serverBusy)
            case .recipientLeft: return Self.sampleNames.map(Notice.recipientLeft)
            case .recipientArriving: return Self.sampleNames.map(Notice.recipientArriving)
            }
        }

        /// Timeouts as the server words them.
        private static let sampleDurations = ["1 s", "2 s", "30 s", "0.5 s", "1 min", "250 ms"]

        private static let sampleNames = [
            "a", "b", "login", "'", "", "\u{1B}[2J", "\u{2028}", String(repeating: "n", count: 300),
        ]

        /// What every notice of this kind looks like: one text, or a start and an end with the
        /// parameter between them.
        enum Template: Sendable {
            case exactly(String)
            case around(prefix: String, suffix: String)

            func matches(_ text: String) -> Bool {
                switch self {
                case .exactly(let whole):
                    return text.utf8.elementsEqual(whole.utf8)
                case .around(let prefix, let suffix):
                    // By bytes: a name that starts with a combining mark joins the quote before it
                    // into one Character, which would hide the quote from a comparison of
                    // Characters.
                    return text.utf8.count >= prefix.utf8.count + suffix.utf8.count
                        && text.utf8.starts(with: prefix.utf8)
                        && text.utf8.reversed().starts(with: suffix.utf8.reversed())
                }
            }
        }

        var template: Template {
            let texts = samples.map { Array($0.text.utf8) }
            guard texts.count > 1 else { return .exactly(String(decoding: texts[0], as: UTF8.self)) }
            var prefix = texts[0][...]
            var suffix = texts[0][...]
            for text in texts.dropFirst() {
                prefix = prefix.prefix(zip(prefix, text).prefix { $0 == $1 }.count)
                suffix = suffix.suffix(zip(suffix.reversed(), text.reversed()).prefix { $0 == $1 }.count)
            }
            return .around(
                prefix: String(decoding: prefix, as: UTF8.self),
                suffix: String(decoding: suffix, as: UTF8.self))
        }

        /// Whether `text` could be a notice of this kind.
        func matches(_ text: String) -> Bool {
            Self.templates[self]!.matches(text)
        }

        private static let templates = Dictionary(uniqueKeysWithValues: allCases.map { ($0, $0.template) })
    }

    /// The kind of this notice.
    public var kind: Kind {
        switch self {
        case .lineTooLong: return .lineTooLong
        case .invalidUTF8: return .invalidUTF8
        case .loginRefused(.empty): return .loginEmpty
        case .loginRefused(.tooLong): return .loginTooLong
        case .loginRefused(.firstLineTooLong): return .loginFirstLineTooLong
        case .loginRefused(.forbiddenCharacter): return .loginForbiddenCharacter
        case .loginRefused(.leadingMark): return .loginLeadingMark
        case .loginRefused(.stackedMarks): return .loginStackedMarks
        case .loginRefused(.notComposed): return .loginNotComposed
        case .loginRefused(.mixedScripts): return .loginMixedScripts
        case .loginTaken: return .loginTaken
        case .recipientOffline: return .recipientOffline
        case .moreRecipientsOffline: return .moreRecipientsOffline
        case .missingColon: return .missingColon
        case .noRecipients: return .noRecipients
        case .tooSlow: return .tooSlow
        case .stalled: return .stalled
        case .loginTimedOut: return .loginTimedOut
        case .shuttingDown: return .shuttingDown
        case .serverFull: return .serverFull
        case .tooManyFromAddress: return .tooManyFromAddress
        case .loginUnavailable: return .loginUnavailable
        case .leaseLost: return .leaseLost
        case .serverUnreachable: return .serverUnreachable
        case .serverBusy: return .serverBusy
        case .recipientLeft: return .recipientLeft
        case .recipientArriving: return .recipientArriving
        }
    }

    /// The kind of notice `text` (without `error: `) is, or nil when it is none our server
    /// sends: another server's, or a newer wording.
    public static func kind(ofText text: String) -> Kind? {
        Kind.allCases.first { $0.matches(text) }
    }

    /// Whether `text` (without `error: `) is a notice by which our server refuses a login.
    public static func refusesLogin(text: String) -> Bool {
        kind(ofText: text)?.refusesLogin ?? false
    }
}
