import ChatProtocol
import Testing

/// Which notices refuse a login, told from their texts alone, as a client receives them.
@Suite struct NoticeClassificationTests {
    /// Names as a peer may send them: ordinary, empty, quotes, controls, separators, combining
    /// marks before and after the quote, wide, long, and texts of other notices.
    static let names: [String] = [
        "bob", "a", "login", "", "'", "''", "bob'", "'bob", "\u{1B}[2J", "a\u{2028}b", "\u{2029}", "é",
        "e\u{301}", "\u{301}x", "x\u{301}", "日本語", "👨\u{200D}👩\u{200D}👧", "al\u{200B}ice",
        String(repeating: "n", count: 40), String(repeating: "n", count: 41),
        String(repeating: "ü", count: 300),
        "e" + String(repeating: "\u{301}", count: 5000), "login 'bob' is already online",
        "empty login; send your name as the first line", "server is shutting down",
        "x' is already online", "' is not online",
    ]

    /// Every character the login rules refuse, among the first few thousand code points and the
    /// invisible ones further up.
    static var forbiddenCharacters: [Unicode.Scalar] {
        let candidates = Array(0..<0x3100) + [0xFEFF, 0xFFF9, 0xE0001, 0xE0100, 0xF0000, 0x10FFFD]
        return candidates.compactMap(Unicode.Scalar.init).filter {
            if case .failure(.forbiddenCharacter) = Login.validate("a\(Character($0))b") { return true }
            return false
        }
    }

    static var refusals: [Notice] {
        [.loginRefused(.empty), .loginRefused(.tooLong), .loginRefused(.firstLineTooLong)]
            + forbiddenCharacters.map { .loginRefused(.forbiddenCharacter($0)) }
            + names.map(Notice.loginTaken)
    }

    static var others: [Notice] {
        [1, 9, 10, 99, 1024, 65_536, Int.max].map { .lineTooLong(limit: $0) }
            + names.map(Notice.recipientOffline)
            + [.invalidUTF8, .missingColon, .noRecipients, .tooSlow, .shuttingDown, .serverFull]
            + ["1 s", "30 s", "2 min"].flatMap { [Notice.stalled($0), .loginTimedOut($0)] }
            + [1, 50, 1000].map(Notice.tooManyFromAddress)
            + names.map(Notice.recipientLeft) + names.map(Notice.recipientArriving)
    }

    @Test func theKindsThatRefuseALoginAreTheLoginRefusals() {
        let refusing = Notice.Kind.allCases.filter(\.refusesLogin)
        #expect(
            refusing == [
                .loginEmpty, .loginTooLong, .loginFirstLineTooLong, .loginForbiddenCharacter,
                .loginLeadingMark,
                .loginStackedMarks, .loginNotComposed, .loginMixedScripts, .loginTaken,
            ])
        #expect(Self.forbiddenCharacters.count > 100)
    }

    @Test func everyRefusalTextIsARefusalOfItsOwnKind() {
        for notice in Self.refusals {
            #expect(notice.kind.refusesLogin, "\(notice)")
            #expect(Notice.kind(ofText: notice.text) == notice.kind, "\(notice.text.debugDescription)")
            #expect(Notice.refusesLogin(text: notice.text), "\(notice.text.debugDescription)")
        }
    }

    @Test func everyOtherNoticeTextIsNoRefusal() {
        for notice in Self.others {
            #expect(!notice.kind.refusesLogin, "\(notice)")
            #expect(Notice.kind(ofText: notice.text) == notice.kind, "\(notice.text.debugDescription)")
            #expect(!Notice.refusesLogin(text: notice.text), "\(notice.text.debugDescription)")
        }
    }

    @Test func everyKindsSamplesAreOfThatKind() {
        for kind in Notice.Kind.allCases {
            for sample in kind.samples {
                #expect(sample.kind == kind)
                #expect(Notice.kind(ofText: sample.text) == kind, "\(sample.text.debugDescription)")
            }
        }
    }

    @Test func textsOurServerNeverSendsAreOfNoKind() {
        for text in [
            "", "login", "login '", "' is already online", "login refused", "Login 'bob' is already online",
            "empty login", "line longer than", "you are not welcome", "login bob is already online",
        ] {
            #expect(Notice.kind(ofText: text) == nil, "\(text.debugDescription)")
            #expect(!Notice.refusesLogin(text: text), "\(text.debugDescription)")
        }
    }
}
