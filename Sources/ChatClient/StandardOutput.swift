import ChatProtocol
import NIOCore
import SystemPackage
import SystemSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The reader of our output went away (EPIPE): there is nobody left to tell anything.
public struct OutputClosed: Error {}

/// Output could not be written for another reason (a full disk, say). Kept apart from the
/// socket's errors, which a caller reports as a lost connection.
public struct OutputFailure: Error, CustomStringConvertible {
    public let errnoCode: CInt

    public var description: String { "cannot write output: \(Wording.reason(errno: errnoCode))" }
}

/// Unbuffered writes to stdout or stderr: every line reaches the reader as soon as it is written,
/// which is what `| grep --line-buffered` and tests waiting for a line need.
public struct OutputStream: Sendable {
    public let descriptor: CInt

    public static let standardOutput = OutputStream(descriptor: STDOUT_FILENO)
    public static let standardError = OutputStream(descriptor: STDERR_FILENO)

    /// Writes `line` and a `\n` in one go.
    public func writeLine(_ line: ByteBuffer) throws {
        var whole = ByteBuffer()
        whole.reserveCapacity(line.readableBytes + 1)
        whole.writeImmutableBuffer(line)
        whole.writeInteger(UInt8(ascii: "\n"))
        try whole.withUnsafeReadableBytes { try write($0) }
    }

    public func writeLine(_ line: String) throws {
        try writeLine(ByteBuffer(string: line))
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        do {
            try FileDescriptor(rawValue: descriptor).writeFully(bytes)
        } catch Errno.brokenPipe {
            throw OutputClosed()
        } catch let error as Errno {
            throw OutputFailure(errnoCode: error.rawValue)
        }
    }
}
