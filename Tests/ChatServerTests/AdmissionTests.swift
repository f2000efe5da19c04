import ChatServer
import ChatTestSupport
import Foundation
import SystemSupport
import Testing

/// The connection caps and what happens when descriptors run out.
@Suite struct AdmissionTests {
    @Test(.loadsTheMachine) func overTheConnectionCapOneMoreGetsANoticeAndTheNextGetsInWhenRoomIsMade()
        async throws
    {
        let server = try await ServerProcess(arguments: ["--max-connections", "50"])
        var held: [LineClient] = []
        for index in 0..<50 { held.append(try await loggedIn("u\(index)", port: server.port)) }
        let extra = try await LineClient.connect(port: server.port)
        try await extra.send("extra")
        #expect(try await extra.readToEnd() == ["error: server is full; try again later"])
        #expect(!extra.wasReset)
        // Everyone inside is still served.
        try await expectStillServed(held[0], as: "u0")
        await held[49].close()
        let next = try await eventuallyLoggedIn("next", port: server.port)
        try await expectStillServed(next, as: "next")
    }

    @Test(.loadsTheMachine) func theCapPerAddressCountsOnlyThatAddress() async throws {
        try await withServer(configuration: .forTests.with { $0.maximumConnectionsPerAddress = 3 }) {
            server in
            var held: [LineClient] = []
            for index in 0..<3 { held.append(try await loggedIn("u\(index)", port: server.port)) }
            let fourth = try await LineClient.connect(port: server.port)
            #expect(
                try await fourth.readToEnd() == [
                    "error: more than 3 connections from your address; try again later"
                ])
            let elsewhere = try await LineClient.connect(port: server.port, sourceAddress: "127.0.0.2")
            try await elsewhere.send("elsewhere")
            try await expectStillServed(elsewhere, as: "elsewhere")
            await held[0].close()
            let again = try await eventuallyLoggedIn("again", port: server.port)
            try await expectStillServed(again, as: "again")
        }
    }

    /// A client turned away before it logs in (its login refused, or timed out) that keeps its
    /// socket open after the notice no longer holds its address's place. It held it for the drain
    /// timeout: a script that does not close on end of input shut its own address out for 30 s
    /// after each mistyped name.
    @Test(arguments: [true, false]) func aClientTurnedAwayThatKeepsItsSocketOpenLeavesItsPlaceAtOnce(
        refusedLogin: Bool
    ) async throws {
        let configuration = ChatServerConfiguration.forTests.with {
            $0.maximumConnectionsPerAddress = 2
            $0.drainTimeout = .seconds(120)
            // Timed out, the second client is; the others log in at once, well within it.
            $0.loginTimeout = refusedLogin ? .seconds(120) : .seconds(10)
        }
        try await withServer(configuration: configuration) { server in
            let alice = try await loggedIn("alice", port: server.port)
            let turnedAway = try await offThePool {
                try LingeringClient(port: server.port, sending: refusedLogin ? "bad,name\n" : "")
            }
            defer { turnedAway.close() }
            let notice = turnedAway.received
            #expect(notice.hasPrefix(refusedLogin ? "error: login" : "error: no login within"), "\(notice)")
            // The turned-away client has not closed: the next one from its address still gets in.
            let next = try await loggedIn("next", port: server.port)
            try await expectStillServed(alice, as: "alice")
            for client in [next, alice] { await client.close() }
        }
    }

    @Test(.loadsTheMachine) func outOfDescriptorsTheServerBacksOffInsteadOfSpinningAndRecovers() async throws
    {
        // A descriptor limit the cap does not know about: accept itself fails.
        let prlimit = URL(fileURLWithPath: "/usr/bin/prlimit")
        try #require(
            FileManager.default.isExecutableFile(atPath: prlimit.path), "prlimit (util-linux) is missing")
        let child = try ChildProcess(
            prlimit,
            [
                "--nofile=100:100", ChildProcess.executable("chat-server").path, "--port", "0",
                "--log-level", "warning", "--max-connections", "1000",
            ])
        let line = try await child.waitForStdoutLine { $0.hasPrefix("listening on ") }
        let port = try #require(line.split(separator: ":").last.flatMap { Int($0) })
        // Said at start, since past the limit nobody gets the full server's notice.
        try await child.waitForStderrLine {
            $0.contains("--max-connections 1000 is above what the open-file limit (100) leaves")
        }
        var flood: [LineClient] = []
        for _ in 0..<150 { flood.append(try await LineClient.connect(port: port)) }
        // The listener keeps failing for lack of descriptors; meanwhile it must stay nearly idle.
        try await child.waitForStderrLine { $0.contains("cannot accept connections") }
        let probe = ProcessProbe(pid: child.pid)
        let before = try #require(probe.cpuSeconds())
        try await Task.sleep(for: .seconds(2))
        let spent = try #require(probe.cpuSeconds()) - before
        #expect(spent < 0.5, "the server spent \(spent) s of CPU in 2 s while out of descriptors")
        // Room again: the waiting connections are taken, and newcomers get in.
        for client in flood { await client.close() }
        let newcomer = try await eventuallyLoggedIn("newcomer", port: port)
        try await expectStillServed(newcomer, as: "newcomer")
        child.signal(SIGTERM)
        let status = try await child.waitForExit()
        #expect(status == 0, "exit status \(status); stderr: \(child.stderr.prefix(12000))")
    }
}

/// A raw client that sends `bytes`, reads what the server says up to the end of the server's
/// output, and keeps its socket open after that, as a script that ignores end of input does.
/// (`LineClient` closes when its input ends.)
private struct LingeringClient: Sendable {
    let descriptor: CInt
    let received: String

    init(port: Int, sending bytes: String) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0, connectToLoopback(descriptor, port: port) == 0 else {
            throw TestTimeout("connect: errno \(errno)")
        }
        let request = Array(bytes.utf8)
        guard write(descriptor, request, request.count) == request.count else {
            throw TestTimeout("write: errno \(errno)")
        }
        var timeout = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 512)
        while true {
            let count = read(descriptor, &buffer, buffer.count)
            guard count >= 0 else { throw TestTimeout("read: errno \(errno)") }
            if count == 0 { break }
            output += buffer[..<count]
        }
        received = String(decoding: output, as: UTF8.self)
    }

    func close() { _ = Glibc.close(descriptor) }
}
