import ChatClient
import CursesShim

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The UI loop. It waits in `poll` for keys, the mailbox, a signal or the model's next tick,
/// applies them to the model, carries out what the model asks (send, connect, ring, retitle,
/// log), and draws at most one frame per tick, so a flood of incoming lines costs one redraw per
/// tick and never delays the handling of a key.
final class ScreenLoop {
    static let tick = Duration.milliseconds(20)

    let terminal: CursesTerminal
    var model: ChatScreenModel
    let mailbox: Mailbox
    let wake: WakePipe
    var log: ConversationLog?
    let send: (String) -> Void
    let connect: (String?) -> Void
    private var bellsRung = 0
    private var title: String?

    init(
        terminal: CursesTerminal,
        model: ChatScreenModel,
        mailbox: Mailbox,
        wake: WakePipe,
        log: ConversationLog?,
        send: @escaping (String) -> Void,
        connect: @escaping (String?) -> Void
    ) {
        self.terminal = terminal
        self.model = model
        self.mailbox = mailbox
        self.wake = wake
        self.log = log
        self.send = send
        self.connect = connect
    }

    /// Runs until the user quits or a signal says to stop; returns the exit status. The terminal
    /// is restored before this returns, on every path.
    func run() -> Int32 {
        chat_signals_install(wake.writeDescriptor)
        defer {
            // Whatever way it ends, the log gets the last lines, held-back ones too.
            model.sessionIsUp()
            writeLog()
            terminal.close()
            chat_signals_restore()
        }
        model.resize(rows: terminal.size.rows, columns: terminal.size.columns)
        _ = model.tick(now: .now)
        if case .quit = carryOut(model.start()) { return model.exitStatus }
        var isDirty = true
        var nextFrame = ContinuousClock.now
        var keysReady = false
        while true {
            if let status = handleSignals(&isDirty) { return status }
            let now = ContinuousClock.now
            // The countdown in the status line changes, or the wait is over.
            if let due = model.nextTick, now >= due { isDirty = true }
            if case .quit = carryOut(model.tick(now: now)) { return model.exitStatus }
            if keysReady {
                var keys = terminal.pendingKeys()[...]
                while !keys.isEmpty {
                    isDirty = true
                    var typed: [Unicode.Scalar] = []
                    while case .character(let scalar)? = keys.first {
                        typed.append(scalar)
                        keys.removeFirst()
                    }
                    if !typed.isEmpty {
                        model.type(typed)
                    } else if case .quit = carryOut(model.handle(keys.removeFirst())) {
                        return model.exitStatus
                    }
                }
            }
            // While a frame is pending, news can wait for it: taking it in only then means one
            // wake-up per frame however fast lines arrive.
            if !isDirty || now >= nextFrame {
                for event in mailbox.takeAll() {
                    isDirty = true
                    if case .quit = carryOut(apply(event)) { return model.exitStatus }
                }
                // Only now, with everything the session said taken: a refusal already waiting
                // here must not find the lines it turns away shown.
                if model.showSettledOpening(now: now) { isDirty = true }
            }
            writeLog()
            askForAttention()
            if isDirty && now >= nextFrame {
                terminal.draw(model.frame())
                nextFrame = now + Self.tick
                isDirty = false
            }
            var deadline = isDirty ? nextFrame : nil
            if let due = model.nextTick { deadline = min(deadline ?? due, due) }
            switch waitForInput(timeout: deadline.map { $0 - ContinuousClock.now }) {
            case .keys: keysReady = true
            case .nothing: keysReady = false
            case .terminalGone: return 1
            }
        }
    }

    /// Does what the model asked; returns the command for the caller to see a quit.
    @discardableResult
    private func carryOut(_ command: ScreenCommand?) -> ScreenCommand? {
        switch command {
        case .send(let line): send(line)
        case .repaint: terminal.repaint()
        case .suspend: suspend()
        case .connect(let login): connect(login)
        case .quit, nil: break
        }
        return command
    }

    private func apply(_ event: Mailbox.Event) -> ScreenCommand? {
        switch event {
        case .connected(let time):
            model.connected(at: time)
        case .line(let line):
            model.receive(serverLine: line)
        case .overlongLine:
            model.receiveOverlongLine()
        case .ended(let report, let time):
            return model.sessionEnded(report, at: time)
        }
        return nil
    }

    /// Appends what the screen added to the log. A log that cannot be written any more is said
    /// so once, on the screen, and given up: the conversation goes on.
    private func writeLog() {
        let entries = model.takeNewEntries()
        guard let log else { return }
        for entry in entries {
            guard let failure = log.append(entry.loggedLine(ownLogin: model.login), at: entry.time) else {
                continue
            }
            self.log = nil
            model.remark("\(failure); the conversation goes on without it")
            _ = model.takeNewEntries()
            return
        }
    }

    /// Rings the bell for messages that arrived unseen, and keeps the window title's unread
    /// count current.
    private func askForAttention() {
        if model.attention.bells > bellsRung {
            bellsRung = model.attention.bells
            terminal.bell()
        }
        let title = model.attention.title(login: model.login, serverName: model.options.serverName)
        if title != self.title, terminal.canSetTitle {
            self.title = title
            terminal.setTitle(title)
        }
    }

    private func handleSignals(_ isDirty: inout Bool) -> Int32? {
        let signals = chat_signals_take()
        if signals & Int32(CHAT_SIGNAL_INTERRUPT) != 0 { return 128 + SIGINT }
        if signals & Int32(CHAT_SIGNAL_TERMINATE) != 0 { return 128 + SIGTERM }
        if signals & Int32(CHAT_SIGNAL_HANGUP) != 0 { return 128 + SIGHUP }
        if signals & Int32(CHAT_SIGNAL_SUSPEND) != 0 {
            suspend()
            isDirty = true
        }
        if signals & Int32(CHAT_SIGNAL_RESIZE) != 0 {
            terminal.updateSize()
            model.resize(rows: terminal.size.rows, columns: terminal.size.columns)
            isDirty = true
        }
        return nil
    }

    /// Ctrl-Z or SIGTSTP. The terminal may have another size by the time `fg` brings the
    /// client back.
    private func suspend() {
        guard terminal.suspend() else {
            model.remark("not suspended: no shell with job control started the client to bring it back")
            return
        }
        // The terminal had its own title back while the client was stopped.
        title = nil
        terminal.updateSize()
        model.resize(rows: terminal.size.rows, columns: terminal.size.columns)
    }

    private enum Readiness { case keys, nothing, terminalGone }

    private func waitForInput(timeout: Duration?) -> Readiness {
        var descriptors = [
            pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0),
            pollfd(fd: wake.readDescriptor, events: Int16(POLLIN), revents: 0),
        ]
        let milliseconds = timeout.map { max(0, Int32($0 / .milliseconds(1)) + 1) } ?? -1
        guard poll(&descriptors, 2, milliseconds) > 0 else { return .nothing }
        if descriptors[1].revents != 0 { wake.drain() }
        let terminal = descriptors[0].revents
        if terminal & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 { return .terminalGone }
        return terminal & Int16(POLLIN) != 0 ? .keys : .nothing
    }
}
