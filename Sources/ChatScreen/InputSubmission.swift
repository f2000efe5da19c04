import ChatProtocol

/// Enter: what the line the user entered becomes. A command, the login, a message, or a remark
/// saying why it was not sent.
extension ChatScreenModel {
    mutating func submit() -> ScreenCommand? {
        let line = editor.text
        // Trimmed as the server trims a login, so a command is recognised whatever surrounds it.
        let trimmed = Login.trimmed(line)
        if trimmed.hasPrefix("/"), !Self.addressesALoginStartingWithSlash(trimmed) {
            return command(trimmed, line: line)
        }
        guard !trimmed.isEmpty else {
            // Nothing to send, but the Enter was seen: an input that looks empty yet holds
            // spaces would otherwise trip up the next line typed into it.
            editor.setText("")
            return nil
        }
        if isDead {
            return refuse(line, remark: "not sent: disconnected; /reconnect tries again, /quit leaves")
        }
        // The login goes first in the queue to the server, which the session starts reading once
        // it is connected: nothing can overtake it.
        guard login != nil else { return logIn(as: line) }
        switch lifecycle.phase {
        case .online: break
        case .waiting: return notSent(line, because: "reconnecting")
        default: return notSent(line, because: "not connected yet")
        }
        // The server would only answer a malformed line, or one over its limit, with a notice.
        // A server set to a higher limit would take a longer line, but a line this long in a
        // chat is nearly always a paste gone wrong.
        if let problem = LineChecks.messageProblem(line) { return notSent(line, because: problem) }
        if line.utf8.count > LineFramer.defaultMaximumLineBytes {
            return notSent(line, because: "longer than \(LineFramer.defaultMaximumLineBytes) bytes")
        }
        editor.setText("")
        backToTheBottom()
        endSearchSteps()
        history.record(line)
        completion.noteRecipients(ofSentLine: line)
        append(TranscriptEntry.Kind.sent(line).shown, logged: .sent(line))
        messagesSentOnSession += 1
        return .send(line)
    }

    /// The commands, as `/help` lists them.
    static let commands = [
        ("/help", "this list"),
        ("/search TEXT", "show the newest line with TEXT; again for older ones"),
        ("/clear", "clear the screen and its scrollback (not the log)"),
        ("/reconnect", "connect now instead of waiting"),
        ("/quit", "leave (also Ctrl-C, or Ctrl-D on an empty line)"),
    ]

    /// The keys `/help` lists, beyond typing and Enter.
    static let keys = [
        ("Tab", "complete a login: a recipient, or a mention after ':'"),
        ("Up, Down", "lines entered before"),
        ("PageUp, PageDown, wheel", "scroll; End or typing goes back down"),
        ("Ctrl-R", "search for the text typed, or search again"),
        ("Ctrl-A, Ctrl-E", "start, end of the line"),
        ("Ctrl-U, Ctrl-K, Ctrl-W", "delete to the start, to the end, back to a space"),
        ("Alt-Backspace, Alt-D", "delete the word before, after the cursor"),
        ("Alt-B, Alt-F, Ctrl-Left, Ctrl-Right", "move by words"),
        ("Ctrl-L", "repaint the screen"),
        ("Ctrl-Z", "suspend, as in a shell; fg comes back"),
    ]

    private mutating func command(_ trimmed: String, line: String) -> ScreenCommand? {
        let (word, argument) = Self.splitCommand(trimmed)
        // Caps Lock or a shift held too long should not turn /quit into an unknown command.
        let name = word.lowercased()
        switch (name, argument.isEmpty) {
        case ("/quit", _):
            // Words after it are a parting remark, as in IRC, which the protocol has no way to send.
            return quit()
        case ("/help", _):
            clearInput(recording: line)
            note("commands:")
            for (command, meaning) in Self.commands { note("  \(command): \(meaning)") }
            note("keys:")
            for (keys, meaning) in Self.keys { note("  \(keys): \(meaning)") }
            note("a message: name1, name2: text")
            return nil
        case ("/search", false):
            clearInput(recording: line)
            search(for: argument)
            return nil
        case ("/search", true):
            return refuse(line, remark: "/search needs the text to find: /search TEXT")
        case ("/clear", true):
            clearInput(recording: line)
            // Lines held back are cleared with the rest, but reach the log first.
            sessionIsUp()
            scrollback.removeAll()
            search = Search()
            return nil
        case ("/reconnect", true):
            clearInput(recording: line)
            return reconnectNow()
        case ("/clear", false), ("/reconnect", false):
            // Not run: what the words were meant to change is unknown.
            return refuse(line, remark: "\(name) takes nothing after it; not run")
        default:
            return refuse(line, remark: "unknown command \(trimmed); /help lists the commands")
        }
    }

    /// `/x: hi` and `/x, bob: hi` are messages: the contract allows a login to start with `/`,
    /// and no command has a `,` or `:` in its name, so a first word with one names recipients.
    private static func addressesALoginStartingWithSlash(_ trimmed: String) -> Bool {
        trimmed.prefix { !$0.isWhitespace }.contains { $0 == "," || $0 == ":" }
    }

    /// `/search  lunch at noon` is `/search` and `lunch at noon`.
    private static func splitCommand(_ trimmed: String) -> (name: String, argument: String) {
        guard let space = trimmed.firstIndex(where: \.isWhitespace) else { return (trimmed, "") }
        return (String(trimmed[..<space]), Login.trimmed(String(trimmed[space...])))
    }

    private mutating func clearInput(recording line: String) {
        editor.setText("")
        history.record(line)
        backToTheBottom()
    }

    /// A line that does not go is not held back to be sent later, unseen, nor left in the input,
    /// where the next pasted line would be glued to it: it goes to the history, to be fixed or
    /// sent from there, and the input is cleared. Its names teach completion nothing: a name
    /// in a line that never went may be a typo.
    private mutating func refuse(_ line: String, remark: String) -> ScreenCommand? {
        clearInput(recording: line)
        note(remark)
        return nil
    }

    private mutating func notSent(_ line: String, because why: String) -> ScreenCommand? {
        refuse(line, remark: "not sent (\(why); Up brings it back): \(TranscriptEntry.shownText(line))")
    }

    /// The transcript shows the login trimmed, so the server gets it trimmed too: the
    /// tutorial's server would register `carol ` with its space. A login the contract's rules
    /// refuse is not sent, even to the tutorial's server, which has no rules: our server would
    /// close the connection over it. Typed while no session runs, it waits for the next.
    private mutating func logIn(as line: String) -> ScreenCommand? {
        let name: String
        switch Login.validate(line) {
        case .success(let valid):
            name = valid
        case .failure(let refusal):
            return notSent(line, because: LineChecks.explain(refusal))
        }
        editor.setText("")
        backToTheBottom()
        // Not a message, so kept out of the history (a refused one is put there to fix), but
        // entered like one: browsing ends, and what it kept of recalled lines with it.
        history.endBrowsing()
        let start = lifecycle.loginChosen(name)
        if case .online = lifecycle.phase {
            note("logging in as \(name)")
        } else {
            note("will log in as \(name) once connected")
        }
        // Awaited, the login starts the next session; else it goes first on this one.
        if let start { return perform(start) }
        return lifecycle.hasSession ? .send(name) : nil
    }
}
