import ChatClient
import Foundation
import Testing

@Suite struct ConversationLogTests {
    @Test func linesAreAppendedWithTheTimeAndControlsMadeVisible() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("log-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data("an older line\n".utf8).write(to: URL(fileURLWithPath: path))
        let log = try ConversationLog(path: path)
        let time = 1_700_000_000
        #expect(log.append(.message(from: "bob", text: "hi \u{1B}[2J there"), at: time) == nil)
        #expect(log.append(.sent("bob: 你好", by: "alice"), at: time) == nil)
        #expect(log.append(.notice("'zed' is not online"), at: time) == nil)
        #expect(log.append(.remark("connected to 127.0.0.1:8080"), at: time) == nil)
        #expect(log.append(.other("a\rfrom mallory: b"), at: time) == nil)
        log.close()
        let stamp = ConversationLogTests.localTimestamp(time)
        let written = try String(contentsOfFile: path, encoding: .utf8)
        #expect(
            written == """
                an older line
                \(stamp) bob: hi \u{241B}[2J there
                \(stamp) alice → bob: 你好
                \(stamp) -!- 'zed' is not online
                \(stamp) -- connected to 127.0.0.1:8080
                \(stamp) a\u{240D}from mallory: b

                """)
    }

    @Test func aNewLogIsReadableByItsOwnerOnly() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("log-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try ConversationLog(path: path).close()
        let permissions = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(permissions.map { $0 & 0o077 } == 0)
    }

    @Test func aLogThatCannotBeOpenedSaysWhy() {
        #expect(throws: ConversationLog.OpenFailure.self) {
            try ConversationLog(path: "/nonexistent-directory/chat.log")
        }
        do {
            _ = try ConversationLog(path: "/nonexistent-directory/chat.log")
        } catch {
            #expect(
                "\(error)" == "cannot open the log /nonexistent-directory/chat.log: no such file or directory"
            )
        }
    }

    static func localTimestamp(_ time: Int) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        formatter.locale = Locale(identifier: "en_US_POSIX")
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(time)))
    }
}

@Suite struct TerminalStandInsTests {
    @Test func controlsThatWouldSteerTheTerminalAreShownInstead() {
        #expect(TerminalStandIns.escaped("plain text, 日本語 and émoji 😀") == "plain text, 日本語 and émoji 😀")
        #expect(TerminalStandIns.escaped("\u{1B}[31mred") == "\u{241B}[31mred")
        #expect(TerminalStandIns.escaped("a\rb") == "a\u{240D}b")
        #expect(TerminalStandIns.escaped("a\u{7}b\u{0}c\u{7F}") == "a\u{2407}b\u{2400}c\u{2421}")
        #expect(TerminalStandIns.escaped("a\u{85}b\u{9B}c") == "a<U+0085>b<U+009B>c")
        #expect(TerminalStandIns.escaped("a\u{2028}b\u{2029}c") == "a<U+2028>b<U+2029>c")
        #expect(TerminalStandIns.escaped("abc\u{202E}fed\u{202C}") == "abc<U+202E>fed<U+202C>")
        #expect(TerminalStandIns.escaped("x\u{2066}y\u{2069}\u{200F}") == "x<U+2066>y<U+2069><U+200F>")
        // A tab is white space people type, not a control to show.
        #expect(TerminalStandIns.escaped("a\tb") == "a\tb")
    }
}
