import ChatClient
import ChatProtocol
import CursesShim
import NIOCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The full-screen client: a UI loop on a thread of its own, the only thread that touches curses,
/// and the network session on Swift concurrency. Lines the user enters reach the session through
/// an `AsyncStream`, a new one per session; what the session hears reaches the UI through a
/// `Mailbox` that wakes the loop's `poll`.
public struct FullScreenClient: Sendable {
    public var endpoint: ServerEndpoint
    public var login: String?
    public var showsTimestamps: Bool
    public var scrollbackLines: Int

    public init(endpoint: ServerEndpoint, login: String?, showsTimestamps: Bool, scrollbackLines: Int) {
        self.endpoint = endpoint
        self.login = login
        self.showsTimestamps = showsTimestamps
        self.scrollbackLines = scrollbackLines
    }

    public enum Outcome: Equatable, Sendable {
        /// The user quit (exit status 0), after the connection failed (1), or a signal ended it
        /// (128 + its number).
        case finished(exitStatus: Int32)
        /// Curses cannot drive this terminal; nothing was shown and no connection was made.
        case terminalUnavailable
    }

    public func run() async -> Outcome {
        guard let wake = WakePipe() else { return .terminalUnavailable }
        defer { wake.close() }
        let mailbox = Mailbox(wake: wake, capacity: scrollbackLines)
        let typedLines = TypedLines()
        // One element per session to run, in turn: the first once the screen is up, another
        // after a refused login.
        let (sessions, sessionsSink) = AsyncStream.makeStream(of: AsyncStream<String>.self)
        let options = ChatScreenModel.Options(
            serverName: endpoint.description,
            login: login,
            showsTimestamps: showsTimestamps,
            scrollbackLines: scrollbackLines
        )
        return await withTaskGroup(of: Void.self) { group in
            group.addTask {
                // Connect only once the screen is up: an unusable terminal falls back to plain
                // mode, which makes its own connection.
                for await lines in sessions {
                    await runSession(typedLines: lines, mailbox: mailbox)
                }
            }
            let outcome = await onOwnThread { () -> Outcome in
                guard let terminal = CursesTerminal.open() else { return .terminalUnavailable }
                // A session's stream ends for good once the session stops reading it, so each
                // session gets a fresh one, and lines typed after the swap go to the new one.
                let startSession = { _ = sessionsSink.yield(typedLines.replace()) }
                startSession()
                let loop = ScreenLoop(
                    terminal: terminal,
                    model: ChatScreenModel(options: options, clock: { Int(time(nil)) }),
                    mailbox: mailbox,
                    wake: wake,
                    send: { typedLines.send($0) },
                    reconnect: startSession
                )
                return .finished(exitStatus: loop.run())
            }
            sessionsSink.finish()
            // The end of typed input ends a connected session; cancelling also ends one that is
            // still connecting, so quitting never waits for the network.
            typedLines.finish()
            group.cancelAll()
            return outcome
        }
    }

    /// A later session only follows a refused typed login, so `login`, from the command line, is
    /// nil for it.
    private func runSession(typedLines: AsyncStream<String>, mailbox: Mailbox) async {
        do {
            let ending = try await ChatSession.run(
                endpoint: endpoint,
                login: login,
                input: typedLines.map { ByteBuffer(string: $0) },
                afterInputEnds: .stop,
                onConnected: { mailbox.post(.connected) },
                onServerLine: { framed in
                    switch framed {
                    case .line(let line): mailbox.post(.line(TranscriptEntry.keptText(of: line)))
                    case .overlong: mailbox.post(.overlongLine)
                    }
                }
            )
            if ending.end == .serverClosed {
                let error = ClientError.closedByServer(endpoint)
                // A server that says why before it closes (a refused login, a shutdown) gives
                // the better reason.
                mailbox.post(
                    .closedByServer(
                        reason: ending.finalNotice ?? error.shortReason, remark: error.description))
            }
        } catch let error as ClientError {
            mailbox.post(.ended(reason: error.shortReason, remark: error.description))
        } catch {
            mailbox.post(.ended(reason: "\(error)", remark: "\(error)"))
        }
    }
}

