import CursesShim

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The UI loop. It waits in `poll` for keys, the mailbox or a signal, applies them to the model,
/// and draws at most one frame per tick, so a flood of incoming lines costs one redraw per tick
/// and never delays the handling of a key.
final class ScreenLoop {
    static let tick = Duration.milliseconds(20)

    let terminal: CursesTerminal
    var model: ChatScreenModel
    let mailbox: Mailbox
    let wake: WakePipe
    let send: (String) -> Void
    let reconnect: () -> Void
    /// 1 once the connection has failed or ended: the user quits a session that did not work.
    var exitStatus: Int32 = 0

    init(
        terminal: CursesTerminal,
        model: ChatScreenModel,
        mailbox: Mailbox,
        wake: WakePipe,
        send: @escaping (String) -> Void,
        reconnect: @escaping () -> Void
    ) {
        self.terminal = terminal
        self.model = model
        self.mailbox = mailbox
        self.wake = wake
        self.send = send
        self.reconnect = reconnect
    }

    /// Runs until the user quits or a signal says to stop; returns the exit status. The terminal
    /// is restored before this returns, on every path.
    func run() -> Int32 {
        chat_signals_install(wake.writeDescriptor)
        defer {
            terminal.close()
            chat_signals_restore()
        }
        model.resize(rows: terminal.size.rows, columns: terminal.size.columns)
        model.connectionChanged(.connecting)
        var isDirty = true
        var nextFrame = ContinuousClock.now
        var keysReady = false
        while true {
            if let status = handleSignals(&isDirty) { return status }
            if keysReady {
                for key in terminal.pendingKeys() {
                    isDirty = true
                    switch model.handle(key) {
                    case .send(let line): send(line)
                    case .quit: return exitStatus
                    case .repaint: terminal.repaint()
                    case .reconnect: reconnect()
                    case nil: break
                    }
                }
            }
            let now = ContinuousClock.now
            // While a frame is pending, news can wait for it: taking it in only then means one
            // wake-up per frame however fast lines arrive.
            if !isDirty || now >= nextFrame {
                for event in mailbox.takeAll() {
                    apply(event)
                    isDirty = true
                }
            }
            if isDirty && now >= nextFrame {
                terminal.draw(model.frame())
                nextFrame = now + Self.tick
                isDirty = false
            }
            switch waitForInput(timeout: isDirty ? nextFrame - ContinuousClock.now : nil) {
            case .keys: keysReady = true
            case .nothing: keysReady = false
            case .terminalGone: return 1
            }
        }
    }

    private func handleSignals(_ isDirty: inout Bool) -> Int32? {
        let signals = chat_signals_take()
        if signals & Int32(CHAT_SIGNAL_INTERRUPT) != 0 { return 128 + SIGINT }
        if signals & Int32(CHAT_SIGNAL_TERMINATE) != 0 { return 128 + SIGTERM }
        if signals & Int32(CHAT_SIGNAL_HANGUP) != 0 { return 128 + SIGHUP }
        if signals & Int32(CHAT_SIGNAL_RESIZE) != 0 {
            terminal.updateSize()
            model.resize(rows: terminal.size.rows, columns: terminal.size.columns)
            isDirty = true
        }
        return nil
    }

    private func apply(_ event: Mailbox.Event) {
        switch event {
        case .connected:
            model.connectionChanged(.connected)
        case .line(let line):
            model.receive(serverLine: line)
        case .overlongLine:
            model.receiveOverlongLine()
        case .ended(let reason, let remark):
            exitStatus = 1
            model.connectionChanged(.disconnected(reason), remark: remark)
        case .closedByServer(let reason, let remark):
            if model.serverClosed(reason: reason, remark: remark) == .reconnect {
                reconnect()
            } else {
                exitStatus = 1
            }
        }
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
