#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A non-blocking pipe whose read end the UI loop polls: writing a byte wakes it. Signal handlers
/// write to it too, which is why it is a pipe and not a condition variable.
struct WakePipe: Sendable {
    let readDescriptor: CInt
    let writeDescriptor: CInt

    init?() {
        var descriptors: [CInt] = [-1, -1]
        guard pipe(&descriptors) == 0 else { return nil }
        for descriptor in descriptors {
            _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
            _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        }
        readDescriptor = descriptors[0]
        writeDescriptor = descriptors[1]
    }

    func wake() {
        var byte: UInt8 = 0
        // A full pipe already guarantees a wake-up.
        _ = write(writeDescriptor, &byte, 1)
    }

    func drain() {
        var bytes = [UInt8](repeating: 0, count: 256)
        while read(readDescriptor, &bytes, bytes.count) > 0 {}
    }

    func close() {
        closeDescriptor(readDescriptor)
        closeDescriptor(writeDescriptor)
    }
}

private func closeDescriptor(_ descriptor: CInt) {
    _ = close(descriptor)
}
