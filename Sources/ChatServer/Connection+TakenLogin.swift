import ChatProtocol
import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A login is free again as soon as its connection is gone, but a loop learns that its client has
/// gone only when it reads the end of its input. A client that closes and logs in again at once
/// can have the new login read first, by another loop or earlier in the same iteration: the
/// in-process test that does so 200 times in a row (`ServerLoginTests`, two loops) failed on
/// every run before this, and a Python client saw it once or twice in 5,000. So before a login
/// is refused as taken, its holder's loop reads what the holder's client sent and the loop has
/// not read yet, and takes it as NIO's read would have: its last lines, and the end of its
/// input, which frees the name if nothing is left to deliver to it. Only asking the holder's
/// loop, without that read, still failed that test on each of three runs with a flood keeping
/// the loops busy.
extension Connection {
    /// Later looks at a holder that seemed to be there. On a loaded machine the kernel can hand
    /// over the new connection before the old one's end, which it queued on another core.
    static let laterLooksAtHolder: [TimeAmount] = [.milliseconds(20), .milliseconds(100)]

    /// Asks the loop of the connection holding `key` to take what its client sent, then claims
    /// the name, or looks again later while it is still held. The connection is `claiming`.
    func lookAtHolder(of key: ByteBuffer, name: String, look: Int = 0) {
        let connection = NIOLoopBound(self, eventLoop: broker.eventLoop)
        broker.letHolderCatchUp(on: key) {
            connection.eventLoop.execute {
                let asker = connection.value
                guard asker.lifecycle.state == .claiming else { return }
                guard look < Self.laterLooksAtHolder.count, asker.broker.isOnlineHere(key) else {
                    return asker.claim(key, name: name)
                }
                asker.broker.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(
                    in: Self.laterLooksAtHolder[look]
                ) {
                    guard asker.lifecycle.state == .claiming else { return }
                    asker.lookAtHolder(of: key, name: name, look: look + 1)
                }
            }
        }
    }

    /// Enough for a client's last lines before it closed; a client still sending more than this
    /// is not about to be gone.
    static let catchUpReadBytes = 64 * 1024
    static let catchUpReads = 4

    /// Reads the socket, without waiting, up to its end or until nothing more is there, and
    /// takes what it read as if NIO had read it. Nothing with TLS (the bytes are the TLS
    /// handler's to read), nor while flow control holds the input back (the lines would wait
    /// anyway, and so the name with them). NIO, reading after this, finds nothing more, or the
    /// end of input again, which a connection already draining ignores.
    func takeUnreadInput() {
        guard let context, let socket, broker.configuration.tls == nil, !lifecycle.hasInputEnded else {
            return
        }
        for _ in 0..<Self.catchUpReads {
            guard lifecycle.takesInput, !lifecycle.isInputPaused else { return }
            var input = context.channel.allocator.buffer(capacity: Self.catchUpReadBytes)
            var failure: CInt = 0
            let count = input.writeWithUnsafeMutableBytes(minimumWritableBytes: Self.catchUpReadBytes) {
                space in
                let count = recv(socket.rawValue, space.baseAddress, space.count, CInt(MSG_DONTWAIT))
                if count < 0 { failure = errno }
                return max(0, count)
            }
            if count > 0 {
                channelRead(context: context, data: NIOAny(input))
            } else if failure == 0 {
                return takeEndOfInput()
            } else if failure == EAGAIN || failure == EWOULDBLOCK {
                return
            } else if failure != EINTR {
                // Reported here or never: the kernel clears a socket's error once it is read.
                return closeNow(reason: Wording.reason(errno: failure))
            }
        }
    }
}
