import ChatProtocol
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// Where the metrics endpoint listens.
public struct MetricsEndpointConfiguration: Sendable {
    public var host: String
    /// 0 picks a free port; `ChatServer.metricsAddress` tells which.
    public var port: Int
    /// A connection that has not sent a whole request this long after it was accepted is
    /// closed, however slowly it keeps sending.
    public var requestTimeout: TimeAmount
    /// Connections open at once; more are closed as they come. A scraper needs one.
    public var maximumConnections: Int

    public init(
        host: String = "127.0.0.1", port: Int, requestTimeout: TimeAmount = .seconds(10),
        maximumConnections: Int = 32
    ) {
        self.host = host
        self.port = port
        self.requestTimeout = requestTimeout
        self.maximumConnections = maximumConnections
    }
}

/// `GET /metrics` in Prometheus's text format over HTTP/1.1, on the server's event loops. Any
/// other path is 404 and any other method on it 405. One request per connection, which must
/// come whole within the request timeout and 1 MiB; a request body over 4 KiB is refused; at
/// most `maximumConnections` at once. Clients that send a header line every few seconds, with
/// an idle timeout only and no cap, held 20,000 connections open: the server ran out of
/// descriptors (chat clients could no longer connect) and grew by 220 MiB.
final class MetricsEndpoint: Sendable {
    private let channel: any Channel
    private let publisher: MetricsPublisher
    private let publishing: RepeatedTask
    var localAddress: SocketAddress? { channel.localAddress }

    private init(channel: any Channel, publisher: MetricsPublisher) {
        self.channel = channel
        self.publisher = publisher
        self.publishing = publisher.startPublishing()
    }

    /// Nil when `configuration` is: the endpoint is off.
    static func start(
        _ configuration: MetricsEndpointConfiguration?,
        statistics: ServerStatistics,
        group: any EventLoopGroup,
        logger: Logger
    ) async throws -> MetricsEndpoint? {
        guard let configuration else { return nil }
        let publisher = MetricsPublisher(statistics: statistics, loop: group.next())
        let open = Atomic<Int>(0)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                guard open.add(1, ordering: .relaxed).newValue <= configuration.maximumConnections else {
                    open.subtract(1, ordering: .relaxed)
                    return channel.close()
                }
                channel.closeFuture.whenComplete { _ in open.subtract(1, ordering: .relaxed) }
                return channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(RequestLimits(timeout: configuration.requestTimeout))
                    try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                    try pipeline.addHandler(MetricsRequestHandler(publisher: publisher))
                }
            }
        let address = Wording.address(host: configuration.host, port: configuration.port)
        do {
            let channel = try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
            let endpoint = MetricsEndpoint(channel: channel, publisher: publisher)
            logger.info(
                "serving metrics",
                metadata: [
                    "address":
                        "\(Wording.address(host: configuration.host, port: channel.localAddress?.port ?? 0))"
                ])
            return endpoint
        } catch {
            throw ChatServerError(description: "cannot serve metrics on \(address): \(Wording.reason(error))")
        }
    }

    /// Stops serving and folding; folds under way, the once-a-second one or a scrape's, finish
    /// first. A scrape answered after this shows the last fold.
    func close() async {
        try? await channel.close()
        let cancelled = channel.eventLoop.makePromise(of: Void.self)
        publishing.cancel(promise: cancelled)
        try? await cancelled.futureResult.get()
        try? await publisher.stop().get()
    }
}

/// Answers one request, then closes the connection.
private final class MetricsRequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    static let maximumBodyBytes = 4096

    private let publisher: MetricsPublisher
    private var request: HTTPRequestHead?
    private var bodyBytes = 0
    private var answered = false

    init(publisher: MetricsPublisher) {
        self.publisher = publisher
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = head
        case .body(let body):
            bodyBytes += body.readableBytes
            if bodyBytes > Self.maximumBodyBytes {
                respond(context, .payloadTooLarge, "request body too large\n")
            }
        case .end:
            guard let request else { return }
            route(context, request)
        }
    }

    /// A request NIO could not parse has had its 400 (`configureHTTPServerPipeline`'s error
    /// handling) and is closed now; it was left open, holding one of the few connections the
    /// endpoint takes, until the request timeout, and a second read answered it again.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func route(_ context: ChannelHandlerContext, _ request: HTTPRequestHead) {
        guard Self.path(of: request.uri) == "/metrics" else {
            return respond(context, .notFound, "not found; metrics are at /metrics\n")
        }
        guard request.method == .GET else {
            return respond(context, .methodNotAllowed, "only GET\n", extraHeaders: [("Allow", "GET")])
        }
        answered = true
        let registry = publisher.registry
        publisher.publish(answeringOn: context.eventLoop).assumeIsolated().whenComplete { _ in
            // A fold that failed (the server is stopping) still leaves the last one to show.
            self.answered = false
            self.respond(
                context, .ok, String(decoding: registry.emitToBuffer(), as: UTF8.self),
                contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
    }

    /// The path of an origin-form (`/metrics?x`) or absolute-form (`http://host/metrics`) target.
    static func path(of target: String) -> Substring {
        var rest = Substring(target)
        if let scheme = rest.range(of: "://"), !rest[..<scheme.lowerBound].contains("/") {
            rest = rest[scheme.upperBound...]
            rest = rest.firstIndex(of: "/").map { rest[$0...] } ?? "/"
        }
        return rest.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
    }

    private func respond(
        _ context: ChannelHandlerContext,
        _ status: HTTPResponseStatus,
        _ body: String,
        contentType: String = "text/plain; charset=utf-8",
        extraHeaders: [(String, String)] = []
    ) {
        guard !answered else { return }
        answered = true
        var buffer = context.channel.allocator.buffer(capacity: body.utf8.count)
        buffer.writeString(body)
        let headers = HTTPHeaders(
            [
                ("Content-Type", contentType), ("Content-Length", "\(buffer.readableBytes)"),
                ("Connection", "close"),
            ] + extraHeaders)
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))),
            promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}

/// Bounds what a metrics connection may cost before its request is whole: it is closed at the
/// request timeout after it was accepted, or once it has sent 1 MiB, whichever comes first.
/// (A request is a few hundred bytes; headers sent slowly would otherwise be read forever.)
private final class RequestLimits: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    static let maximumBytes = 1024 * 1024

    private let timeout: TimeAmount
    private var deadline: Scheduled<Void>?
    private var received = 0

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            context.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received += unwrapInboundIn(data).readableBytes
        context.fireChannelRead(data)
        if received > Self.maximumBytes { context.close(promise: nil) }
    }
}
