import ChatProtocol
import CoreMetrics
import NIOCore
import Prometheus
import Synchronization

/// Folds the event loops' plain counters (`ServerStatistics`) into swift-metrics counters and
/// gauges backed by a Prometheus registry of this server's own, once a second and before each
/// scrape. The loops pay one read of their counters per fold; nothing else leaves them.
final class MetricsPublisher: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let statistics: ServerStatistics
    /// Where folds run, one after another, so each sees the totals grow.
    private let loop: any EventLoop
    private let metrics: Metrics
    /// What the folds share, on `loop`.
    private let state: NIOLoopBoundBox<State>

    private struct State {
        /// The totals folded last time.
        var published = StatisticsSnapshot()
        /// The fold started last; the next one starts after it. Two at once could finish in the
        /// wrong order and count the difference between them twice.
        var lastFold: EventLoopFuture<Void>
    }
    /// Set by `stop`: no fold starts after it. Outside `state` because a scrape on another loop
    /// must be able to see it after `loop` itself has shut down.
    private let isStopped = Atomic<Bool>(false)

    init(statistics: ServerStatistics, loop: any EventLoop) {
        self.statistics = statistics
        self.loop = loop
        self.metrics = Metrics(factory: PrometheusMetricsFactory(registry: registry))
        self.state = NIOLoopBoundBox.makeBoxSendingValue(
            State(lastFold: loop.makeSucceededVoidFuture()), eventLoop: loop)
    }

    /// Folds every second. Cancel the returned task before `stop`: until cancelled it keeps
    /// firing (folding nothing once stopped) and keeps the publisher alive.
    func startPublishing(every interval: TimeAmount = .seconds(1)) -> RepeatedTask {
        loop.scheduleRepeatedAsyncTask(initialDelay: interval, delay: interval) { _ in
            self.publish(answeringOn: self.loop)
        }
    }

    /// Reads every loop's counters and folds what changed since last time, completing on
    /// `answerLoop`; once stopped, does nothing and touches no other loop, and the last fold
    /// stands.
    func publish(answeringOn answerLoop: any EventLoop) -> EventLoopFuture<Void> {
        guard !isStopped.load(ordering: .acquiring) else { return answerLoop.makeSucceededVoidFuture() }
        return fold().hop(to: answerLoop)
    }

    private func fold() -> EventLoopFuture<Void> {
        loop.flatSubmit {
            guard !self.isStopped.load(ordering: .relaxed) else { return self.loop.makeSucceededVoidFuture() }
            let fold = self.state.value.lastFold.recover { _ in }.flatMap {
                self.statistics.snapshot(on: self.loop).map { total in
                    self.metrics.fold(total, since: self.state.value.published)
                    self.state.value.published = total
                }
            }
            self.state.value.lastFold = fold
            return fold
        }
    }

    /// Starts no more folds and completes when the last one (the once-a-second one or a
    /// scrape's) is done. It must complete before the server's loops shut down: a fold reads
    /// every loop, and a read submitted to a loop that has shut down is a promise never kept (a
    /// crash in debug builds).
    func stop() -> EventLoopFuture<Void> {
        loop.flatSubmit {
            self.isStopped.store(true, ordering: .releasing)
            return self.state.value.lastFold.recover { _ in }
        }
    }

    /// The swift-metrics side: one counter or gauge per series, made up front so that every
    /// series is scraped from the start, at zero.
    private struct Metrics: Sendable {
        let connectionsOpen: CoreMetrics.Gauge
        let loginsOnline: CoreMetrics.Gauge
        let connections: CoreMetrics.Counter
        let bytesReceived: CoreMetrics.Counter
        let bytesSent: CoreMetrics.Counter
        let messagesReceived: CoreMetrics.Counter
        let deliveries: CoreMetrics.Counter
        let notices: [CoreMetrics.Counter]
        let cutOffs: [CoreMetrics.Counter]
        let sendersPaused: CoreMetrics.Counter
        let burstsShared: CoreMetrics.Counter
        let tlsHandshakeFailures: CoreMetrics.Counter
        let loginTimeouts: CoreMetrics.Counter
        let connectionsRefused: [CoreMetrics.Counter]

        init(factory: any MetricsFactory) {
            func counter(_ name: String, _ dimensions: [(String, String)] = []) -> CoreMetrics.Counter {
                CoreMetrics.Counter(label: "chat_" + name, dimensions: dimensions, factory: factory)
            }
            connectionsOpen = CoreMetrics.Gauge(label: "chat_connections_open", factory: factory)
            loginsOnline = CoreMetrics.Gauge(label: "chat_logins_online", factory: factory)
            connections = counter("connections_total")
            bytesReceived = counter("bytes_received_total")
            bytesSent = counter("bytes_sent_total")
            messagesReceived = counter("messages_received_total")
            deliveries = counter("deliveries_total")
            notices = Notice.Kind.allCases.map { counter("notices_total", [("kind", $0.label)]) }
            cutOffs = CutOffReason.allCases.map { counter("cut_offs_total", [("reason", $0.label)]) }
            sendersPaused = counter("senders_paused_total")
            burstsShared = counter("write_bursts_shared_total")
            tlsHandshakeFailures = counter("tls_handshake_failures_total")
            loginTimeouts = counter("login_timeouts_total")
            connectionsRefused = ConnectionCap.allCases.map {
                counter("connections_refused_total", [("cap", $0.label)])
            }
        }

        func fold(_ now: StatisticsSnapshot, since before: StatisticsSnapshot) {
            func add(_ counter: CoreMetrics.Counter, _ now: Int, _ before: Int) {
                if now > before { counter.increment(by: now - before) }
            }
            connectionsOpen.record(now.connectionsOpen)
            loginsOnline.record(now.loginsOnline)
            add(connections, now.connectionsOpened, before.connectionsOpened)
            add(bytesReceived, now.bytesReceived, before.bytesReceived)
            add(bytesSent, now.bytesSent, before.bytesSent)
            add(messagesReceived, now.messagesReceived, before.messagesReceived)
            add(deliveries, now.deliveries, before.deliveries)
            for (index, counter) in notices.enumerated() {
                add(counter, now.notices[index], before.notices[index])
            }
            for (index, counter) in cutOffs.enumerated() {
                add(counter, now.cutOffs[index], before.cutOffs[index])
            }
            add(sendersPaused, now.sendersPaused, before.sendersPaused)
            add(burstsShared, now.burstsShared, before.burstsShared)
            add(tlsHandshakeFailures, now.tlsHandshakeFailures, before.tlsHandshakeFailures)
            add(loginTimeouts, now.loginTimeouts, before.loginTimeouts)
            for (index, counter) in connectionsRefused.enumerated() {
                add(counter, now.connectionsRefused[index], before.connectionsRefused[index])
            }
        }
    }
}
