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
