import NIOCore

/// What the server writes: deliveries and notices.
public enum Wire {
    /// `from <sender>: <text>\n`, exactly as the tutorial formats it, in one write.
    @inlinable
    public static func writeDelivery(
        from sender: UnsafeRawBufferPointer,
        text: UnsafeRawBufferPointer,
        into buffer: inout ByteBuffer
    ) {
        let length = 5 + sender.count + 2 + text.count + 1
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { out in
            var offset = 0
            func append(_ bytes: UnsafeRawBufferPointer) {
                if bytes.count > 0 {
                    (out.baseAddress! + offset).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
                }
                offset += bytes.count
            }
            append(staticBytes("from "))
            append(sender)
            append(staticBytes(": "))
            append(text)
            out[offset] = UInt8(ascii: "\n")
            return length
        }
    }

    @inlinable
    static func staticBytes(_ text: StaticString) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount)
    }

    public static let noticePrefix = "error: "
}

/// Everything the server tells a person rather than delivers. The wording may change; the
/// `error: ` prefix may not.
public enum Notice: Equatable, Sendable {
    case lineTooLong(limit: Int)
    case invalidUTF8
    case loginRefused(Login.Refusal)
    case loginTaken(String)
    case recipientOffline(String)
    /// More recipients not online than the sender's queue has room to name one by one (how
    /// many more).
    case moreRecipientsOffline(Int)
    case missingColon
    case noRecipients
    case tooSlow
    /// Cut off for taking nothing from a full queue for the stall timeout (in words).
    case stalled(String)
    /// No login line within the login timeout (in words).
    case loginTimedOut(String)
    case shuttingDown
    /// Over the server's connection cap.
    case serverFull
    /// Over the per-address connection cap (the cap).
    case tooManyFromAddress(Int)
    /// Cluster mode: the login registry cannot be reached, so no login can be granted.
    case loginUnavailable
    /// Cluster mode: this server lost its lease, and with it every login it held.
    case leaseLost
    /// Cluster mode: the recipient (named) is on a server that cannot be reached now.
    case serverUnreachable(String)
    /// Cluster mode: the recipient (named) is on a server that is not taking messages fast enough.
    case serverBusy(String)
    /// Cluster mode: the message reached the server the recipient (named) was on just after they
    /// left it, before the sender's server heard they had gone.
    case recipientLeft(String)
    /// Cluster mode: the message reached the recipient's (named) server while they were still
    /// logging in there, before their connection took its place.
    case recipientArriving(String)

    public var text: String {
        switch self {
        case .lineTooLong(let limit):
            return "line longer than \(limit) bytes; it was discarded"
        case .invalidUTF8:
            return "line is not valid UTF-8; it was discarded"
        case .loginRefused(.empty):
            return "empty login; send your name as the first line"
        case .loginRefused(.tooLong):
            return "login longer than \(Login.maximumCharacters) characters or \(Login.maximumBytes) bytes"
        case .loginRefused(.firstLineTooLong):
            return
                "first line longer than \(Login.maximumLineBytes) bytes; send your name (at most \(Login.maximumCharacters) characters) as the first line"
        case .loginRefused(.forbiddenCharacter(let scalar)):
            return
                "login may not contain \(Self.describe(scalar)); use no ',', ':', spaces, control or invisible characters"
        case .loginRefused(.leadingMark(let scalar)):
            return
                "login may not start with a combining mark (\(Login.codePoint(scalar))); put it after a letter"
        case .loginRefused(.stackedMarks(let scalar)):
            return
                "login has too many marks on one letter (\(Login.codePoint(scalar))); at most \(Login.maximumMarksInARow), and never the same twice in a row"
        case .loginRefused(.notComposed(let character)):
            // In code points: what NFC makes of a character may be one scalar or two, and either
            // may be one that is drawn just like the other.
            let composed = Login.composed(character)
            return
                "login is not in composed form (Unicode NFC); send '\(composed)' as \(Login.codePoints(composed)), not \(Login.codePoints(character))"
        case .loginRefused(.mixedScripts(let first, let second)):
            return
                "login mixes scripts: \(Self.describe(first)) is \(Login.scriptName(of: first)), \(Self.describe(second)) is \(Login.scriptName(of: second)); write it in one script (Latin may go with one other, but not Greek or Cyrillic)"
        case .loginTaken(let name):
            return "login \(VisibleText.quoted(name)) is already online"
        case .recipientOffline(let name):
            return "\(VisibleText.quoted(name)) is not online"
        case .moreRecipientsOffline(let count):
            return count == 1
                ? "and 1 more recipient is not online (too many to name one by one)"
                : "and \(count) more recipients are not online (too many to name one by one)"
        case .missingColon:
            return "no ':' in line; write 'name1, name2: text'"
        case .noRecipients:
            return "no recipient before ':'; write 'name1, name2: text'"
        case .tooSlow:
            return "you are not reading fast enough; disconnecting"
        case .stalled(let timeout):
            return "you read nothing for \(timeout) while messages waited for you; disconnecting"
        case .loginTimedOut(let timeout):
            return "no login within \(timeout); disconnecting"
        case .shuttingDown:
            return "server is shutting down"
        case .serverFull:
            return "server is full; try again later"
        case .tooManyFromAddress(let cap):
            return "more than \(cap) connections from your address; try again later"
        case .loginUnavailable:
            return "cannot log in now: the servers' login registry cannot be reached; try again shortly"
        case .leaseLost:
            return "this server lost touch with the others; log in again"
        case .serverUnreachable(let name):
            return
                "\(VisibleText.quoted(name)) is on another server that cannot be reached now; not delivered"
        case .serverBusy(let name):
            return "\(VisibleText.quoted(name)) is on another server that is falling behind; not delivered"
        case .recipientLeft(let name):
            return "\(VisibleText.quoted(name)) disconnected before your message reached them; not delivered"
        case .recipientArriving(let name):
            return
                "\(VisibleText.quoted(name)) was still logging in when your message reached them; not delivered"
        }
    }

    /// The whole line, ready for the wire.
    public var line: String { Wire.noticePrefix + text + "\n" }

    /// The common cases in words; anything else that cannot be shown as itself by its code point.
    static func describe(_ scalar: Unicode.Scalar) -> String {
        switch scalar {
        case " ": return "a space"
        case "\t": return "a tab"
        default:
            if Login.isInvisible(scalar) || scalar.properties.isWhitespace || Login.isMark(scalar) {
                return Login.codePoint(scalar)
            }
            return "'\(scalar)'"
        }
    }
}

/// A line the server sent, as a client sees it.
public enum ServerLine: Equatable, Sendable {
    case message(from: String, text: String)
    case notice(String)
    /// Anything else; a client shows it as it is.
    case other(String)

    public static func parse(_ line: String) -> ServerLine {
        if line.hasPrefix(Wire.noticePrefix) {
            return .notice(String(line.dropFirst(Wire.noticePrefix.count)))
        }
        // A login holds no ':', so the first ": " after "from " ends the sender.
        guard line.hasPrefix("from ") else { return .other(line) }
        let afterFrom = line.utf8.dropFirst(5)
        guard let colon = afterFrom.firstIndex(of: UInt8(ascii: ":")),
            line.utf8[line.utf8.index(after: colon)...].first == UInt8(ascii: " ")
        else { return .other(line) }
        let sender = String(line[afterFrom.startIndex..<colon])
        let text = String(line[line.utf8.index(colon, offsetBy: 2)...])
        return sender.isEmpty ? .other(line) : .message(from: sender, text: text)
    }
}
