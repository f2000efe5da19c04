import NIOCore
import SystemPackage
import SystemSupport

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Addresses and system errors as the server, the client and the bench put them into words, so
/// that all three say the same thing the same way.
public enum Wording {
    /// `host:port`, with an IPv6 host in brackets so that the port after the last `:` is
    /// unambiguous.
    public static func address(host: String, port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// A short reason for `error`, worded like `strerror` but in lower case to fit mid-sentence:
    /// "connection refused", not a dump of NIO's error structure.
    public static func reason(_ error: any Error) -> String {
        switch error {
        case let error as IOError:
            return reason(errno: error.errnoCode)
        case let error as SocketAddressError.UnknownHost:
            return resolutionFailure(code: error.errorCode, description: error.errorDescription)
        case let error as ChannelError:
            switch error {
            case .connectTimeout: return "timed out"
            case .ioOnClosedChannel, .alreadyClosed, .outputClosed: return "connection closed"
            default: return "\(error)"
            }
        default:
            return "\(error)"
        }
    }

    public static func reason(errno code: CInt) -> String {
        Errno(rawValue: code).words
    }

    /// Why `getaddrinfo` found no address, from its error code and `gai_strerror`'s text.
    public static func resolutionFailure(code: Int, description: String) -> String {
        guard CInt(truncatingIfNeeded: code) != EAI_NONAME else { return "unknown host" }
        return "cannot resolve host: " + lowercasingFirst(description)
    }

    /// A timeout as people say it: "30 seconds", "1 second", "250 ms".
    public static func duration(_ amount: TimeAmount) -> String {
        let milliseconds = amount.nanoseconds / 1_000_000
        guard milliseconds % 1000 == 0 else { return "\(milliseconds) ms" }
        let seconds = milliseconds / 1000
        return seconds == 1 ? "1 second" : "\(seconds) seconds"
    }

    /// A wait still to come, as a countdown shows it: "4 s", or under a second "0.3 s", so a
    /// wait of a fraction of a second is not announced as a whole one. A wait said once rather
    /// than counted down has tenths up to `wholeSecondsFrom` ("1.2 s"), for the same reason.
    /// See `countdownTenths`.
    public static func countdown(_ remaining: Duration, wholeSecondsFrom: Int64 = 1) -> String {
        let tenths = countdownTenths(remaining, wholeSecondsFrom: wholeSecondsFrom)
        return tenths % 10 == 0 ? "\(tenths / 10) s" : "\(tenths / 10).\(tenths % 10) s"
    }

    /// What `countdown` shows, in tenths of a second: rounded up, to whole seconds from
    /// `wholeSecondsFrom` on, so it never shows 0 while the wait lasts nor promises less than is
    /// left.
    public static func countdownTenths(_ remaining: Duration, wholeSecondsFrom: Int64 = 1) -> Int64 {
        guard remaining > .zero else { return 1 }
        let (seconds, attoseconds) = remaining.components
        let attosecondsPerTenth: Int64 = 100_000_000_000_000_000
        let tenths = seconds * 10 + (attoseconds + attosecondsPerTenth - 1) / attosecondsPerTenth
        return tenths > wholeSecondsFrom * 10 ? (tenths + 9) / 10 * 10 : tenths
    }

    private static func lowercasingFirst(_ text: String) -> String {
        text.prefix(1).lowercased() + text.dropFirst()
    }
}
