import NIOCore
import Synchronization

/// The order in which connections arrived, for the logins of a script that reconnects at once.
///
/// A script that sends its login and lines, closes, and connects again without waiting for
/// anything has the whole of its first connection in the kernel before its second exists. With
/// several loops the two can still be read in either order: the second one's loop may be idle
/// while the first one's is busy. Its login was then taken first, and the first connection was
/// refused as online or its lines came after the second's (with two loops, 383 and 396 of 2,000
/// such rounds out of order, `Tools/one-shot-logins.py`; none with one loop, which reads its
/// sockets in the order they became readable). The listener stamps each connection with its
/// place in the accept queue; a login then first lets the latest earlier connections from the
/// same address take what they have sent, and waits for one of them that is claiming the same
/// name or is not yet active on its loop (`Connection+ArrivalOrder.swift`).
///
/// Only connections not yet logged in are here, so it holds no more than the server admits.
final class ArrivalOrder: Sendable {
    /// An earlier connection a login may have to let go first.
    struct Arrival: Sendable {
        let ticket: UInt64
        let loop: Int
        let address: String?
        /// Set once the connection is active on its loop.
        var connection: ObjectIdentifier?
        /// Set once its login line is read: the name it is claiming.
        var claiming: ByteBuffer?
        /// Later logins waiting for it to become active or to have its answer.
        fileprivate var waiters: [@Sendable () -> Void] = []
    }

    /// How many of the latest earlier arrivals from the same address a login looks at: a script's
    /// previous connection is among the last few, and a connection storm from one address does
    /// not make every login look at all of the others.
    static let earlierArrivalsLookedAt = 8

    private struct State {
        var nextTicket: UInt64 = 0
        /// Stamped by the listener and not yet taken by the connection's handler.
        var ticketsOfChannels: [ObjectIdentifier: UInt64] = [:]
        var arrivals: [UInt64: Arrival] = [:]
        var byAddress: [String: FromOneAddress] = [:]
    }

    private struct FromOneAddress {
        /// Of `arrivals`, in arrival order.
        var tickets: [UInt64] = []
        /// The name the latest connection from here to log in took, and when, while any from
        /// here are still waiting.
        var lastLogin: (name: ByteBuffer, at: NIODeadline)?
    }

    private let state = Mutex(State())
    private let loopIndices: [ObjectIdentifier: Int]

    init(loops: [any EventLoop]) {
        loopIndices = Dictionary(uniqueKeysWithValues: loops.enumerated().map { (ObjectIdentifier($1), $0) })
    }

    /// The listener accepted `channel`: called in accept order, before its loop sees it.
    func stamp(_ channel: any Channel) {
        let channelID = ObjectIdentifier(channel)
        let address = channel.remoteAddress?.ipAddress
        let ticket = state.withLock { state in
            let ticket = state.nextTicket
            state.nextTicket += 1
            state.ticketsOfChannels[channelID] = ticket
            state.arrivals[ticket] = Arrival(
                ticket: ticket, loop: loopIndices[ObjectIdentifier(channel.eventLoop)] ?? 0, address: address)
            if let address { state.byAddress[address, default: FromOneAddress()].tickets.append(ticket) }
            return ticket
        }
        // Whatever becomes of it, even a channel closed before its loop ever ran it. This can run
        // after the channel is freed and another one has its identifier, hence the ticket check.
        channel.closeFuture.whenComplete { _ in
            self.settle(ticket)
            self.state.withLock { state in
                if state.ticketsOfChannels[channelID] == ticket { state.ticketsOfChannels[channelID] = nil }
            }
        }
    }

