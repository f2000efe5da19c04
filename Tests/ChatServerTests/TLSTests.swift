import ChatTestSupport
import Foundation
import NIOSSL
import Testing

/// The real `chat-server` with `--tls-cert` and `--tls-key`.
@Suite struct TLSTests {
    @Test func twoTLSClientsChatAndOpenSSLJoinsIn() async throws {
        let certificates = try await TestCertificates.shared.value
        let server = try await tlsServer(certificates)
        let trusting = try TestCertificates.clientConfiguration(trusting: certificates.caCertificate)
        let alice = try await loggedIn("alice", port: server.port, tls: trusting)
        let bob = try await loggedIn("bob", port: server.port, tls: trusting)
        try await alice.send("bob: hello over TLS")
        #expect(try await bob.readLine() == "from alice: hello over TLS")

        let carol = try ChildProcess(
            URL(fileURLWithPath: "/usr/bin/env"),
            [
                "openssl", "s_client", "-connect", "127.0.0.1:\(server.port)", "-CAfile",
                certificates.caCertificate,
                "-verify_ip", "127.0.0.1", "-verify_return_error", "-quiet",
            ])
        defer { carol.terminate() }
        try carol.write("carol\ncarol: ready\n")
        try await carol.waitForStdoutLine { $0 == "from carol: ready" }
        try await alice.send("bob, carol: hello both")
        try await carol.waitForStdoutLine { $0 == "from alice: hello both" }
        #expect(try await bob.readLine() == "from alice: hello both")
        try carol.write("alice: hello from openssl\n")
        #expect(try await alice.readLine() == "from carol: hello from openssl")
    }

    @Test func aPlainTextClientGetsNowhereAndTheServerKeepsServing() async throws {
        let certificates = try await TestCertificates.shared.value
        let server = try await tlsServer(certificates)
        let trusting = try TestCertificates.clientConfiguration(trusting: certificates.caCertificate)
        let alice = try await loggedIn("alice", port: server.port, tls: trusting)

        let plain = try await LineClient.connect(port: server.port)
        try await plain.send("mallory")
        try await plain.send("alice: let me in")
        // At most a TLS alert comes back, never a line of the chat.
        for line in try await plain.readToEnd() {
            #expect(!line.hasPrefix("from ") && !line.hasPrefix("error: "), "\(line.debugDescription)")
        }
        try await alice.expectSilence(for: .milliseconds(100))

        let bob = try await loggedIn("bob", port: server.port, tls: trusting)
        try await bob.send("alice: still here?")
        #expect(try await alice.readLine() == "from bob: still here?")
    }

    @Test func aClientThatDoesNotTrustTheCertificateFailsTheHandshake() async throws {
        let certificates = try await TestCertificates.shared.value
        let server = try await tlsServer(certificates)
        let trustingAnother = try TestCertificates.clientConfiguration(
            trusting: certificates.otherCACertificate)
        let client = try await LineClient.connect(port: server.port, tls: trustingAnother)
        try await client.send("alice")
        try await client.waitUntilClosedByServer()
        let failure = try #require(client.failure)
        #expect(failure.contains("CERTIFICATE_VERIFY_FAILED"), "\(failure)")

        // It never logged in: the name is free.
        let trusting = try TestCertificates.clientConfiguration(trusting: certificates.caCertificate)
        let alice = try await loggedIn("alice", port: server.port, tls: trusting)
        await alice.close()
    }

    @Test func aClientCanCheckTheServersNameToo() async throws {
        let certificates = try await TestCertificates.shared.value
        let server = try await tlsServer(certificates)
        let trusting = try TestCertificates.clientConfiguration(trusting: certificates.caCertificate)
        let client = try await LineClient.connect(port: server.port, host: "localhost", tls: trusting)
        try await client.send("alice")
        try await expectStillServed(client, as: "alice")
    }

    @Test func badCertificateOrKeyFilesAreOneLineAndStatus1() async throws {
        let certificates = try await TestCertificates.shared.value
        let cases: [([String], String)] = [
            (
                ["--tls-cert", "/nonexistent/cert.pem", "--tls-key", certificates.serverKey],
                "chat-server: cannot read the certificate from /nonexistent/cert.pem: no such file or directory"
            ),
            (
                ["--tls-cert", certificates.serverKey, "--tls-key", certificates.serverKey],
                "chat-server: cannot read the certificate from \(certificates.serverKey): not a readable PEM certificate"
            ),
            (
                ["--tls-cert", certificates.serverCertificate, "--tls-key", certificates.serverCertificate],
                "chat-server: cannot read the private key from \(certificates.serverCertificate): not a readable PEM private key"
            ),
            (
                ["--tls-cert", certificates.serverCertificate, "--tls-key", certificates.otherKey],
                "chat-server: the private key in \(certificates.otherKey) does not belong to the certificate in \(certificates.serverCertificate)"
            ),
        ]
        for (arguments, message) in cases {
            let server = try ChildProcess(
                ChildProcess.executable("chat-server"), ["--port", "0"] + arguments)
            #expect(try await server.waitForExit() == 1)
            let errors = server.stderr.split(separator: "\n").filter { !$0.contains(" info ") }
            #expect(errors == [Substring(message)], "stderr: \(server.stderr)")
            #expect(server.stdout.isEmpty)
        }
    }

    @Test(arguments: [["--tls-cert", "cert.pem"], ["--tls-key", "key.pem"]])
    func aCertificateWithoutAKeyIsAUsageError(_ arguments: [String]) async throws {
        let server = try ChildProcess(ChildProcess.executable("chat-server"), arguments)
        #expect(try await server.waitForExit() == 64)
        #expect(server.stderr.contains("--tls-cert and --tls-key go together"), "stderr: \(server.stderr)")
    }

