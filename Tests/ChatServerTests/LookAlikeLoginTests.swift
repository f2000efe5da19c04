import ChatTestSupport
import Testing

/// Issue 11: while `alice` was online, each of these was accepted as a different person.
@Suite struct LookAlikeLoginTests {
    @Test(arguments: [
        ("alice\u{FE0F}", "U+FE0F"),
        ("al\u{34F}ice", "U+034F"),
        ("alice\u{3164}", "U+3164"),
        ("alice\u{FFA0}", "U+FFA0"),
        ("alice\u{1160}", "U+1160"),
        ("alice\u{2800}", "U+2800"),
        ("alice\u{E0100}", "U+E0100"),
        ("alice\u{180B}", "U+180B"),
        ("alice\u{17B4}", "U+17B4"),
        ("\u{430}lice", "login mixes scripts: '\u{430}' is Cyrillic, 'l' is Latin"),
        ("e\u{301}lodie", "not in composed form"),
        ("\u{301}", "may not start with a combining mark (U+0301)"),
    ])
    func isRefusedWhileTheRealOneIsOnline(_ login: String, _ reason: String) async throws {
        try await withServer { server in
            let alice = try await loggedIn("alice", port: server.port)
            let elodie = try await loggedIn("élodie", port: server.port)
            let impostor = try await LineClient.connect(port: server.port)
            try await impostor.send(login)
            try await expectNotice(impostor, containing: reason)
            #expect(try await impostor.readToEnd() == [])
            #expect(try await server.onlineCount() == 2)
            await alice.close()
            await elodie.close()
        }
    }

    @Test(arguments: ["日本語", "Ελληνικά", "русский", "alice42", "東京タワーのひと", "🐱cat"])
    func ordinaryNamesInManyScriptsStillLogIn(_ login: String) async throws {
        try await withServer { server in
            let client = try await loggedIn(login, port: server.port)
            await client.close()
        }
    }
}
