import ChatProtocol
import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Carries out what `ConnectionLifecycle` decides: timers, pausing and resuming input, the
/// orderly drain, and letting go of everything once the channel is closed.
extension Connection {
    func shutDown() {
        perform(lifecycle.shutdown())
    }

    func closeNow(reason: String) {
        perform(lifecycle.failed(reason: reason))
    }

    func perform(_ action: ConnectionLifecycle.Action) {
        switch action {
        case .none:
            return
        case .armLoginTimer:
            let timeout = broker.configuration.loginTimeout
            loginTimer = broker.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: timeout) {
                let action = self.lifecycle.loginTimerFired(
                    after: Wording.duration(timeout), canBeTold: !self.awaitsTLSHandshake)
                if action != .none { self.broker.statistics.loginTimedOut() }
                self.perform(action)
            }
        case .disarmLoginTimer:
            loginTimer?.cancel()
            loginTimer = nil
        case .finishLogin:
            perform(.disarmLoginTimer)
            perform(.resumeInput)
        case .pauseInput:
            setReading(false)
        case .resumeInput:
            takePendingInput()
            if lifecycle.takesInput && !lifecycle.isInputPaused { setReading(true) }
            perform(lifecycle.inputProcessed())
        case .drain(let notice):
            drain(notice: notice)
        case .endOutput:
            context?.close(mode: .output, promise: nil)
        case .close:
            context?.close(promise: nil)
        case .abandon:
            // On the loop, so the option is set before the close.
            _ = (context?.channel as? any SocketOptionProvider)?.setSoLinger(linger(l_onoff: 1, l_linger: 0))
            context?.close(promise: nil)
        case .release:
            release()
        }
    }

    /// Frees the login and stops taking input at once, delivers what is already queued (and
    /// `notice`, if any), then ends the output. Input is still read, and thrown away, until the
    /// client closes its side too: closing a socket that has unread input sends a reset, and a
    /// reset can destroy the lines just delivered before the client reads them.
    private func drain(notice: Notice?) {
        logger.debug("draining", metadata: ["reason": "\(lifecycle.closeReason)"])
        // A login granted while its loop's mail was still being taken is in, already.
        if lifecycle.leavesBeforeLogin && login == nil { turnAway() }
        perform(.disarmLoginTimer)
        stopStallMonitor()
        broker.releaseLogin(of: self)
        // It will not log in now, or has: later logins from its address need not wait for it.
        if let arrivalTicket { broker.arrivals?.settle(arrivalTicket, loggedIn: login != nil) }
        leaveFlowControl()
        heldLine = nil
        pendingInput = ByteBuffer()
        guard let context else { return }
        // Read again, to drop what arrives: see above.
        setReading(true)
        // Past the queue limit if need be: a last notice is small, and it says why.
        if let notice {
            broker.statistics.noticeSent(notice)
            outbox.writeString(notice.line)
        }
        // Armed before the write, whose completion may close the channel at once.
        let timeout = drainTimeout
        drainTimer = context.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: timeout) {
            let action = self.lifecycle.drainTimerFired(after: Wording.duration(timeout))
            // Counted as a cut-off when its output is thrown away, not for a turned-away client
            // closed after its second.
            if action == .abandon { self.countCutOff(.drainTimeout) }
            self.perform(action)
        }
        let written = context.eventLoop.makePromise(of: Void.self)
        let last = outbox
        outbox = ByteBuffer()
        noteWritten(last.readableBytes)
        context.writeAndFlush(wrapOutboundOut(last), promise: written)
        remeasureQueue()
        written.futureResult.assumeIsolatedUnsafeUnchecked().whenComplete { _ in
            // NIO makes this a full close as soon as the input has ended as well.
            self.perform(self.lifecycle.outputWritten())
        }
    }

    /// Once per connection, under the first reason: a reader cut off for stalling that then runs
    /// out its drain timeout was one connection ended, not two.
    func countCutOff(_ reason: CutOffReason) {
        guard !isCountedAsCutOff else { return }
        isCountedAsCutOff = true
        broker.statistics.cutOff(reason)
    }

    /// The connection leaves without having logged in (refused at once or at its login, timed
    /// out, or gone before its login): nothing but its last notice is queued for it, so it stops
    /// counting against its address's cap now, and its client has a second to close before the
    /// server does (without a reset: `ConnectionLifecycle.drainTimerFired`). Counted until its
    /// client closed, a refused login held its address's place for the drain timeout, and a
    /// client that kept its socket open after the notice shut its own address out for 30 s. It
    /// still counts against the connection cap for that second, which bounds descriptors.
    private func turnAway() {
        drainTimeout = min(drainTimeout, Self.refusalDrainTimeout)
        leaveAddressCap()
    }

    private func leaveAddressCap() {
        guard countsAgainstAddressCap else { return }
        countsAgainstAddressCap = false
        admission.leaveAddressCap(from: peerAddress)
    }

    /// The channel is gone: let go of everything, so a closed connection costs nothing.
    private func release() {
        loginTimer?.cancel()
        loginTimer = nil
        drainTimer?.cancel()
        drainTimer = nil
        stopStallMonitor()
        broker.unregister(self)
        // Only a channel that became active was admitted, counted and logged as connected.
        let wasActive = isAdmitted
        leaveAddressCap()
        if wasActive {
            admission.leaveServerCap()
            broker.statistics.connectionClosed()
        }
        isAdmitted = false
        leaveFlowControl()
        heldLine = nil
        pendingInput = ByteBuffer()
        outbox = ByteBuffer()
        broker.accountQueue(from: accountedQueueBytes, to: 0)
        accountedQueueBytes = 0
        bytesInChannel = 0
        budgetStallMonitor = nil
        lastRecipients = nil
        if wasActive { logger.info("disconnected", metadata: ["reason": "\(lifecycle.closeReason)"]) }
        context = nil
        closePromise.succeed(())
    }

    private func setReading(_ reading: Bool) {
        _ = try? context?.channel.syncOptions?.setOption(.autoRead, value: reading)
    }
}
