import ChatTestSupport
import Testing

/// Issue 11: names from the wire reached notices raw.
@Suite struct VisibleNoticeTests {
    @Test(arguments: [
        ("a\u{2028}b", "'a<U+2028>b'"),
        ("x\u{2029}\u{1B}[2J", "'x<U+2029><U+001B>[2J'"),
    ])
    func aRecipientsNameIsShownVisibly(_ name: String, _ shown: String) async throws {
        try await withServer { server in
            let alice = try await loggedIn("alice", port: server.port)
            try await alice.send("\(name): hi")
            #expect(try await alice.readLine() == "error: \(shown) is not online")
            try await expectStillServed(alice, as: "alice")
        }
    }

    /// Not a test argument: the test library reports no detail for a failing 10 KB argument.
    @Test func aNameOfOneLetterAndThousandsOfMarksShowsTheLetter() async throws {
        try await withServer { server in
            let alice = try await loggedIn("alice", port: server.port)
            try await alice.send("e" + String(repeating: "\u{301}", count: 5000) + ": hi")
            #expect(try await alice.readLine() == "error: 'e\u{301}\u{301}\u{301}\u{301}…' is not online")
        }
    }
}
