/// One row of the scenario table: what the run does. `standard` is the default table;
/// `cluster` needs two servers and is run by name.
public struct Scenario: Sendable {
    public var name: String
    public var clients: Int
    public var messages: Int
    public var recipients: Int
    public var payloadBytes = 32
    public var rate: Double?
    public var slowReaders = 0
    public var senders: Int?
    public var floods = false
    public var readerRate: Double?
    /// Servers the scenario needs; nil runs it against as many as the bench was given.
    public var nodes: Int?
    /// Spawned servers get the cluster arguments (`--cluster URL`).
    public var isCluster = false
    /// The run's stall timeout is at least this: a scenario whose senders the server holds back
    /// until its own stall timeout (10 s) cuts a reader off must wait longer than that, or the
    /// run ends as stalled first (`slow-reader` did, 3 runs of 3, with both at 10 s).
    public var minimumStallTimeoutSeconds: Double?

    public static let standard: [Scenario] = [
        // Throughput against the reference figures.
        Scenario(name: "100x2000x1", clients: 100, messages: 2000, recipients: 1),
        Scenario(name: "100x2000x10", clients: 100, messages: 2000, recipients: 10),
        Scenario(name: "2000x50x2", clients: 2000, messages: 50, recipients: 2),
        // Latency at a steady 100,000 deliveries/s for five seconds.
        Scenario(name: "latency-100k/s", clients: 100, messages: 500, recipients: 10, rate: 100),
        // Memory per idle logged-in connection: log in, then nothing.
        Scenario(name: "idle-5000", clients: 5000, messages: 0, recipients: 1),
        Scenario(name: "10000-clients", clients: 10_000, messages: 20, recipients: 2),
        // One reader that never reads among senders of 1 KB messages addressed to it too.
        Scenario(
            name: "slow-reader", clients: 20, messages: 10_000, recipients: 1, payloadBytes: 1024,
            slowReaders: 1, minimumStallTimeoutSeconds: 30),
        // Flat scaling: 4,000,000 deliveries spread over ever more clients. Enough for each of
        // 10,000 clients to send 200 messages: with a quarter of that, the run lasts a few tenths
        // of a second and measures little but one burst of 10,000 first writes.
        Scenario(name: "flat-100", clients: 100, messages: 20_000, recipients: 2),
        Scenario(name: "flat-1000", clients: 1000, messages: 2000, recipients: 2),
        Scenario(name: "flat-10000", clients: 10_000, messages: 200, recipients: 2),
        // One sender floods 30,000 lines of 1 KB, without a window, at one reader that reads
        // 6 MB/s: the server must slow the sender down, not cut the reader off.
        Scenario(
            name: "flood-throttled", clients: 2, messages: 30_000, recipients: 1, payloadBytes: 1024,
            senders: 1, floods: true, readerRate: 6_000_000),
        // One message at a time to 1,000 recipients: how long until all of them have it. At 20
        // messages a second each has 50 ms to itself, twice what the slowest server here took.
        Scenario(
            name: "group-1000", clients: 1001, messages: 100, recipients: 1000, rate: 20, senders: 1),
    ]

    /// Two nodes of a cluster (`chat-server --cluster URL`), every client's recipient on the
    /// other node: client i is on node i mod 2, its recipient i+1 on the other.
    public static let cluster: [Scenario] = [
        Scenario(name: "cluster", clients: 100, messages: 2000, recipients: 1, nodes: 2, isCluster: true),
        // 100 clients × 100 messages/s: a steady 10,000 cross-node deliveries/s for five seconds.
        Scenario(
            name: "cluster-10k/s", clients: 100, messages: 500, recipients: 1, rate: 100, nodes: 2,
            isCluster: true),
    ]

    public static let all = standard + cluster

    public func configuration(basedOn base: BenchConfiguration) -> BenchConfiguration {
        var configuration = base
        configuration.clients = clients
        configuration.messages = messages
        configuration.recipients = recipients
        configuration.payloadBytes = payloadBytes
        configuration.rate = rate
        configuration.slowReaders = slowReaders
        configuration.senders = senders
        configuration.floods = floods
        configuration.readerRate = readerRate
        configuration.tag = ClientNames.freshTag()
        if let minimumStallTimeoutSeconds {
            configuration.stallTimeoutSeconds = max(base.stallTimeoutSeconds, minimumStallTimeoutSeconds)
        }
        return configuration
    }
}
