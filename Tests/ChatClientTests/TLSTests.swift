import ChatServer
import ChatTestSupport
import Foundation
import Testing

/// `--tls` against a TLS server made in the test (TLS in front of the test server), with
/// certificates made by openssl: verified chat; and every way verification fails is one clear
/// error, exit status 1 in plain mode, a status line and remarks in full screen, and never a
/// line sent in plain text.
@Suite(.serialized) struct TLSTests {
    private func startClient(_ arguments: [String]) throws -> ChildProcess {
        try ChildProcess(ChildProcess.executable("chat-client"), ["--plain"] + arguments)
    }

    @Test func aVerifiedServerCarriesTheChat() async throws {
        let certificates = try await TestCertificates.shared.value
        let server = try await startTestServer()
        let front = try await Front(
            certificate: certificates.serverCertificate, key: certificates.serverKey, backendPort: server.port
        )
        let bob = try await LineClient.connect(port: server.port)
        try await bob.send("bob")
        for host in ["localhost", "127.0.0.1"] {
            let client = try startClient([
                "--tls-ca", certificates.caCertificate, "--host", host, "--port", "\(front.port)", "alice",
            ])
            try await waitUntilOnline(server, count: 2)
            try await bob.send("alice: over TLS to \(host)")
            try await client.waitForStdoutLine { $0 == "from bob: over TLS to \(host)" }
            try client.write("bob: and back\n")
            #expect(try await bob.readLine() == "from alice: and back")
            // End of input still drains: the half-close crosses TLS.
            try client.write("alice: last\n")
            try client.closeStdin()
            #expect(try await client.waitForExit() == 0)
            #expect(client.stdout.hasSuffix("from alice: last\n"))
            #expect(client.stderr == "")
            try await waitUntilOnline(server, count: 1)
        }
        await bob.close()
        await front.close()
        await server.shutdown()
    }

