import SystemPackage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension FileDescriptor {
    /// Writes every byte of `bytes` or throws the `Errno` that stopped it. Like swift-system's
    /// `writeAll` it retries a write a signal interrupted; unlike it, it also waits for room when
    /// someone else made the descriptor non-blocking (a terminal or a pipe shared with another
    /// program may be), where `writeAll` would give up halfway through a line with EAGAIN.
    public func writeFully(_ bytes: UnsafeRawBufferPointer) throws {
        var rest = bytes
        while !rest.isEmpty {
            do {
                let written = try write(rest, retryOnInterrupt: true)
                rest = UnsafeRawBufferPointer(rebasing: rest[written...])
            } catch Errno.resourceTemporarilyUnavailable {
                var request = pollfd(fd: rawValue, events: Int16(POLLOUT), revents: 0)
                _ = poll(&request, 1, -1)
            }
        }
    }

    /// Writes `line` and a `\n` in one write where the descriptor takes it: a reader of a pipe
    /// (a script waiting for `listening on`, `grep --line-buffered`) sees each line at once and
    /// whole.
    public func writeLine(_ line: String) throws {
        var bytes = Array(line.utf8)
        bytes.append(UInt8(ascii: "\n"))
        try bytes.withUnsafeBytes { try writeFully($0) }
    }

    /// Reads to the end (or the first error other than EINTR), handing over each chunk as it
    /// arrives, then closes the descriptor.
    public func readToEndAndClose(_ onChunk: ([UInt8]) -> Void) {
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count =
                (try? chunk.withUnsafeMutableBytes { try read(into: $0, retryOnInterrupt: true) }) ?? 0
            guard count > 0 else { break }
            onChunk(Array(chunk[..<count]))
        }
        try? close()
    }
}

extension FileDescriptor {
    /// Sends as much of `bytes` as the socket takes right now, without waiting and without
    /// SIGPIPE, and returns how much that was: 0 when it takes nothing or fails, in which case
    /// the caller hands the bytes to whoever owns the socket's waiting and error handling.
    public func sendWithoutWaiting(_ bytes: UnsafeRawBufferPointer) -> Int {
        #if canImport(Glibc)
            let flags = CInt(MSG_NOSIGNAL) | CInt(MSG_DONTWAIT)
        #else
            let flags = MSG_DONTWAIT
        #endif
        return max(0, send(rawValue, bytes.baseAddress, bytes.count, flags))
    }
}
