import ChatScreen
import ChatServer
import ChatTestSupport
import Foundation
import Testing

/// A TCP listener on loopback that never completes a handshake: its accept queue is filled at
/// once, after which the kernel drops every new connection attempt, so a connect just waits.
struct UnansweredListener {
    let port: Int
    private var descriptors: [CInt] = []

    init() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        descriptors.append(listener)
        var bound = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening =
            withLoopbackAddress(port: 0) { bind(listener, $0, $1) == 0 } && listen(listener, 0) == 0
            && withUnsafeMutablePointer(to: &bound) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    getsockname(listener, $0, &length) == 0
                }
            }
        guard listening else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        port = Int(UInt16(bigEndian: bound.sin_port))
        for _ in 0..<3 {
            let filler = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            descriptors.append(filler)
            _ = withLoopbackAddress(port: port) { connect(filler, $0, $1) }
        }
    }

    func close() {
        for descriptor in descriptors { _ = Glibc.close(descriptor) }
    }
}

/// The client full screen in tmux, run by a shell that writes its exit status to a file.
struct ScreenRecordingExit {
    let tmux: TmuxSession
    private let directory: URL

    init(port: Int, _ arguments: String = "--no-timestamps alice") throws {
        directory = try temporaryDirectory()
        let status = directory.appendingPathComponent("status").path
        tmux = try TmuxSession(
            command:
                "sh -c '\(FullScreenTests.client) --port \(port) \(arguments); echo $? > \(status).tmp && mv \(status).tmp \(status)'"
        )
    }

    func exitStatus(timeout: Duration = .seconds(30)) async throws -> String {
        try await contents(of: directory.appendingPathComponent("status"), timeout: timeout)
    }

    func close() {
        tmux.kill()
        try? FileManager.default.removeItem(at: directory)
    }
}

func temporaryDirectory() throws -> URL {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
        "chat-screen-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory
}

/// The contents of `file` once it exists; scripts write a temporary name and rename it, so a file
/// that exists is complete.
func contents(of file: URL, timeout: Duration = .seconds(30)) async throws -> String {
    let deadline = ContinuousClock.now + timeout
    while !FileManager.default.fileExists(atPath: file.path) {
        guard ContinuousClock.now < deadline else {
            throw TestTimeout("\(file.lastPathComponent) never appeared")
        }
        try await Task.sleep(for: .milliseconds(20))
    }
    return try String(contentsOf: file, encoding: .utf8)
}

/// The client full screen in a tmux pane of 80 × 24, run through `exec` from a shell that first
/// writes its process id to `pidFile`, when given.
func startClientScreen(
    port: Int, _ arguments: String, term: String = "xterm-256color", pidFile: URL? = nil
) throws -> TmuxSession {
    let client = "\(FullScreenTests.client) --port \(port) \(arguments)"
    guard let pidFile else { return try TmuxSession(command: client, term: term) }
    return try TmuxSession(command: "sh -c 'echo $$ > \"\(pidFile.path)\"; exec \(client)'", term: term)
}

/// bob, logged in on `server`, once the server counts `online` logins.
func connectBob(to server: ChatServer, online: Int = 2) async throws -> LineClient {
    let bob = try await LineClient.connect(port: server.port)
    try await bob.send("bob")
    try await waitUntilOnline(server, count: online)
    return bob
}
