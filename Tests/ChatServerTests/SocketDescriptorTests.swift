import NIOCore
import NIOPosix
import Testing

@testable import ChatServer

#if canImport(Glibc)
    import Glibc
#endif

/// The server writes to a plain connection's socket directly, with the descriptor it reads off
/// NIO's channel (`SocketDescriptor`). If a NIO upgrade changes where that lives, the server
/// still works, only slower: this suite is what says so.
@Suite struct SocketDescriptorTests {
    @Test func findsTheDescriptorOfAnAcceptedConnection() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let found = group.next().makePromise(of: CInt?.self)
        let listener = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                found.succeed(SocketDescriptor.of(channel))
                return channel.eventLoop.makeSucceededVoidFuture()
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let client = try await ClientBootstrap(group: group).connect(to: listener.localAddress!).get()
        let descriptor = try #require(try await found.futureResult.get())

        // The accepted end of this very connection.
        var peer = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &peer) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(descriptor, $0, &length) }
        }
        #expect(named == 0)
        #expect(Int(UInt16(bigEndian: peer.sin_port)) == client.localAddress?.port)
        // A listener has a descriptor too, but no peer to check it against: none.
        #expect(SocketDescriptor.of(listener) == nil)
        try await client.close()
        try await listener.close()
        try await group.shutdownGracefully()
    }
}
