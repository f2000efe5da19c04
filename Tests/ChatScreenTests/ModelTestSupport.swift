import ChatClient
import Testing

@testable import ChatScreen

/// A model of `rows` × `columns` with fixed clocks, named "127.0.0.1:8080", without timestamps;
/// reconnecting unless told not to, with waits of 1, 2, 4 … seconds exactly (no jitter).
func makeModel(
    login: String? = "alice", rows: Int = 6, columns: Int = 40, reconnects: Bool = true,
    now: ContinuousClock.Instant = testEpoch
) -> ChatScreenModel {
    var model = ChatScreenModel(
        options: .init(
            serverName: "127.0.0.1:8080", login: login, showsTimestamps: false,
            reconnect: ReconnectPolicy(isEnabled: reconnects)),
        clock: { 0 },
        now: now,
        jitter: { 0 }
    )
    model.resize(rows: rows, columns: columns)
    return model
}

/// The instant the models of the tests start at.
let testEpoch = ContinuousClock.now

/// Types `text` key by key; no key of plain text asks anything of the loop.
func type(_ text: String, into model: inout ChatScreenModel) {
    for scalar in text.unicodeScalars { #expect(model.handle(.character(scalar)) == nil) }
}

/// The states a test puts a model in before it tries something.
enum TestConnection: CustomStringConvertible {
    case connecting, connected, failed

    var description: String {
        "\(self == .connecting ? "connecting" : self == .connected ? "connected" : "failed")"
    }

    static let all: [TestConnection] = [.connecting, .connected, .failed]
}

extension ChatScreenModel {
    mutating func enter(_ state: TestConnection) {
        switch state {
        case .connecting: break
        case .connected: connected()
        case .failed: _ = connectFailed("connection refused")
        }
    }

    /// The connect failed, or the connection broke.
    mutating func connectFailed(_ reason: String, remark: String? = nil) -> ScreenCommand? {
        sessionEnded(.failed(reason: reason, remark: remark ?? reason))
    }

    mutating func serverClosed(
        reason: String, remark: String, at time: ContinuousClock.Instant? = nil
    ) -> ScreenCommand? {
        sessionEnded(.closedByServer(reason: reason, remark: remark), at: time)
    }
}
