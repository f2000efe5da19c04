import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A loopback TCP proxy to the database that a test can cut, to put one node out of reach while
/// the others still see the database.
public final class TCPProxy: Sendable {
    public let port: Int
    private let listener: any Channel
    private let state = NIOLockedValueBox((isCut: false, open: [any Channel]()))

    public init(toPort target: Int) async throws {
        let state = self.state
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            // Nothing is read from a client before its connection to the database is glued on.
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { inbound in
                let refuse = state.withLockedValue { state in
                    if !state.isCut { state.open.append(inbound) }
                    return state.isCut
                }
                if refuse { return inbound.close() }
                return ClientBootstrap(group: inbound.eventLoop)
                    .connect(host: "127.0.0.1", port: target)
                    .flatMap { outbound in
                        state.withLockedValue { $0.open.append(outbound) }
                        return outbound.pipeline.addHandler(Glue(partner: inbound)).flatMap {
                            inbound.pipeline.addHandler(Glue(partner: outbound))
                        }.flatMap {
                            inbound.setOption(.autoRead, value: true)
                        }
                    }
            }
        listener = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
        port = listener.localAddress!.port!
    }

    /// Closes every connection through the proxy and refuses new ones until `restore`.
    public func cut() {
        let open = state.withLockedValue { state in
            state.isCut = true
            defer { state.open = [] }
            return state.open
        }
        for channel in open { channel.close(promise: nil) }
    }

    public func restore() {
        state.withLockedValue { $0.isCut = false }
    }

    public func close() async {
        cut()
        try? await listener.close()
    }
}

/// Copies what one channel reads to its partner, and closes the partner when it closes.
private final class Glue: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    let partner: any Channel

    init(partner: any Channel) {
        self.partner = partner
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        partner.writeAndFlush(unwrapInboundIn(data), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner.close(promise: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