/// Where the UI sends the lines the user enters: the current session's stream. The UI thread
/// sends and swaps; the task that runs `FullScreenClient` finishes it once the UI is done.
final class TypedLines: Sendable {
    private let sink = Mutex<AsyncStream<String>.Continuation?>(nil)

    func send(_ line: String) {
        _ = sink.withLock { $0?.yield(line) }
    }

    /// A new stream for the next session; the old one is finished.
    func replace() -> AsyncStream<String> {
        let (lines, newSink) = AsyncStream.makeStream(of: String.self)
        let old = sink.withLock { sink in
            defer { sink = newSink }
            return sink
        }
        old?.finish()
        return lines
    }

    func finish() {
        sink.withLock { $0 }?.finish()
    }
}

/// Runs `body` on a new thread and waits for it without holding a thread of the cooperative
/// pool: the UI loop blocks in `poll` for as long as the user stays.
private func onOwnThread<Result: Sendable>(_ body: @escaping @Sendable () -> Result) async -> Result {
    await withCheckedContinuation { continuation in
        let work = Unmanaged.passRetained(ThreadWork { continuation.resume(returning: body()) }).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(
            &thread, nil,
            { context in
                Unmanaged<ThreadWork>.fromOpaque(context!).takeRetainedValue().run()
                return nil
            }, work)
        precondition(created == 0, "cannot start the UI thread: error \(created)")
        pthread_detach(thread)
    }
}

private final class ThreadWork: Sendable {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}

/// A non-blocking pipe whose read end the UI loop polls: writing a byte wakes it. Signal handlers
/// write to it too, which is why it is a pipe and not a condition variable.
struct WakePipe: Sendable {
    let readDescriptor: CInt
    let writeDescriptor: CInt

    init?() {
        var descriptors: [CInt] = [-1, -1]
        guard pipe(&descriptors) == 0 else { return nil }
        for descriptor in descriptors {
            _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
            _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        }
        readDescriptor = descriptors[0]
        writeDescriptor = descriptors[1]
    }

    func wake() {
        var byte: UInt8 = 0
        // A full pipe already guarantees a wake-up.
        _ = write(writeDescriptor, &byte, 1)
    }

    func drain() {
        var bytes = [UInt8](repeating: 0, count: 256)
        while read(readDescriptor, &bytes, bytes.count) > 0 {}
    }

    func close() {
        closeDescriptor(readDescriptor)
        closeDescriptor(writeDescriptor)
    }
}

private func closeDescriptor(_ descriptor: CInt) {
    _ = close(descriptor)
}

/// What the network side tells the UI, in order.
final class Mailbox: Sendable {
    enum Event: Sendable {
        case connected
        case line(String)
        case overlongLine
        /// The short reason for the status line and the whole sentence for the scrollback.
        case ended(reason: String, remark: String)
        /// The connection ended because the server closed it, perhaps to refuse the login.
        case closedByServer(reason: String, remark: String)
    }

    private struct State {
        var events: [Event] = []
        var isWakePending = false
    }

    private let state = Mutex(State())
    private let wake: WakePipe
    /// Lines beyond this many waiting would only push each other out of the scrollback, so the
    /// oldest are dropped here already: a flood cannot grow memory while the UI catches up.
    private let capacity: Int

    init(wake: WakePipe, capacity: Int) {
        self.wake = wake
        self.capacity = capacity
    }

    func post(_ event: Event) {
        let mustWake = state.withLock { state in
            state.events.append(event)
            // Subtracting keeps this from overflowing for any capacity up to Int.max.
            if state.events.count - 1024 > capacity {
                let excess = state.events.count - capacity
                let kept = state.events[..<excess].filter {
                    if case .line = $0 { return false }
                    return true
                }
                state.events.replaceSubrange(..<excess, with: kept)
            }
            defer { state.isWakePending = true }
            return !state.isWakePending
        }
        // One wake-up per batch: the loop takes everything at once.
        if mustWake { wake.wake() }
    }

    func takeAll() -> [Event] {
        state.withLock { state in
            state.isWakePending = false
            defer { state.events.removeAll(keepingCapacity: true) }
            return state.events
        }
    }
}

/// The UI loop. It waits in `poll` for keys, the mailbox or a signal, applies them to the model,
/// and draws at most one frame per tick, so a flood of incoming lines costs one redraw per tick
/// and never delays the handling of a key.
private final class ScreenLoop {
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
