import ChatProtocol
import Testing

/// `MessageLine.parse` on a Swift string, with the ranges turned back into strings.
private func parse(_ line: String) -> (recipients: [String], text: String)? {
    var bytes = Array(line.utf8)
    return bytes.withUnsafeMutableBytes { raw -> (recipients: [String], text: String)? in
        let bytes = UnsafeRawBufferPointer(raw)
        guard case .message(let list, let text) = MessageLine.parse(bytes) else { return nil }
        let names = RecipientNames(bytes, list).map { String(decoding: bytes[$0], as: UTF8.self) }
        return (names, String(decoding: bytes[text], as: UTF8.self))
    }
}

private func kind(_ line: String) -> MessageLine {
    Array(line.utf8).withUnsafeBytes { MessageLine.parse($0) }
}

@Suite struct MessageLineTests {
    @Test func splitsRecipientsAndText() throws {
        let parsed = try #require(parse("alice, bob: hello"))
        #expect(parsed.recipients == ["alice", "bob"])
        #expect(parsed.text == "hello")
    }

    @Test func splitsAtTheFirstColonOnly() throws {
        let parsed = try #require(parse("bob: see: 10:30"))
        #expect(parsed.recipients == ["bob"])
        #expect(parsed.text == "see: 10:30")
    }

    @Test func trimsNamesAndTextAndSkipsEmptyNames() throws {
        let parsed = try #require(parse(" ,alice ,, \tbob\u{3000}, :  hi there \u{A0}"))
        #expect(parsed.recipients == ["alice", "bob"])
        #expect(parsed.text == "hi there")
    }

    /// Found by the message-line fuzz target: `,̺` is one character to Swift, but the list is
    /// split at the byte, as the tutorial's Rust splits it.
    @Test func splitsAtACommaOrColonThatAMarkFollows() throws {
        let parsed = try #require(parse("b-bo,\u{33A}2X :\u{301}x"))
        #expect(parsed.recipients == ["b-bo", "\u{33A}2X"])
        #expect(parsed.text == "\u{301}x")
    }

    @Test func keepsRepeatsForTheBrokerToDedupe() throws {
        #expect(try #require(parse("bob,bob: x")).recipients == ["bob", "bob"])
    }

    @Test func allowsEmptyText() throws {
        #expect(try #require(parse("bob:")).text == "")
    }

    @Test func classifiesLinesThatAreNotMessages() {
        #expect(kind("") == .blank)
        #expect(kind(" \t ") == .blank)
        #expect(kind("hello") == .missingColon)
        #expect(kind(": hello") == .noRecipients)
        #expect(kind(" , ,: hello") == .noRecipients)
    }
}

@Suite struct BytesTests {
    @Test func trimsExactlyTheUnicodeWhiteSpaceSet() {
        // Every scalar alone between two letters: trimmed away exactly when it is White_Space.
        for value in UInt32(0)...0x3100 {
            guard let scalar = Unicode.Scalar(value) else { continue }
            let text = String(scalar)
            let trimmed = Array(text.utf8).withUnsafeBytes { Bytes.trimmed($0, 0..<$0.count) }
            #expect(trimmed.isEmpty == scalar.properties.isWhitespace, "U+\(String(value, radix: 16))")
        }
    }

    @Test func validatesUTF8() {
        let valid: [[UInt8]] = [[], Array("plain ascii text here".utf8), Array("héllo wörld 李 🦀".utf8)]
        let invalid: [[UInt8]] = [
            [0xFF], [0xC3], [0x80], [0xED, 0xA0, 0x80],  // lone surrogate
            [0xC0, 0xAF],  // overlong
            Array("abcdefgh".utf8) + [0xF5, 0x80, 0x80, 0x80],
        ]
        for bytes in valid { #expect(bytes.withUnsafeBytes(Bytes.isValidUTF8)) }
        for bytes in invalid { #expect(!bytes.withUnsafeBytes(Bytes.isValidUTF8), "\(bytes)") }
    }

    @Test func randomLinesNeverCrashAndAgreeWithTheStandardLibrary() {
        var generator = SystemRandomNumberGenerator()
        let alphabet: [UInt8] = Array(" ,:\t\r\nab".utf8) + [0xC2, 0xA0, 0xE3, 0x80, 0xFF, 0x00]
        for _ in 0..<20_000 {
            let length = Int.random(in: 0...40, using: &generator)
            let bytes = (0..<length).map { _ in
                Bool.random(using: &generator)
                    ? alphabet.randomElement(using: &generator)!
                    : UInt8.random(in: 0...255, using: &generator)
            }
            let valid = bytes.withUnsafeBytes(Bytes.isValidUTF8)
            #expect(valid == (String(validating: bytes, as: UTF8.self) != nil))
            guard valid else { continue }
            bytes.withUnsafeBytes { raw in
                switch MessageLine.parse(raw) {
                case .message(let list, let text):
                    #expect(list.upperBound < raw.count || raw.count == 0)
                    #expect(text.lowerBound >= list.upperBound && text.upperBound <= raw.count)
                    for name in RecipientNames(raw, list) {
                        #expect(!name.isEmpty && name.lowerBound >= 0 && name.upperBound <= list.upperBound)
                    }
                case .blank, .missingColon, .noRecipients:
                    break
                }
            }
            _ = Login.validate(String(decoding: bytes, as: UTF8.self))
        }
    }
}

@Suite struct ServerLineTests {
    @Test func recognisesMessagesAndNotices() {
        #expect(ServerLine.parse("from alice: hi: there") == .message(from: "alice", text: "hi: there"))
        #expect(ServerLine.parse("from alice: ") == .message(from: "alice", text: ""))
        #expect(ServerLine.parse("error: 'bob' is not online") == .notice("'bob' is not online"))
        #expect(ServerLine.parse("hello") == .other("hello"))
        #expect(ServerLine.parse("from alice:x") == .other("from alice:x"))
    }

    @Test func noticesAreOneSafeLine() {
        let notice = Notice.recipientOffline("evil\u{1B}[2J\nname" + String(repeating: "x", count: 100))
        #expect(notice.line.hasPrefix("error: "))
        #expect(notice.line.filter { $0 == "\n" }.count == 1 && notice.line.hasSuffix("\n"))
        #expect(!notice.line.contains("\u{1B}"))
        #expect(notice.line.count < 100)

        // Shortened by bytes too, and nothing in it turns the text around.
        let heavy = Notice.loginTaken("a" + String(repeating: "\u{301}", count: 20_000) + "\u{202E}b")
        #expect(heavy.line.utf8.count < 300)
        let bidi = Notice.recipientOffline("\u{202E}evil")
        #expect(bidi.line == "error: '<U+202E>evil' is not online\n")
    }
}
