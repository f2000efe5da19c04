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
/// the loops busy; with the later looks below it passes without the read, but then 3 of the 5
/// names found held in three runs waited for the 20 ms look, and none of 9 with the read.
extension Connection {
    /// Later looks at a holder that seemed to be there. On a loaded machine the kernel can hand
    /// over the new connection before the old one's end, which it queued on another core.
    static let laterLooksAtHolder: [TimeAmount] = [.milliseconds(20), .milliseconds(100)]

    /// The name is held by a connection here: its holder's loop takes what the holder's client
    /// sent, then the name is claimed again; at once, then after each of `laterLooksAtHolder`,
    /// and refused only once those are used up. The connection is `claiming` meanwhile.
    func nameIsHeld(_ key: ByteBuffer, name: String, looksTaken: Int) {
        guard looksTaken <= Self.laterLooksAtHolder.count else { return refuseAsOnline(name) }
        perform(lifecycle.claimStarted())
        guard looksTaken > 0 else { return lookAtHolder(of: key, name: name, looksTaken: looksTaken) }
        broker.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(
            in: Self.laterLooksAtHolder[looksTaken - 1]
        ) {
            guard self.lifecycle.state == .claiming, !self.lifecycle.isServerStopping else { return }
            self.lookAtHolder(of: key, name: name, looksTaken: looksTaken)
        }
    }

    /// Cluster mode: how long a login found held on another server waits for that server's
    /// release before it is refused (`ClusterSettings.releaseWait`).
    var releaseWaitInCluster: TimeAmount {
        broker.configuration.cluster?.releaseWait ?? ClusterSettings.defaultReleaseWait
    }
    static let releaseWatchInterval: TimeAmount = .milliseconds(10)

    /// Cluster mode: the name is held on another server. A client that closed there and logged in
    /// here at once finds it held until that server's release reaches the database: 13 of 300
    /// such logins, alternating between two servers, were refused before this, and each got in
    /// 10 ms later. The registry is asked again once this server hears of a change that leaves
    /// the name free (the release's notification), or when `releaseWaitInCluster` is up.
    func nameIsHeldElsewhere(_ claim: ClaimInCluster, cluster: ClusterBridge) {
        var claimed = claim
        let deadline = claimed.deadline ?? .now() + releaseWaitInCluster
        claimed.deadline = deadline
        guard NIODeadline.now() < deadline else { return refuseAsOnline(claimed.name) }
        broker.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: Self.releaseWatchInterval) {
            guard self.lifecycle.state == .claiming, !self.lifecycle.isServerStopping else { return }
            let heard =
                cluster.node.membershipVersion != claimed.askedAt
                && cluster.node.location(of: claimed.key) == nil
            guard heard || NIODeadline.now() >= deadline else {
                return self.nameIsHeldElsewhere(claimed, cluster: cluster)
            }
            self.claimInCluster(
                claimed.key, name: claimed.name, cluster: cluster, looksTaken: claimed.looksTaken,
                waitingUntil: deadline)
        }
    }

    func refuseAsOnline(_ name: String) {
        refuseLogin(.loginTaken(name), because: "already online", login: name)
    }

    private func lookAtHolder(of key: ByteBuffer, name: String, looksTaken: Int) {
        broker.letCatchUp(broker.holder(of: key).map { [$0] } ?? []) {
            guard self.lifecycle.state == .claiming else { return }
            self.claim(key, name: name, looksTaken: looksTaken + 1)
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

/// A cluster claim on its way to the registry, and what it needs when the answer comes back.
struct ClaimInCluster {
    let key: ByteBuffer
    let name: String
    let looksTaken: Int
    /// The cluster's membership version when the registry was asked: a later one may carry the
    /// holder's release.
    let askedAt: Int
    /// When waiting for the holder's release ends, once it has begun.
    var deadline: NIODeadline?
}
