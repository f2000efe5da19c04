import ChatProtocol

/// `/search TEXT` and Ctrl-R: find the newest line that contains the text, in any case, scroll
/// to it and highlight it; again for the one before. The steps back go on until the user is back
/// in the conversation (End, scrolling down to the newest line, sending a message) or the search
/// has run out and said so: the next search then starts from the newest line. Typing does not
/// end them, since `/search` itself is typed.
extension ChatScreenModel {
    mutating func search(for term: String) {
        let isAgain = search.term?.lowercased() == term.lowercased() && search.match != nil
        find(term, before: isAgain ? search.match! : scrollback.endSequence)
    }

    /// Ctrl-R: the text typed so far is what to find, as `/search` would take it; with nothing
    /// typed, the last search again.
    mutating func searchFromKey() {
        let typed = Login.trimmed(editor.text)
        if !typed.isEmpty {
            history.record(editor.text)
            editor.setText("")
            search(for: typed)
        } else if let term = search.term {
            find(term, before: search.match ?? scrollback.endSequence)
        } else {
            note("type the text to find, then Ctrl-R; or /search TEXT")
        }
    }

    private mutating func find(_ term: String, before end: Int) {
        hideSearchMatch()
        search.term = term
        let folded = term.lowercased()
        var sequence = min(end, scrollback.endSequence) - 1
        while sequence >= scrollback.firstSequence {
            if let text = scrollback[sequence].searchableText, text.lowercased().contains(folded) {
                search.match = sequence
                scrollback.update(sequence) { $0.isSearchMatch = true }
                scrollback.reveal(sequence, height: paneHeight, rowCount: rowCount)
                return
            }
            sequence -= 1
        }
        let isFirst = end >= scrollback.endSequence
        // Where the remark shows.
        scrollback.scrollToBottom()
        search.match = nil
        note((isFirst ? "no line contains " : "no earlier line contains ") + term.debugDescription)
    }

    /// Back in the conversation: the next search starts from the newest line.
    mutating func endSearchSteps() {
        hideSearchMatch()
        search.match = nil
    }

    mutating func hideSearchMatch() {
        guard let match = search.match else { return }
        scrollback.update(match) { $0.isSearchMatch = false }
    }
}
