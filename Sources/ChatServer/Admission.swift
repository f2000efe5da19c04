import ChatProtocol
import NIOCore
import Synchronization

/// Decides, as each connection is accepted, whether the server takes it: the connection cap and
/// the per-address cap. A connection over either still gets one notice saying so, then is
/// closed, which needs a descriptor; the cap therefore sits below the descriptor limit (see
/// `ChatServerConfiguration.maximumConnections`). A connection counts from its accept until it
/// closes or is turned away before logging in (`Connection.turnAway`): refused, it no longer
/// counts once its notice is on its way, though its descriptor lasts until the client closes or
/// a second has passed. Shared by every event loop, hence atomics and a lock; it is touched once
/// when a connection opens and once when it leaves.
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
    /// by one `leave`, when the connection is turned away or closes, whichever comes first.
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

    func leave(from address: String?) {
        open.wrappingSubtract(1, ordering: .relaxed)
        guard maximumPerAddress != nil, let address else { return }
        perAddress.withLock { counts in
            let left = counts[address, default: 1] - 1
            counts[address] = left > 0 ? left : nil
        }
    }
}
