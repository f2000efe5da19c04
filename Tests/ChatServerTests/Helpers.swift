import ChatServer
import ChatTestSupport
import Foundation
import Logging
import NIOCore
import NIOSSL
import Testing

/// Runs `body` against a fresh in-process server and always shuts it down.
func withServer(
    maximumLineBytes: Int = 64 * 1024,
    maximumQueueBytes: Int = 1024 * 1024,
    drainTimeout: TimeAmount = .seconds(30),
    logLevel: Logger.Level = .warning,
    _ body: (ChatServer) async throws -> Void
) async throws {
    try await withServer(
        configuration: .forTests.with {
            $0.maximumLineBytes = maximumLineBytes
            $0.maximumQueueBytes = maximumQueueBytes
            $0.drainTimeout = drainTimeout
        },
        logLevel: logLevel,
        body)
}

/// Runs `body` against a fresh in-process server set up as `configuration` says.
func withServer(
    configuration: ChatServerConfiguration,
    logLevel: Logger.Level = .warning,
    _ body: (ChatServer) async throws -> Void
) async throws {
    let server = try await startTestServer(configuration: configuration, logLevel: logLevel)
    do {
        try await body(server)
    } catch {
        await server.shutdown()
        throw error
    }
    await server.shutdown()
}

/// A client logged in as `name`, proven registered: it has messaged itself and got it back.
func loggedIn(
    _ name: String,
    port: Int,
    receiveBufferBytes: Int? = nil,
    readBytesPerSecond: Int? = nil,
    tls: TLSConfiguration? = nil
) async throws -> LineClient {
    let client = try await LineClient.connect(
        port: port, receiveBufferBytes: receiveBufferBytes, readBytesPerSecond: readBytesPerSecond, tls: tls)
    try await client.send(name)
    try await client.send("\(name): ready")
    let echo = try await client.readLine()
    try #require(echo == "from \(name): ready", "login \(name) was not accepted")
    return client
}

/// The first line `client` receives, which must be a notice.
func expectNotice(_ client: LineClient, containing fragment: String) async throws {
    let line = try #require(try await client.readLine())
    #expect(line.hasPrefix("error: "), "expected a notice, got \(line.debugDescription)")
    #expect(line.contains(fragment), "notice \(line.debugDescription) does not mention \(fragment)")
}

/// Proves the connection is still served and nothing else is queued before the proof.
func expectStillServed(_ client: LineClient, as name: String) async throws {
    try await client.send("\(name): still here")
    #expect(try await client.readLine() == "from \(name): still here")
}

/// Logs in as `name`, retrying while the server is still making room (or the name is still
/// held somewhere).
func eventuallyLoggedIn(_ name: String, port: Int, within: Duration = .seconds(20)) async throws -> LineClient
{
    let deadline = ContinuousClock.now + within
    while true {
        let client = try await LineClient.connect(port: port)
        try await client.send(name)
        try await client.send("\(name): ready")
        if let echo = try await client.readLine(timeout: within), echo == "from \(name): ready" {
            return client
        }
        await client.close()
        guard ContinuousClock.now < deadline else { throw TestTimeout("\(name) never got in") }
        try await Task.sleep(for: .milliseconds(50))
    }
}

/// Connects `descriptor` to `port` on 127.0.0.1 with a plain `connect(2)`: what a raw client
/// does, below NIO. Returns `connect`'s result (-1 with `EINPROGRESS` on a non-blocking socket).
@discardableResult
func connectToLoopback(_ descriptor: CInt, port: Int) -> CInt {
    withLoopbackAddress(port: port) { connect(descriptor, $0, $1) }
}
