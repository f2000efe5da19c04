import ArgumentParser
import ChatClient
import ChatCommandLine
import ChatProtocol
import ChatScreen

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@main
struct ChatClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat-client",
        abstract: "Chat on an a-chat server: full screen on a terminal, line by line in a pipe.",
        discussion: """
            Send 'bob, carol: hello' to talk to bob and carol. On a terminal the client runs full \
            screen; with --plain, or when stdin or stdout is not a terminal, input lines go to the \
            server as they are and server lines are printed as they arrive. In plain mode, end of \
            input waits for the server to deliver what is left, then exits 0, or 1 if the server \
            sent a notice ('error: ...') during the session.
            """,
        version: AChatVersion.current
    )

    @Argument(help: "Your login, sent as the first line. Without it, the first line you enter is the login.")
    var login: String?

    @OptionGroup(title: "Server")
    var address: ServerAddressOptions

    @Flag(help: "Plain line mode, even on a terminal.")
    var plain = false

    @Flag(inversion: .prefixedNo, help: "Show the time of each line (full screen).")
    var timestamps = true

    @Option(parsing: .unconditional, help: "Lines the full screen keeps for scrolling back.")
    var scrollbackLines = 10_000

    @Flag(
        inversion: .prefixedNo,
        help: "Connect again after the connection is lost (default: on in full screen, off in plain mode).")
    var reconnect: Bool?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Seconds before the first reconnect; doubled after each failed attempt, up to 30.",
            valueName: "seconds"))
    var reconnectDelay = 1.0

    @Option(help: ArgumentHelp("Append every line of the conversation to this file.", valueName: "file"))
    var log: String?

    @Flag(help: "Connect with TLS, verifying the server's certificate against the system's roots and --host.")
    var tls = false

    @Option(
        help: ArgumentHelp(
            "Trust only the CA certificates in this PEM file for the server's certificate (implies --tls).",
            valueName: "pem"))
    var tlsCa: String?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Seconds a connect, and with --tls the TLS handshake, may take.", valueName: "seconds"))
    var connectTimeout = 10.0

    @Flag(inversion: .prefixedNo, help: "Ring the bell for a message you cannot see yet (full screen).")
    var bell = true

    @Flag(
        inversion: .prefixedNo,
        help: "Scroll with the mouse wheel; select text with Shift held (full screen).")
    var mouse = true

    func validate() throws {
        try address.validatePort(in: 1...65535)
        guard (1...1_000_000).contains(scrollbackLines) else {
            throw ValidationError("--scrollback-lines must be 1...1000000")
        }
        guard reconnectDelay >= 0.01, reconnectDelay <= 30 else {
            throw ValidationError("--reconnect-delay must be 0.01...30 seconds")
        }
        guard connectTimeout >= 0.1, connectTimeout <= 600 else {
            throw ValidationError("--connect-timeout must be 0.1...600 seconds")
        }
        // Caught here rather than by the server: a login that breaks the rules would cost the
        // connection, and the tutorial's server, which has no rules, would register it as it is.
        if let login, case .failure(let refusal) = Login.validate(login) {
            throw ValidationError(
                "\(Notice.loginRefused(refusal).text) (LOGIN is \(VisibleText.quoted(login)))")
        }
    }

    /// The login as it goes to the server: trimmed, as the server would trim it.
    private var trimmedLogin: String? { login.map(Login.trimmed) }

    func run() async throws {
        let endpoint = ServerEndpoint(
            host: address.resolvedHost, port: address.resolvedPort, connectTimeout: .seconds(connectTimeout))
        // What cannot work is said before anything is shown or connected.
        var conversationLog: ConversationLog?
        var clientTLS: ClientTLS?
        do {
            if tls || tlsCa != nil {
                clientTLS = try ClientTLS(trustedCAFile: tlsCa, handshakeTimeout: .seconds(connectTimeout))
            }
            if let log { conversationLog = try ConversationLog(path: log) }
        } catch {
            try? OutputStream.standardError.writeLine("chat-client: \(error)")
            throw ExitCode(1)
        }
        defer { conversationLog?.close() }
        let status = await runChosenMode(endpoint: endpoint, tls: clientTLS, log: conversationLog)
        if status != 0 { throw ExitCode(status) }
    }

    private func policy(reconnectsByDefault: Bool) -> ReconnectPolicy {
        ReconnectPolicy(isEnabled: reconnect ?? reconnectsByDefault, baseDelay: .seconds(reconnectDelay))
    }

    private func runChosenMode(endpoint: ServerEndpoint, tls: ClientTLS?, log: ConversationLog?) async
        -> Int32
    {
        let plainClient = PlainClient(
            endpoint: endpoint, tls: tls, login: trimmedLogin, reconnect: policy(reconnectsByDefault: false),
            log: log)
        guard !plain, isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1 else {
            return await plainClient.run()
        }
        guard TerminalLocale.prepare() else {
            try? OutputStream.standardError.writeLine("chat-client: no UTF-8 locale; using plain mode")
            return await plainClient.run()
        }
        let screen = FullScreenClient(
            .init(
                endpoint: endpoint,
                tls: tls,
                login: trimmedLogin,
                showsTimestamps: timestamps,
                scrollbackLines: scrollbackLines,
                reconnect: policy(reconnectsByDefault: true),
                rings: bell,
                usesMouse: mouse,
                log: log
            ))
        switch await screen.run() {
        case .finished(let status):
            return status
        case .terminalUnavailable:
            let terminal = getenv("TERM").map { "TERM=" + String(cString: $0) } ?? "TERM is not set"
            try? OutputStream.standardError.writeLine(
                "chat-client: cannot run full screen (\(terminal)); using plain mode")
            return await plainClient.run()
        }
    }
}
