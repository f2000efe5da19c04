#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How a child process ended, from `waitpid`'s status.
public enum ChildExit: Sendable, Equatable, CustomStringConvertible {
    case status(Int32)
    case signal(Int32)

    public init(waitStatus: Int32) {
        self = waitStatus & 0x7f == 0 ? .status((waitStatus >> 8) & 0xff) : .signal(waitStatus & 0x7f)
    }

    /// `status 1`, `signal 9`: how error messages name it.
    public var description: String {
        switch self {
        case .status(let code): "status \(code)"
        case .signal(let signal): "signal \(signal)"
        }
    }

    /// As a shell reports it in `$?`: the code, or 128 plus the signal.
    public var shellStatus: Int32 {
        switch self {
        case .status(let code): code
        case .signal(let signal): 128 + signal
        }
    }
}