    /// A client that opens the TLS port and never completes a handshake (sends nothing, or
    /// half a ClientHello) cannot be told anything: it is reset at the login timeout, not held
    /// for the drain timeout on top (600 s here).
    @Test func aConnectionWithoutAHandshakeIsClosedAtTheLoginTimeout() async throws {
        let certificates = try await TestCertificates.shared.value
        let server = try await tlsServer(certificates, ["--login-timeout", "1", "--drain-timeout", "600"])
        let silent = try await LineClient.connect(port: server.port)
        let halfHello = try await LineClient.connect(port: server.port)
        try await halfHello.sendRaw([0x16, 0x03, 0x01, 0x00, 0x80, 0x01])
        for client in [silent, halfHello] { try await client.waitUntilClosedByServer() }
    }

    /// TLS 1.0 and 1.1 are refused (RFC 8996), and the log says why; TLS 1.2 is taken.
    @Test func aClientLimitedToTLS11IsRefusedAndOneWithTLS12GetsIn() async throws {
        let certificates = try await TestCertificates.shared.value
        let server = try await tlsServer(certificates, ["--log-level", "info"])
        let old = try TestCertificates.clientConfiguration(
            trusting: certificates.caCertificate, upTo: .tlsv11)
        let refused = try await LineClient.connect(port: server.port, tls: old)
        try? await refused.send("alice")
        try? await refused.send("alice: over TLS 1.1")
        let heard = (try? await refused.readToEnd()) ?? []
        #expect(!heard.contains("from alice: over TLS 1.1"), "\(heard)")
        try await server.child.waitForStderrLine {
            $0.contains("reason=TLS handshake failed: unsupported protocol") && $0.contains("disconnected")
        }

        let current = try TestCertificates.clientConfiguration(
            trusting: certificates.caCertificate, upTo: .tlsv12)
        let alice = try await loggedIn("alice", port: server.port, tls: current)
        try await alice.send("alice: over TLS 1.2")
        #expect(try await alice.readLine() == "from alice: over TLS 1.2")
    }

    /// A client that ends its input with a bare FIN and no close_notify (Python's ssl module, Go
    /// and many others can) still gets what is queued for it, as without TLS; it was closed at
    /// once with nothing (`uncleanShutdown`). Its unfinished last line is dropped, not sent: a
    /// FIN forged on the way could have cut it short.
    @Test func aClientThatEndsWithoutCloseNotifyStillGetsWhatIsQueuedForIt() async throws {
        let certificates = try await TestCertificates.shared.value
        let server = try await tlsServer(certificates)
        let client = try plainCloseClient(server, certificates, "alice", "bare-fin", "500")
        try await client.waitForStdoutLine { $0 == "closed" }
        let lines = client.stdout.split(separator: "\n").map(String.init)
        #expect(lines == (0..<500).map { "from alice: line \($0)" } + ["closed"])
        #expect(try await client.waitForExit() == 0)
    }

    /// A client that never answers the server's close_notify is closed when the server's own
    /// wait ends: NIOSSL waited 5 s more, which held a refused connection's place for 6 s instead
    /// of 1 and made a shutdown take 8 s instead of 3. Told apart by events, not a clock: in the
    /// server's log the refused client (1 s to leave) is gone before a connection made at its
    /// refusal is reset at its 3.5-second login timeout.
    @Test func aRefusedClientThatNeverAnswersCloseNotifyIsClosedAfterItsSecond() async throws {
        let certificates = try await TestCertificates.shared.value
        let server = try await tlsServer(certificates, ["--login-timeout", "3.5", "--log-level", "info"])
        let trusting = try TestCertificates.clientConfiguration(trusting: certificates.caCertificate)
        let alice = try await loggedIn("alice", port: server.port, tls: trusting)
        let refused = try plainCloseClient(server, certificates, "alice", "silent")
        defer { refused.terminate() }
        try await refused.waitForStdoutLine { $0.hasPrefix("error: ") }
        // Without a handshake, nothing can be said to it: reset at the login timeout.
        let reference = try await LineClient.connect(port: server.port)
        try await reference.waitUntilClosedByServer()
        try await server.child.waitForStderrLine { $0.contains("reason=no TLS handshake within") }
        let log = server.child.stderr.split(separator: "\n")
        let refusedGone = log.firstIndex { $0.contains("disconnected") && $0.contains("already online") }
        let referenceGone = log.firstIndex { $0.contains("disconnected") && $0.contains("no TLS handshake") }
        #expect(refusedGone != nil && referenceGone != nil && refusedGone! < referenceGone!, "\(log)")
        try await alice.send("alice: still here")
        #expect(try await alice.readLine() == "from alice: still here")
    }

    /// `Tests/Fixtures/tls_plain_close_client.py`: TLS over memory buffers, so that it can end
    /// the TCP stream itself, or never answer a close_notify.
    private func plainCloseClient(
        _ server: ServerProcess, _ certificates: TestCertificates, _ arguments: String...
    ) throws -> ChildProcess {
        try TestFixtures.python(
            "tls_plain_close_client.py", ["\(server.port)", certificates.caCertificate] + arguments)
    }

    private func tlsServer(_ certificates: TestCertificates, _ more: [String] = []) async throws
        -> ServerProcess
    {
        try await ServerProcess(
            arguments: ["--tls-cert", certificates.serverCertificate, "--tls-key", certificates.serverKey]
                + more)
    }
}
