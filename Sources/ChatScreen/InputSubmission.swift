import ChatProtocol

/// Enter: what the line the user entered becomes. A command, the login, a message, or a remark
/// saying why it was not sent.
extension ChatScreenModel {
    mutating func submit() -> ScreenCommand? {
        let line = editor.text
        // Trimmed as the server trims a login, so a command is recognised whatever surrounds it.
        let trimmed = Login.trimmed(line)
        if trimmed == "/quit" { return .quit }
        if trimmed.hasPrefix("/") {
            return refuse(line, remark: "unknown command \(trimmed); /quit leaves")
        }
        guard !trimmed.isEmpty else {
            // Nothing to send, but the Enter was seen: an input that looks empty yet holds
            // spaces would otherwise trip up the next line typed into it.
            editor.setText("")
            return nil
        }
        if isDead { return refuse(line, remark: "not sent: disconnected; /quit leaves") }
        // The login goes first in the queue to the server, which the session starts reading once
        // it is connected: nothing can overtake it.
        guard login != nil else { return logIn(as: line) }
        guard connection == .connected else { return notSent(line, because: "not connected yet") }
        // The server would only answer a malformed line with a notice.
        if let problem = LineChecks.messageProblem(line) { return notSent(line, because: problem) }
        editor.setText("")
        scrollback.scrollToBottom()
        history.record(line)
        completion.noteRecipients(ofSentLine: line)
        append(.sent(line))
        return .send(line)
    }

    /// A line that does not go is not held back to be sent later, unseen, nor left in the input,
    /// where the next pasted line would be glued to it: it goes to the history, to be fixed or
    /// sent from there, and the input is cleared. Its names teach completion nothing: a name
    /// in a line that never went may be a typo.
    private mutating func refuse(_ line: String, remark: String) -> ScreenCommand? {
        editor.setText("")
        history.record(line)
        scrollback.scrollToBottom()
        note(remark)
        return nil
    }

    private mutating func notSent(_ line: String, because why: String) -> ScreenCommand? {
        refuse(line, remark: "not sent (\(why); Up brings it back): \(line)")
    }

    /// The transcript shows the login trimmed, so the server gets it trimmed too: the
    /// tutorial's server would register `carol ` with its space. A login the contract's rules
    /// refuse is not sent, even to the tutorial's server, which has no rules: our server would
    /// close the connection over it.
    private mutating func logIn(as line: String) -> ScreenCommand? {
        let name: String
        switch Login.validate(line) {
        case .success(let valid):
            name = valid
        case .failure(let refusal):
            return notSent(line, because: LineChecks.explain(refusal))
        }
        editor.setText("")
        scrollback.scrollToBottom()
        login = name
        if connection == .connected {
            note("logging in as \(name)")
        } else {
            note("will log in as \(name) once connected")
        }
        return .send(name)
    }
}
