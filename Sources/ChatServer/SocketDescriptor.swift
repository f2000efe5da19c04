import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The descriptor of an accepted connection's socket, so that the broker can write to it
/// without going through the channel (see `Connection.flushOutbox`), and ask the kernel what the
/// client has acknowledged (see `Connection.bytesTaken`).
///
/// NIO does not show a channel's descriptor, so it is read off the channel by reflection: the
/// `descriptor` of its `socket`. That is NIO's private layout, so the descriptor found is only
/// trusted if the socket it names has the channel's own two addresses; anything else (another
/// NIO version, a channel that is not a plain socket) gives nil, and the connection writes
/// through the channel as before, and judges stalls by what the kernel took from it. About 9 µs
/// per connection.
enum SocketDescriptor {
    static func of(_ channel: any Channel) -> CInt? {
        guard let socket = field("socket", of: channel),
            let descriptor = field("descriptor", of: socket) as? CInt,
            let local = channel.localAddress, let remote = channel.remoteAddress,
            address(of: descriptor, getsockname) == local,
            address(of: descriptor, getpeername) == remote
        else { return nil }
        return descriptor
    }

    /// Every byte the peer has acknowledged on this socket (`tcpi_bytes_acked` of `TCP_INFO`,
    /// Linux 4.1 and later), or nil where the kernel does not say. glibc's `struct tcp_info`
    /// ends before that field, so it is read at its offset in the kernel's, a layout that only
    /// ever grows at its end; the kernel says how much it filled in.
    static func bytesAcknowledged(by descriptor: CInt) -> UInt64? {
        #if os(Linux)
            let offset = 120
            let capacity = 256
            return withUnsafeTemporaryAllocation(byteCount: capacity, alignment: 8) { info in
                var length = socklen_t(capacity)
                guard getsockopt(descriptor, CInt(IPPROTO_TCP), TCP_INFO, info.baseAddress, &length) == 0,
                    Int(length) >= offset + 8
                else { return nil }
                return info.load(fromByteOffset: offset, as: UInt64.self)
            }
        #else
            return nil
        #endif
    }

    private static func field(_ label: String, of object: Any) -> Any? {
        var mirror: Mirror? = Mirror(reflecting: object)
        while let current = mirror {
            if let child = current.children.first(where: { $0.label == label }) { return child.value }
            mirror = current.superclassMirror
        }
        return nil
    }

    private static func address(
        of descriptor: CInt,
        _ query: (CInt, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> CInt
    ) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        return withUnsafeMutableBytes(of: &storage) { raw -> SocketAddress? in
            let base = raw.baseAddress!
            guard query(descriptor, base.assumingMemoryBound(to: sockaddr.self), &length) == 0 else {
                return nil
            }
            switch Int32(base.assumingMemoryBound(to: sockaddr.self).pointee.sa_family) {
            case AF_INET: return SocketAddress(base.load(as: sockaddr_in.self))
            case AF_INET6: return SocketAddress(base.load(as: sockaddr_in6.self))
            default: return nil
            }
        }
    }
}
