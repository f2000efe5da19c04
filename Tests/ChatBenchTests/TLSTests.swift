import ChatBench
import ChatTestSupport
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Testing

/// chat-bench over TLS. The server here is the real one behind a small TLS terminator started by
/// the test, with a certificate from a test-only CA (Tests/Fixtures/bench-tls, names 127.0.0.1,
/// ::1 and localhost).
@Suite struct TLSTests {
    static func fixture(_ name: String) -> String { TestFixtures.path("bench-tls/" + name) }

    func bench(_ arguments: [String]) async throws -> ChildProcess {
        let bench = try ChildProcess(ChildProcess.executable("chat-bench"), arguments)
        _ = try await bench.waitForExit(timeout: .seconds(60))
        return bench
    }

    @Test(arguments: ["127.0.0.1", "localhost"])
    func aRunOverTLSChecksEveryDelivery(host: String) async throws {
        let server = try await ServerProcess()
        let proxy = try TLSTerminator(backendPort: server.port)
        defer { proxy.close() }
        let bench = try await bench([
            "--host", host, "--port", "\(proxy.port)", "--tls-ca", Self.fixture("ca.pem"),
            "--clients", "10", "--messages", "100", "--recipients", "2",
        ])
        #expect(
            bench.stdout.contains("received 2000, lost 0, out-of-order 0"), "\(bench.stdout)\(bench.stderr)")
        #expect(bench.stdout.hasSuffix("result: PASS\n"))
    }

    @Test func aServerCertificateFromAnotherCAIsRefused() async throws {
        let server = try await ServerProcess()
        let proxy = try TLSTerminator(backendPort: server.port)
        defer { proxy.close() }
        let bench = try await bench([
            "--port", "\(proxy.port)", "--tls-ca", Self.fixture("other-ca.pem"), "--clients", "2",
        ])
        let status = try await bench.waitForExit()
        #expect(status == 2)
        #expect(
            bench.stderr
                == "chat-bench: TLS with 127.0.0.1:\(proxy.port): the server's certificate is not trusted (unknown authority, expired or not yet valid)\n"
        )
    }

    /// TLS to a server that speaks plain text: the handshake fails, in one line.
    @Test func aPlainServerIsNoTLSServer() async throws {
        let server = try await ServerProcess()
        let bench = try await bench(["--port", "\(server.port)", "--tls-ca", Self.fixture("ca.pem")])
        #expect(try await bench.waitForExit() == 2)
        #expect(
            bench.stderr
                == "chat-bench: TLS with 127.0.0.1:\(server.port): the server does not speak TLS\n"
        )
    }

    /// Plain text to a server that speaks TLS: its alert is no login answer, and the run says why.
    @Test func aTLSServerIsToldApartFromOneThatClosesTheLogin() async throws {
        let server = try await ServerProcess()
        let proxy = try TLSTerminator(backendPort: server.port)
        defer { proxy.close() }
        let bench = try await bench(["--port", "\(proxy.port)", "--clients", "2"])
        #expect(try await bench.waitForExit() == 2)
        #expect(bench.stderr == "chat-bench: 127.0.0.1:\(proxy.port) speaks TLS; run with --tls-ca\n")
    }

    @Test func aFileThatIsNoCertificateIsSaidSo() async throws {
        let bench = try await bench(["--tls-ca", "/etc/hostname", "--clients", "2"])
        #expect(try await bench.waitForExit() == 2)
        #expect(bench.stderr == "chat-bench: --tls-ca /etc/hostname holds no PEM certificate\n")
    }
}

/// Accepts TLS on a loopback port and relays each connection's bytes to and from a plain
/// connection to `backendPort`. Every channel lives on one event loop, so the relays need no
/// locks; it does no flow control, which the small runs here do not need.
final class TLSTerminator: Sendable {
    let port: Int
    private let group: MultiThreadedEventLoopGroup
    private let listener: any Channel

    init(backendPort: Int) throws {
        let certificate = try NIOSSLCertificate.fromPEMFile(TLSTests.fixture("server.pem"))
        let key = try NIOSSLPrivateKey(file: TLSTests.fixture("server-key.pem"), format: .pem)
        let context = try NIOSSLContext(
            configuration: .makeServerConfiguration(
                certificateChain: certificate.map { .certificate($0) }, privateKey: .privateKey(key)))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.group = group
        listener = try ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let relay = Relay()
                    try channel.pipeline.syncOperations.addHandlers(
                        NIOSSLServerHandler(context: context), relay)
                    ClientBootstrap(group: channel.eventLoop)
                        .connect(host: "127.0.0.1", port: backendPort)
                        .assumeIsolated()
                        .whenComplete { result in
                            switch result {
                            case .success(let backend):
                                let back = Relay()
                                back.partner = channel
                                try? backend.pipeline.syncOperations.addHandler(back)
                                relay.connect(to: backend)
                            case .failure:
                                channel.close(promise: nil)
                            }
                        }
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        port = listener.localAddress!.port!
    }

    func close() {
        try? listener.close().wait()
        try? group.syncShutdownGracefully()
    }

    /// Writes what one side reads to the other, holding it until the other side is there.
    final class Relay: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        var partner: (any Channel)?
        private var held: [ByteBuffer] = []

        func connect(to partner: any Channel) {
            self.partner = partner
            for buffer in held { partner.write(buffer, promise: nil) }
            partner.flush()
            held = []
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            if let partner { partner.writeAndFlush(buffer, promise: nil) } else { held.append(buffer) }
        }

        func channelInactive(context: ChannelHandlerContext) {
            partner?.close(promise: nil)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