    /// Without `--tls`, a TLS server's answer (an alert, to the login it took for a handshake)
    /// is said for what it is, not printed as a line of the chat with exit status 0.
    @Test func aPlainClientToATLSServerIsToldToUseTLS() async throws {
        let certificates = try await TestCertificates.shared.value
        let server = try await startTestServer()
        let front = try await Front(
            certificate: certificates.serverCertificate, key: certificates.serverKey, backendPort: server.port
        )
        let client = try startClient(["--port", "\(front.port)", "alice"])
        #expect(try await client.waitForExit() == 1)
        #expect(client.stdout == "")
        #expect(
            client.stderr
                == "chat-client: cannot chat with 127.0.0.1:\(front.port): the server speaks TLS; connect with --tls (or --tls-ca)\n"
        )
        await front.close()
        await server.shutdown()
    }

    /// Runs a plain-mode client that must fail, and checks that the server never saw a login.
    private func expectRefusal(
        _ arguments: [String], server: ChatServer, reason: (String) -> Bool
    ) async throws {
        let client = try startClient(arguments + ["alice"])
        try client.write("bob: never in plain text\n")
        #expect(try await client.waitForExit() == 1)
        let lines = client.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(client.stderr)")
        let prefix = "chat-client: cannot connect securely to "
        #expect(client.stderr.hasPrefix(prefix) || client.stderr.hasPrefix("chat-client: cannot connect to "))
        #expect(reason(client.stderr), "\(client.stderr)")
        #expect(client.stdout == "")
        #expect(try await server.onlineCount() == 0)
    }

    @Test func aCertificateFromAnotherCAIsRefused() async throws {
        let certificates = try await TestCertificates.shared.value
        let server = try await startTestServer()
        let front = try await Front(
            certificate: certificates.serverCertificate, key: certificates.serverKey, backendPort: server.port
        )
        try await expectRefusal(
            [
                "--tls-ca", certificates.otherCACertificate, "--host", "localhost", "--port", "\(front.port)",
                "--reconnect",
            ],
            server: server
        ) {
            $0.hasSuffix(
                ": the server's certificate is not trusted (unknown authority, expired or not yet valid)\n")
        }
        // Without --tls-ca, the system's roots do not know the test CA either.
        try await expectRefusal(["--tls", "--host", "localhost", "--port", "\(front.port)"], server: server) {
            $0.contains("not trusted")
        }
        await front.close()
        await server.shutdown()
    }

    @Test func aCertificateForAnotherNameIsRefused() async throws {
        let certificates = try await TestCertificates.shared.value
        let server = try await startTestServer()
        let elsewhere = try await Front(
            certificate: certificates.elsewhereCertificate, key: certificates.serverKey,
            backendPort: server.port)
        try await expectRefusal(
            ["--tls-ca", certificates.caCertificate, "--host", "localhost", "--port", "\(elsewhere.port)"],
            server: server
        ) {
            $0
                == "chat-client: cannot connect securely to localhost:\(elsewhere.port): the server's certificate is not for localhost\n"
        }
        // An address is checked against the certificate's addresses, not its names.
        let nameOnly = try await Front(
            certificate: certificates.nameOnlyCertificate, key: certificates.serverKey,
            backendPort: server.port)
        try await expectRefusal(
            ["--tls-ca", certificates.caCertificate, "--host", "127.0.0.1", "--port", "\(nameOnly.port)"],
            server: server
        ) { $0.hasSuffix("the server's certificate is not for 127.0.0.1\n") }
        await elsewhere.close()
        await nameOnly.close()
        await server.shutdown()
    }

    @Test func aPlainTextServerIsRefused() async throws {
        let certificates = try await TestCertificates.shared.value
        let server = try await startTestServer()
        try await expectRefusal(
            ["--tls-ca", certificates.caCertificate, "--port", "\(server.port)", "--connect-timeout", "1"],
            server: server
        ) {
            $0.hasSuffix("the server does not speak TLS\n") || $0.hasSuffix("the server may not speak TLS\n")
        }
        await server.shutdown()
    }

    /// A server that offers only TLS 1.1 (RFC 8996 retired it) is refused before the login goes
    /// out.
    @Test func aServerOfferingOnlyTLS11IsRefused() async throws {
        let certificates = try await TestCertificates.shared.value
        let server = try ChildProcess(
            URL(fileURLWithPath: "/usr/bin/env"),
            [
                "openssl", "s_server", "-accept", "127.0.0.1:0", "-tls1_1", "-cipher", "ALL:@SECLEVEL=0",
                "-cert", certificates.serverCertificate, "-key", certificates.serverKey,
            ])
        defer { server.terminate() }
        let accepting = try await server.waitForStdoutLine { $0.hasPrefix("ACCEPT ") }
        let port = try #require(accepting.split(separator: ":").last.map(String.init))
        // This machine's openssl does speak TLS 1.1 (some builds and crypto policies cannot, and
        // then every handshake would fail whatever the client allowed).
        let old = try TestCertificates.clientConfiguration(
            trusting: certificates.caCertificate, upTo: .tlsv11)
        let probe = try await LineClient.connect(port: Int(port)!, tls: old)
        try await probe.send("over TLS 1.1")
        try await server.waitForStdoutLine { $0 == "over TLS 1.1" }
        await probe.close()
        let client = try startClient(["--tls-ca", certificates.caCertificate, "--port", port, "alice"])
        #expect(try await client.waitForExit() == 1)
        #expect(client.stderr.contains("the TLS handshake failed"), "\(client.stderr)")
        #expect(!server.stdout.contains("alice"), "\(server.stdout)")
    }

    @Test func aCAFileThatCannotBeUsedIsSaidBeforeConnecting() async throws {
        let missing = try startClient(["--tls-ca", "/nonexistent/ca.pem", "--port", "1", "alice"])
        #expect(try await missing.waitForExit() == 1)
        #expect(
            missing.stderr
                == "chat-client: cannot read --tls-ca /nonexistent/ca.pem: no such file or directory\n")
        let notPEM = try startClient(["--tls-ca", "/etc/hostname", "--port", "1", "alice"])
        #expect(try await notPEM.waitForExit() == 1)
        #expect(notPEM.stderr == "chat-client: --tls-ca /etc/hostname holds no PEM certificate\n")
    }

    @Test func theFullScreenSaysSoInItsStatusLineAndStops() async throws {
        let certificates = try await TestCertificates.shared.value
        let server = try await startTestServer()
        let front = try await Front(
            certificate: certificates.serverCertificate, key: certificates.serverKey, backendPort: server.port
        )
        let client = ChildProcess.executable("chat-client").path
        let tmux = try TmuxSession(
            command: "\(client) --no-timestamps --tls-ca \(certificates.otherCACertificate) --host localhost "
                + "--port \(front.port) --reconnect-delay 0.1 alice")
        defer { tmux.kill() }
        // Stopped, not counting down to another try. (The reason is long: the address is left out.)
        let status = " alice | disconnected: the server's certificate"
        let screen = try await tmux.waitForScreen("the stopped status line") {
            $0.count > 22 && $0[22].hasPrefix(status)
        }
        #expect(
            screen.contains {
                $0.hasPrefix(
                    "-- cannot connect securely to localhost:\(front.port): the server's certificate is")
            })
        #expect(screen.contains("-- nothing was sent; /reconnect tries again"))
        // Nothing reached the server.
        #expect(try await server.onlineCount() == 0)
        await front.close()
        await server.shutdown()
    }
}
