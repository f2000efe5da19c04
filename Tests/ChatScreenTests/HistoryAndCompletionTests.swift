import Testing

@testable import ChatScreen

@Suite struct InputHistoryTests {
    @Test func upAndDownWalkHistoryAndRestoreTheDraft() {
        var history = InputHistory()
        history.record("bob: one")
        history.record("bob: two")
        #expect(history.previous(current: "draft") == "bob: two")
        #expect(history.previous(current: "bob: two") == "bob: one")
        #expect(history.previous(current: "bob: one") == nil)
        #expect(history.next(current: "bob: one") == "bob: two")
        #expect(history.next(current: "bob: two") == "draft")
        #expect(history.next(current: "draft") == nil)
    }

    @Test func editsToRecalledLinesSurviveBrowsingUntilEnter() {
        var history = InputHistory()
        history.record("bob: one")
        history.record("bob: two")
        #expect(history.previous(current: "draft") == "bob: two")
        // Edited, then left with Up: the edit comes back with Down.
        #expect(history.previous(current: "bob: two!") == "bob: one")
        #expect(history.next(current: "bob: one") == "bob: two!")
        #expect(history.previous(current: "bob: two!") == "bob: one")
        #expect(history.next(current: "bob: one?") == "bob: two!")
        #expect(history.previous(current: "bob: two!") == "bob: one?")
        #expect(history.next(current: "bob: one?") == "bob: two!")
        #expect(history.next(current: "bob: two!") == "draft")
        // Enter ends it: what was sent is recorded, the edits are forgotten.
        #expect(history.previous(current: "draft") == "bob: two!")
        history.record("bob: two!")
        #expect(history.entries == ["bob: one", "bob: two", "bob: two!"])
        #expect(history.previous(current: "") == "bob: two!")
        #expect(history.previous(current: "bob: two!") == "bob: two")
        #expect(history.previous(current: "bob: two") == "bob: one")
    }

    @Test func repeatsAreStoredOnceAndTheLimitHolds() {
        var history = InputHistory(limit: 2)
        for line in ["a", "a", "b", "c"] { history.record(line) }
        #expect(history.entries == ["b", "c"])
    }
}

@Suite struct LoginCompletionTests {
    private func completing(_ text: String, known: [String], tabs: Int = 1) -> String {
        var completion = LoginCompletion()
        for login in known.reversed() { completion.noteLogin(login) }
        var editor = LineEditor(text)
        for _ in 0..<tabs { _ = completion.complete(&editor) }
        return editor.text
    }

    @Test func completesTheOnlyMatchAndStartsTheMessage() {
        #expect(completing("ca", known: ["bob", "carol"]) == "carol: ")
    }

    @Test func completesTheLastNameOfAList() {
        #expect(completing("bob, ca", known: ["carol"]) == "bob, carol: ")
    }

    @Test func aNameAlreadyInTheListIsNotOfferedAgain() {
        #expect(completing("carol,ca", known: ["carol", "cathy"]) == "carol,cathy: ")
        #expect(completing("carol, ca", known: ["carol"]) == "carol, ca")
        // In the text, a name is a mention, listed or not.
        #expect(completing("carol: ca", known: ["carol"]) == "carol: carol ")
    }

    @Test func tabAgainCyclesThroughMatchesMostRecentFirst() {
        #expect(completing("a", known: ["anna", "alice"], tabs: 1) == "anna: ")
        #expect(completing("a", known: ["anna", "alice"], tabs: 2) == "alice: ")
        #expect(completing("a", known: ["anna", "alice"], tabs: 3) == "anna: ")
    }

    @Test func completesAMentionInTheMessageText() {
        #expect(completing("bob: a", known: ["alice"]) == "bob: alice ")
        #expect(completing("bob: hi @a", known: ["alice"]) == "bob: hi @alice ")
        #expect(completing("bob: hi (A", known: ["alice"]) == "bob: hi (alice ")
        #expect(completing("bob: a", known: ["anna", "alice"], tabs: 2) == "bob: alice ")
        // Nothing typed of a name, or no name known: nothing happens, and no Tab is inserted.
        #expect(completing("bob: ", known: ["alice"]) == "bob: ")
        #expect(completing("bob: hi z", known: ["alice"]) == "bob: hi z")
        #expect(completing("zed", known: ["alice"]) == "zed")
    }

    @Test func aMentionInTheMiddleOfTheTextGetsNoSpace() {
        var completion = LoginCompletion()
        completion.noteLogin("alice")
        var editor = LineEditor("bob: al, hi")
        for _ in 0..<4 { editor.moveLeft() }
        let completed = completion.complete(&editor)
        #expect(completed)
        #expect(editor.text == "bob: alice, hi")
        #expect(editor.cursor == 10)
    }

    @Test func learnsRecipientsOfSentLines() {
        var completion = LoginCompletion()
        completion.noteRecipients(ofSentLine: "dave , erin: hi")
        completion.noteRecipients(ofSentLine: "no colon here")
        #expect(completion.knownLogins == ["dave", "erin"])
    }
}
