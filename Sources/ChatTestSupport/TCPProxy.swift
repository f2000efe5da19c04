import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Synchronization

/// A loopback TCP proxy to the database that a test can cut, to put one node out of reach while
/// the others still see the database.
public final class TCPProxy: Sendable {
    public let port: Int
    private let listener: any Channel
    private let state = NIOLockedValueBox((isCut: false, open: [any Channel](), glues: [Glue]()))
    private let frozen = FreezeSwitch()

    /// `host`: where it listens; `::1` for a client that must come over IPv6.
    public init(toPort target: Int, listeningOn host: String = "127.0.0.1") async throws {
        let (state, frozen) = (self.state, self.frozen)
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
                        let glues = [
                            Glue(partner: inbound, frozen: frozen), Glue(partner: outbound, frozen: frozen),
                        ]
                        state.withLockedValue {
                            $0.open.append(outbound)
                            $0.glues += glues
                        }
                        return outbound.pipeline.addHandler(glues[0]).flatMap {
                            inbound.pipeline.addHandler(glues[1])
                        }.flatMap {
                            // Frozen: connected, but passing nothing until the thaw.
                            frozen.isOn
                                ? inbound.eventLoop.makeSucceededVoidFuture()
                                : inbound.setOption(.autoRead, value: true)
                        }
                    }
            }
        listener = try await bootstrap.bind(host: host, port: 0).get()
        port = listener.localAddress!.port!
    }

    /// Closes every connection through the proxy and refuses new ones until `restore`.
    public func cut() {
        let open = state.withLockedValue { state in
            state.isCut = true
            defer { (state.open, state.glues) = ([], []) }
            return state.open
        }
        for channel in open { channel.close(promise: nil) }
    }

    public func restore() {
        state.withLockedValue { $0.isCut = false }
    }

    /// Stops passing bytes either way, keeping every connection open and accepting new ones:
    /// what is sent meanwhile waits in the kernel's buffers, and goes on with `thaw`, as over a
    /// network that stalls.
    public func freeze() async {
        frozen.set(true)
        for channel in state.withLockedValue({ $0.open }) {
            try? await channel.setOption(.autoRead, value: false).get()
        }
    }

    public func thaw() async {
        frozen.set(false)
        let (open, glues) = state.withLockedValue { ($0.open, $0.glues) }
        for glue in glues { glue.passHeldBytes() }
        for channel in open { try? await channel.setOption(.autoRead, value: true).get() }
    }

    public func close() async {
        cut()
        try? await listener.close()
    }
}

/// Whether the proxy passes bytes: an object of its own, so that the glues read it without
/// holding the proxy's state, which holds them (that cycle leaked them, LeakSanitizer found).
private final class FreezeSwitch: Sendable {
    private let value = Atomic<Bool>(false)

    var isOn: Bool { value.load(ordering: .sequentiallyConsistent) }

    func set(_ on: Bool) { value.store(on, ordering: .sequentiallyConsistent) }
}

/// Copies what one channel reads to its partner, and closes the partner when it closes. While
/// the proxy is frozen it holds what it reads (a read already under way when reading stopped
/// still comes in) until `passHeldBytes`.
private final class Glue: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    let partner: any Channel
    private let frozen: FreezeSwitch
    /// What was read while frozen, and whether the channel closed after it: the partner gets
    /// both on the thaw, as a stalled network delivers what was sent before a close.
    private let held = NIOLockedValueBox((bytes: [ByteBuffer](), closed: false))

    init(partner: any Channel, frozen: FreezeSwitch) {
        self.partner = partner
        self.frozen = frozen
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        if !holds({ $0.bytes.append(bytes) }) { partner.writeAndFlush(bytes, promise: nil) }
    }

    /// While frozen, or while anything is held (so that order keeps), records `event` with what
    /// is held and returns true; otherwise false, and the caller passes it on at once.
    private func holds(_ event: (inout (bytes: [ByteBuffer], closed: Bool)) -> Void) -> Bool {
        held.withLockedValue { held in
            guard frozen.isOn || !held.bytes.isEmpty else { return false }
            event(&held)
            return true
        }
    }

    func passHeldBytes() {
        let (bytes, closed) = held.withLockedValue { held in
            defer { held = ([], false) }
            return held
        }
        for chunk in bytes { partner.writeAndFlush(chunk, promise: nil) }
        if closed { partner.close(promise: nil) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !holds({ $0.closed = true }) { partner.close(promise: nil) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