    /// The ticket the listener gave `channel`, for its connection to keep.
    func ticket(of channel: any Channel) -> UInt64? {
        state.withLock { $0.ticketsOfChannels.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    /// The arrival's connection is active on its loop.
    func attach(_ ticket: UInt64, connection: ObjectIdentifier) {
        let waiters = state.withLock { state -> [@Sendable () -> Void] in
            state.arrivals[ticket]?.connection = connection
            defer { state.arrivals[ticket]?.waiters = [] }
            return state.arrivals[ticket]?.waiters ?? []
        }
        for wake in waiters { wake() }
    }

    /// The connection with `ticket` is claiming `name`: the latest earlier arrivals from its
    /// address that are not logged in yet, on any loop (one on this loop may be claiming), and
    /// when waiting for those claiming the same name ends, nil once it has. That wait lasts
    /// `claimWait.limit` from `claimWait.since` or, if later, from the last login under `name`
    /// from the address, so that a queue of them that moves is not cut. `wake` runs once the
    /// latest of them that holds the login back becomes active or settles: one older than that
    /// is waited for by it, or is looked at again then.
    func earlierArrivals(
        before ticket: UInt64, claiming name: ByteBuffer, claimWait: (since: NIODeadline, limit: TimeAmount),
        wake: @escaping @Sendable () -> Void
    ) -> (arrivals: [Arrival], claimWaitEnds: NIODeadline?) {
        state.withLock { state in
            guard var arrival = state.arrivals[ticket] else { return ([], nil) }
            arrival.claiming = name
            state.arrivals[ticket] = arrival
            guard let address = arrival.address, let fromThere = state.byAddress[address] else {
                return ([], nil)
            }
            let lastLogin = fromThere.lastLogin.flatMap { $0.name == name ? $0.at : nil }
            let ends = max(claimWait.since, lastLogin ?? claimWait.since) + claimWait.limit
            let claimsCount = NIODeadline.now() < ends
            let tickets = fromThere.tickets
            var earlier: [Arrival] = []
            var index = tickets.partitionPoint { $0 >= ticket }
            var watching = false
            while index > 0, earlier.count < Self.earlierArrivalsLookedAt {
                index -= 1
                guard let other = state.arrivals[tickets[index]] else { continue }
                earlier.append(other)
                if !watching, other.holdsBack(claimOf: name, claimsCount: claimsCount) {
                    state.arrivals[other.ticket]?.waiters.append(wake)
                    watching = true
                }
            }
            return (earlier, claimsCount ? ends : nil)
        }
    }

    /// The connection logged in (`loggedIn`), was refused or closed: later logins need not wait
    /// for it.
    func settle(_ ticket: UInt64, loggedIn: Bool = false) {
        let waiters = state.withLock { state -> [@Sendable () -> Void] in
            guard let arrival = state.arrivals.removeValue(forKey: ticket) else { return [] }
            if let address = arrival.address, var fromThere = state.byAddress.removeValue(forKey: address) {
                let index = fromThere.tickets.partitionPoint { $0 >= ticket }
                if index < fromThere.tickets.count, fromThere.tickets[index] == ticket {
                    fromThere.tickets.remove(at: index)
                }
                if loggedIn, let name = arrival.claiming { fromThere.lastLogin = (name, .now()) }
                if !fromThere.tickets.isEmpty { state.byAddress[address] = fromThere }
            }
            return arrival.waiters
        }
        for wake in waiters { wake() }
    }
}

extension ArrivalOrder.Arrival {
    /// Whether a later login claiming `name` has to wait for this arrival: it is not yet active
    /// on its loop (nothing of it has been read), or it is claiming the same name while such
    /// claims count.
    func holdsBack(claimOf name: ByteBuffer, claimsCount: Bool) -> Bool {
        connection == nil || (claimsCount && claiming == name)
    }
}

/// On the listener's pipeline, where accepted connections pass one at a time in the order the
/// kernel queued them.
final class ArrivalStamp: ChannelInboundHandler {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel

    private let arrivals: ArrivalOrder

    init(_ arrivals: ArrivalOrder) {
        self.arrivals = arrivals
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        arrivals.stamp(unwrapInboundIn(data))
        context.fireChannelRead(data)
    }
}

extension [UInt64] {
    /// The index of the first element for which `isAtOrPast` holds, in an array where it holds
    /// for a suffix.
    fileprivate func partitionPoint(_ isAtOrPast: (UInt64) -> Bool) -> Int {
        var low = 0
        var high = count
        while low < high {
            let middle = (low + high) / 2
            if isAtOrPast(self[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }
}
