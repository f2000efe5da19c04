import ChatProtocol

/// What one connection has heard, to tell a refused login from any other close: the server
/// answers a login it refuses with a notice that refuses it (see `Notice.Kind.refusesLogin`) and
/// closes, says nothing to one it accepts, and closes for other reasons (shutting down, a reader
/// too slow) with other notices, at any moment. Neither the time nor the lines sent since the
/// login tell these apart: a paste sends messages right behind the login.
struct LoginReplyWatch: Equatable, Sendable {
    private var refusals = 0
    private var otherLines = 0

    /// A line from the server; notices are told apart by their kind.
    mutating func heard(_ line: ServerLine) {
        if case .notice(let text) = line, Notice.refusesLogin(text: text) {
            refusals += 1
        } else {
            otherLines += 1
        }
    }

    /// A line the client could not keep, which is no refusal either.
    mutating func heardOtherLine() {
        otherLines += 1
    }

    /// Whether a close now answers a login: refusals and nothing else were heard.
    var closeRefusesLogin: Bool { refusals > 0 && otherLines == 0 }
}
