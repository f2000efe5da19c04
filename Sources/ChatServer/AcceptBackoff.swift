import ChatProtocol
import Logging
import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// When accept fails for lack of descriptors (or memory), the listener stops asking for
/// connections for a moment instead of retrying at once, and says so at most once a second.
///
/// Hand-written because NIO's `AcceptBackoffHandler` only delays the next `read()`: the failed
/// accept leaves the listener registered for readability, and with connections waiting in the
/// backlog epoll reports it readable again at once. Measured with it under `prlimit
/// --nofile=100` and 150 waiting connections: about 20,000 failed accepts a second and 0.4 CPU
/// seconds in every 2. Switching the listener's `autoRead` off takes it out of epoll until the
/// pause is over.
final class AcceptBackoff: ChannelInboundHandler {
    typealias InboundIn = any Channel

    /// Short enough that people get in again soon after a flood ends, long enough that a
    /// listener out of descriptors costs nothing.
    static let pause = TimeAmount.milliseconds(100)

    private let logger: Logger
    private var failuresSinceLogged = 0
    private var lastLogged: NIODeadline?
    private var resumption: Scheduled<Void>?

    init(logger: Logger) {
        self.logger = logger
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let error = error as? IOError, Self.isLackOfResources(error.errnoCode) else {
            return context.fireErrorCaught(error)
        }
        noteFailure(error)
        guard resumption == nil else { return }
        _ = try? context.channel.syncOptions?.setOption(.autoRead, value: false)
        resumption = context.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: Self.pause) {
            self.resumption = nil
            _ = try? context.channel.syncOptions?.setOption(.autoRead, value: true)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        resumption?.cancel()
        resumption = nil
        context.fireChannelInactive()
    }

    private static func isLackOfResources(_ code: CInt) -> Bool {
        code == EMFILE || code == ENFILE || code == ENOBUFS || code == ENOMEM
    }

    private func noteFailure(_ error: IOError) {
        failuresSinceLogged += 1
        let now = NIODeadline.now()
        if let lastLogged, now - lastLogged < .seconds(1) { return }
        logger.error(
            "cannot accept connections",
            metadata: ["reason": "\(Wording.reason(error))", "failures": "\(failuresSinceLogged)"])
        failuresSinceLogged = 0
        lastLogged = now
    }
}
