import ChatProtocol
import NIOCore
import Synchronization

/// Decides, as each connection is accepted, whether the server takes it: the connection cap and
/// the per-address cap. A connection over either still gets one notice saying so, then is
/// closed, which needs a descriptor; the cap therefore sits below the descriptor limit (see
/// `ChatServerConfiguration.maximumConnections`). A connection counts against the connection cap
/// from its accept until it closes, so the cap bounds descriptors; against its address's cap
/// only until it is turned away before logging in (`Connection.turnAway`), so a client that keeps
/// its socket open after a refusal does not hold its address's place. Shared by every event
/// loop, hence atomics and a lock; it is touched when a connection opens and when it leaves.
final class Admission: Sendable {
    enum Verdict: Equatable {
        case admitted
        case refused(Notice, reason: String)
    }

    private let maximumConnections: Int
    private let maximumPerAddress: Int?
    private let open = Atomic<Int>(0)
    private let perAddress = Mutex<[String: Int]>([:])

    init(maximumConnections: Int, maximumPerAddress: Int?) {
        self.maximumConnections = maximumConnections
        self.maximumPerAddress = maximumPerAddress
    }

    /// Counts the connection from `address` in, whatever the verdict: every admission is matched
    /// by one `leaveServerCap` and one `leaveAddressCap`.
    func admit(from address: String?) -> Verdict {
        let count = open.wrappingAdd(1, ordering: .relaxed).newValue
        var fromAddress = 0
        if let maximumPerAddress, let address {
            fromAddress = perAddress.withLock { counts in
                counts[address, default: 0] += 1
                return counts[address]!
            }
            if fromAddress > maximumPerAddress {
                return .refused(
                    .tooManyFromAddress(maximumPerAddress),
                    reason: "over --max-connections-per-ip (\(maximumPerAddress))")
            }
        }
        if count > maximumConnections {
            return .refused(.serverFull, reason: "over --max-connections (\(maximumConnections))")
        }
        return .admitted
    }

    /// The connection no longer counts against the connection cap: it has closed.
    func leaveServerCap() {
        open.wrappingSubtract(1, ordering: .relaxed)
    }

    /// The connection no longer counts against its address's cap: it has closed, or was turned
    /// away and waits only for its client's close.
    func leaveAddressCap(from address: String?) {
        guard maximumPerAddress != nil, let address else { return }
        perAddress.withLock { counts in
            let left = counts[address, default: 1] - 1
            counts[address] = left > 0 ? left : nil
        }
    }
}
