import ChatProtocol

/// What one connection has heard, to tell a refused login from any other close: the server
/// answers a login it refuses with a notice that refuses it (see `Notice.Kind.refusesLogin`) and
/// closes, says nothing to one it accepts, and closes for other reasons (shutting down, a reader
/// too slow) with other notices, at any moment. Neither the time nor the lines sent since the
/// login tell these apart: a paste sends messages right behind the login.
public struct LoginReplyWatch: Equatable, Sendable {
    private var refusal: Notice.Kind?
    private var otherLines = 0

    public init() {}

    /// A line from the server; notices are told apart by their kind.
    public mutating func heard(_ line: ServerLine) {
        if case .notice(let text) = line, let kind = Notice.kind(ofText: text), kind.refusesLogin {
            refusal = kind
        } else {
            otherLines += 1
        }
    }

    /// A line the client could not keep, which is no refusal either.
    public mutating func heardOtherLine() {
        otherLines += 1
    }

    /// The kind of refusal a close now answers a login with: refusals and nothing else were
    /// heard. Nil for any other close.
    public var refusalOnClose: Notice.Kind? { otherLines == 0 ? refusal : nil }
}
