import ChatProtocol
import NIOCore

/// Flow control, the way TCP itself does it end to end: a connection whose queue is over the
/// soft limit is congested (its channel is not writable: the channel's write-buffer water marks
/// are the soft limit and the low-water mark), and a sender whose next line would feed a
/// congested queue stops being read from until that queue drains below the low-water mark. A fast
/// sender is so slowed to its slowest recipient's pace and nobody else is; only a queue that
/// takes nothing at all for the stall timeout is cut off, which releases whoever waited on it.
extension Connection {
    /// Stops taking input until the queue behind `gate` is relieved; the lines not yet taken
    /// wait in `heldLine` and `pendingInput`. If the gate opened meanwhile (its queue is on
    /// another loop), the lines are taken again at once.
    func wait(on gate: CongestionGate) {
        guard case .pauseInput = lifecycle.congested() else { return }
        perform(.pauseInput)
        broker.statistics.senderPaused()
        awaitedGate = gate
        if !gate.wait(NIOLoopBound(self, eventLoop: broker.eventLoop)) {
            broker.scheduleResume(of: self, waitingOn: gate)
        } else if let recheck = gate.recheckAfter {
            broker.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: recheck) {
                self.resumeInput(waitingOn: gate)
            }
        }
    }

    /// Follows the channel's writability: the channel turns unwritable above the soft limit and
    /// writable again below the low-water mark.
    func updateCongestion() {
        remeasureQueue()
        let congested = !(context?.channel.isWritable ?? true)
        guard congested != isCongested else { return }
        isCongested = congested
        broker.congestedCount += congested ? 1 : -1
        // Senders on other servers learn of it through the cluster.
        if lifecycle.state == .online, let login, let cluster = broker.cluster {
            cluster.node.setCongested(login, congested)
        }
        if congested {
            gate.setCongested(true)
            startStallMonitor()
        } else {
            stopStallMonitor()
            openGateUnlessHeldForBudget()
        }
    }

    /// The queue budget holds back the senders that feed this queue, wherever they are.
    func holdBackForBudget() {
        guard !isHoldingBackForBudget else { return }
        isHoldingBackForBudget = true
        gate.setCongested(true)
    }

    /// The queue budget no longer holds senders back on this queue's account.
    func stopHoldingBackForBudget() {
        isHoldingBackForBudget = false
        if !isCongested { openGateUnlessHeldForBudget() }
    }

    private func openGateUnlessHeldForBudget() {
        guard !isHoldingBackForBudget else { return }
        broker.open(gate)
    }

    /// Called for a sender whose awaited queue was relieved; a late call about a gate it no
    /// longer waits on is ignored.
    func resumeInput(waitingOn released: CongestionGate) {
        guard awaitedGate === released else { return }
        awaitedGate = nil
        perform(lifecycle.relieved())
    }

    /// Leaving for good: nobody waits on this connection any more, and it waits on nobody.
    func leaveFlowControl() {
        if isCongested {
            isCongested = false
            broker.congestedCount -= 1
        }
        isHoldingBackForBudget = false
        broker.open(gate)
        awaitedGate = nil
    }

    // MARK: Stalls

    func startStallMonitor() {
        guard lifecycle.takesInput else { return }
        stallMonitor = StallMonitor(
            taken: bytesTaken, now: .now(), timeout: broker.configuration.stallTimeout)
        scheduleStallCheck()
    }

    func stopStallMonitor() {
        stallCheck?.cancel()
        stallCheck = nil
        stallMonitor = nil
    }

    /// While the queue budget is exceeded, a reader that takes nothing of its queue for
    /// `timeout` (counted through moments back under within one episode) is cut off (or,
    /// already leaving, closed) without waiting for the stall timeout: the readers that read
    /// keep their share of the budget.
    func cutOffIfStalled(under timeout: TimeAmount, now: NIODeadline) {
        guard accountedQueueBytes > 0, lifecycle.state != .closed else {
            budgetStallMonitor = nil
            return
        }
        guard var monitor = budgetStallMonitor else {
            budgetStallMonitor = StallMonitor(taken: bytesTaken, now: now, timeout: timeout)
            return
        }
        guard monitor.isStalled(taken: bytesTaken, now: now) else {
            budgetStallMonitor = monitor
            return
        }
        budgetStallMonitor = nil
        let words = Wording.duration(timeout)
        guard lifecycle.takesInput else {
            // Leaving already (cut off, and counted then, or ending for any other reason) and
            // taking nothing of its last output: that output and its notice are given up, and a
            // reset frees at once the memory the kernel holds for the socket.
            logger.notice(
                "reset",
                metadata: ["reason": "queue budget exceeded; took nothing of its last output for \(words)"])
            return perform(
                lifecycle.lastOutputGivenUp(because: "took nothing of it while the queue budget was exceeded")
            )
        }
        logger.notice("cut off", metadata: ["reason": "queue budget exceeded; took nothing for \(words)"])
        countCutOff(.queueBudget)
        perform(lifecycle.cutOff(.stalled(words), reason: "stalled while the queue budget was exceeded"))
    }

    /// What the client has taken so far: the bytes it acknowledged, as the kernel counts them
    /// (under TLS too, in the one unit of the wire). What the kernel took from the server was the
    /// measure before, and is where the kernel does not say: Linux grows a send buffer to 4 MB
    /// and lets the server write again only once a third of it has drained, so a reader taking
    /// 40 KB/s all along was cut off by a 2-second stall timeout
    /// (`aReaderThatReadsSlowlyButSteadilyIsNotTakenForStalled`).
    var bytesTaken: Int {
        if let socket, context?.channel.isActive == true,
            let acknowledged = SocketDescriptor.bytesAcknowledged(by: socket.rawValue)
        {
            return Int(truncatingIfNeeded: acknowledged)
        }
        return bytesFlushed &- currentBytesInChannel()
    }

    private func scheduleStallCheck() {
        guard let interval = stallMonitor?.checkInterval else { return }
        stallCheck = broker.eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(in: interval) {
            self.checkForStall()
        }
    }

    private func checkForStall() {
        guard isCongested, lifecycle.takesInput, var monitor = stallMonitor else { return }
        if monitor.isStalled(taken: bytesTaken, now: .now()) {
            let timeout = Wording.duration(broker.configuration.stallTimeout)
            logger.notice("cut off", metadata: ["reason": "took nothing for \(timeout) with a full queue"])
            countCutOff(.stalled)
            return perform(
                lifecycle.cutOff(.stalled(timeout), reason: "stalled: took nothing for \(timeout)"))
        }
        stallMonitor = monitor
        scheduleStallCheck()
    }
}

/// Watches a congested queue for progress: the client taking any byte of it counts.
struct StallMonitor {
    let timeout: TimeAmount
    private var lastTaken: Int
    private var lastProgress: NIODeadline

    init(taken: Int, now: NIODeadline, timeout: TimeAmount) {
        self.timeout = timeout
        self.lastTaken = taken
        self.lastProgress = now
    }

    /// Often enough that a stall is noticed within a quarter of the timeout after it is due.
    var checkInterval: TimeAmount { .nanoseconds(max(timeout.nanoseconds / 4, 1_000_000)) }

    mutating func isStalled(taken: Int, now: NIODeadline) -> Bool {
        if taken != lastTaken {
            lastTaken = taken
            lastProgress = now
            return false
        }
        return now - lastProgress >= timeout
    }
}
