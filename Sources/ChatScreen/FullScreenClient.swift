import ChatClient
import ChatProtocol
import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The full-screen client: a UI loop on a thread of its own, the only thread that touches curses,
/// and the network sessions on Swift concurrency, one at a time, each started when the model
/// says so. Lines the user enters reach the session through an `AsyncStream`, a new one per
/// session; what the session hears reaches the UI through a `Mailbox` that wakes the loop's
/// `poll`.
public struct FullScreenClient: Sendable {
    public struct Configuration: Sendable {
        public var endpoint: ServerEndpoint
        public var login: String?
        public var showsTimestamps: Bool
        public var scrollbackLines: Int
        public var reconnect: ReconnectPolicy
        public var rings: Bool
        /// Scroll with the mouse wheel (the terminal then selects text with Shift held).
        public var usesMouse: Bool
        public var log: ConversationLog?
        public var tls: ClientTLS?

        public init(
            endpoint: ServerEndpoint, tls: ClientTLS?, login: String?, showsTimestamps: Bool,
            scrollbackLines: Int, reconnect: ReconnectPolicy, rings: Bool, usesMouse: Bool,
            log: ConversationLog?
        ) {
            self.endpoint = endpoint
            self.tls = tls
            self.login = login
            self.showsTimestamps = showsTimestamps
            self.scrollbackLines = scrollbackLines
            self.reconnect = reconnect
            self.rings = rings
            self.usesMouse = usesMouse
            self.log = log
        }
    }

    public var configuration: Configuration

    public init(_ configuration: Configuration) {
        self.configuration = configuration
    }

    public enum Outcome: Equatable, Sendable {
        /// The user quit: 0 while the connection worked, 1 while it did not; or a signal ended
        /// it (128 + its number).
        case finished(exitStatus: Int32)
        /// Curses cannot drive this terminal; nothing was shown and no connection was made.
        case terminalUnavailable
    }

    /// A session to run: the lines the user enters on it, and the login that goes first.
    private struct Session: Sendable {
        var lines: AsyncStream<String>
        var login: String?
    }

    public func run() async -> Outcome {
        guard let wake = WakePipe() else { return .terminalUnavailable }
        defer { wake.close() }
        let configuration = self.configuration
        // A log is to have every line, even those a flood pushes out of the scrollback unseen.
        let mailbox = Mailbox(
            wake: wake, capacity: configuration.scrollbackLines,
            overflow: configuration.log == nil ? .dropOldestLines : .waitForRoom)
        let typedLines = TypedLines()
        let (sessions, sessionsSink) = AsyncStream.makeStream(of: Session.self)
        let options = ChatScreenModel.Options(
            serverName: configuration.endpoint.description,
            login: configuration.login,
            showsTimestamps: configuration.showsTimestamps,
            scrollbackLines: configuration.scrollbackLines,
            reconnect: configuration.reconnect,
            rings: configuration.rings,
            keepsNewEntries: configuration.log != nil
        )
        return await withTaskGroup(of: Void.self) { group in
            group.addTask {
                // Connect only once the screen is up: an unusable terminal falls back to plain
                // mode, which makes its own connection.
                for await session in sessions {
                    await runSession(session, mailbox: mailbox)
                }
            }
            let outcome = await onOwnThread { () -> Outcome in
                guard let terminal = CursesTerminal.open() else { return .terminalUnavailable }
                if configuration.usesMouse { terminal.enableWheel() }
                let loop = ScreenLoop(
                    terminal: terminal,
                    model: ChatScreenModel(options: options, clock: { Int(time(nil)) }),
                    mailbox: mailbox,
                    wake: wake,
                    log: configuration.log,
                    send: { typedLines.send($0) },
                    // A session's stream ends for good once the session stops reading it, so each
                    // session gets a fresh one, and lines typed after the swap go to the new one.
                    connect: { sessionsSink.yield(Session(lines: typedLines.replace(), login: $0)) }
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

    private func runSession(_ session: Session, mailbox: Mailbox) async {
        let endpoint = configuration.endpoint
        func end(_ report: SessionReport) async { await mailbox.post(.ended(report, at: .now)) }
        do {
            let ending = try await ChatSession.run(
                endpoint: endpoint,
                tls: configuration.tls,
                login: session.login,
                input: session.lines.map { ByteBuffer(string: $0) },
                afterInputEnds: .stop,
                onConnected: { await mailbox.post(.connected(at: .now)) },
                onServerLine: { framed in
                    switch framed {
                    case .line(let line): await mailbox.post(.line(String(buffer: line)))
                    case .overlong: await mailbox.post(.overlongLine)
                    }
                }
            )
            if ending.end == .serverClosed {
                let error = ClientError.closedByServer(endpoint)
                // A server that says why before it closes (a refused login, a shutdown) gives
                // the better reason.
                await end(
                    .closedByServer(
                        reason: ending.finalNotice ?? error.shortReason, remark: error.description))
            }
        } catch is CancellationError {
            // The user quit while connecting.
        } catch let error as ClientError {
            switch error {
            case .cannotSecure, .speaksTLS:
                await end(.insecure(reason: error.shortReason, remark: error.description))
            default:
                await end(.failed(reason: error.shortReason, remark: error.description))
            }
        } catch {
            await end(.failed(reason: "\(error)", remark: "\(error)"))
        }
    }
}
