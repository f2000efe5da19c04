import NIOCore

/// A login keeps the order in which its connection arrived among the latest earlier ones from the
/// same address (`ArrivalOrder`). Before it claims its name, each of them that is active and has
/// not read its login has its loop take what it has sent (which, for a script's closed
/// connection, logs it in, delivers its lines and logs it out again), once per look; and the
/// login waits while one of them is claiming the same name or is not yet active on its loop.
extension Connection {
    /// How long a login waits at most for an earlier one claiming the same name, counted from
    /// the start of its wait or, if later, the last time a connection from its address logged in
    /// under the name (`ArrivalOrder.earlierArrivals`): longer than a claim takes to be
    /// answered, a name found held included (the holder's looks here, the release wait in a
    /// cluster). The earlier one then has the name, or waits for a holder that stays, as the
    /// later one will, and they go on side by side: 1,000 connections racing for one name, each
    /// waiting for the one before to be refused, held the last for minutes. A script
    /// reconnecting faster than a loaded machine logs it in queues up: its logins go on waiting
    /// while the queue moves (counted from the start of the wait, the first to pass 3 s went on
    /// beside the others, which were then refused as online or reordered:
    /// `Tools/one-shot-logins.py`, 2,000 rounds, in 9 of 36 runs with a build on both cores, and
    /// in 6 of 7 with two spinning loops beside the build).
    var earlierClaimWaitLimit: TimeAmount { releaseWaitInCluster + .seconds(1) }

    /// `caughtUp`: earlier arrivals whose loops have already taken what they had sent.
    func claimInArrivalOrder(
        _ key: ByteBuffer, name: String, caughtUp: Set<UInt64> = [], since started: NIODeadline = .now()
    ) {
        guard let arrivals = broker.arrivals, let arrivalTicket else { return claim(key, name: name) }
        arrivalWaits &+= 1
        let wait = arrivalWaits
        let connection = NIOLoopBound(self, eventLoop: broker.eventLoop)
        let goOn: @Sendable (Set<UInt64>) -> Void = { caughtUp in
            connection.eventLoop.execute {
                let connection = connection.value
                guard connection.arrivalWaits == wait, connection.lifecycle.state == .claiming,
                    !connection.lifecycle.isServerStopping
                else { return }
                connection.claimInArrivalOrder(key, name: name, caughtUp: caughtUp, since: started)
            }
        }
        let (earlier, claimWaitEnds) = arrivals.earlierArrivals(
            before: arrivalTicket, claiming: key,
            claimWait: (since: started, limit: earlierClaimWaitLimit)
        ) { goOn(caughtUp) }
        let toCatchUp = earlier.filter {
            $0.claiming == nil && $0.connection != nil && !caughtUp.contains($0.ticket)
        }
        let mustWait = earlier.contains { $0.holdsBack(claimOf: key, claimsCount: claimWaitEnds != nil) }
        guard !toCatchUp.isEmpty || mustWait else {
            // Wake-ups still registered for this wait must not claim a second time.
            arrivalWaits &+= 1
            return claim(key, name: name)
        }
        perform(lifecycle.claimStarted())
        if toCatchUp.isEmpty {
            // Woken by the change it waits for; a timer only to end a wait for a claimer at the
            // limit. Looking every 5 ms, a script reconnecting every 3.5 ms on a loaded machine
            // had its logins queue up behind each other; every 100 ms, 10,000 of them queued up
            // did little else than look (`Tools/one-shot-logins.py`, two busy loops beside).
            if let claimWaitEnds, earlier.contains(where: { $0.claiming == key }) {
                broker.eventLoop.scheduleTask(deadline: claimWaitEnds) { goOn(caughtUp) }
            }
        } else {
            broker.letCatchUp(toCatchUp.compactMap(\.connectionAwaitingLogin)) {
                goOn(caughtUp.union(toCatchUp.map(\.ticket)))
            }
        }
    }
}

extension Connection {
    /// Later logins need not wait for this one once it is online; it tells them after the read
    /// that brought its login is taken: a script's closed connection has then ended too and
    /// freed the name, so the next login under it finds it free rather than a holder on its way
    /// out, which it would look at again only 20 ms later. (Telling them at the grant, under a
    /// loaded machine 1 to 2 of 5 runs of `Tools/one-shot-logins.py` had logins queue up behind
    /// each other past the 3-second wait, and 71 to 153 of 2,000 lines out of order.)
    func settleArrivalOnceReadIsTaken() {
        guard let arrivalTicket, let arrivals = broker.arrivals else { return }
        broker.eventLoop.execute { arrivals.settle(arrivalTicket, loggedIn: true) }
    }
}

extension ArrivalOrder.Arrival {
    /// The arrival's connection, on its loop, while it has not read its login (TLS connections
    /// only get their loop's turn from a catch-up).
    var connectionAwaitingLogin: Broker.ConnectionOnLoop? {
        connection.map { id in
            (
                loop,
                { [ticket] broker in
                    guard let connection = broker.connections[id], connection.arrivalTicket == ticket,
                        connection.lifecycle.state == .awaitingLogin
                    else { return nil }
                    return connection
                }
            )
        }
    }
}
