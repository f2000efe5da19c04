import NIOCore
import Synchronization

/// Who is online, on whichever of the server's event loops: the one peers map every loop's broker
/// shares. A login is claimed and freed under its lock, so two loops can never both hand out the
/// same name; every change bumps `version`, which tells a sender's cached recipient list it is
/// stale. Deliveries do not touch it: a sender resolves a list once and reuses it while the
/// version stands.
final class Directory: Sendable {
    /// Where a logged-in connection lives.
    struct Location: Sendable {
        let loop: Int
        let slot: Int
        /// Tells a message that crossed loops whether the slot still holds the connection it was
        /// meant for.
        let generation: UInt32
        let gate: CongestionGate
    }

    private let locations = Mutex<[ByteBuffer: Location]>([:])
    private let currentVersion = Atomic<Int>(0)
    /// How many connections' gates are shut right now: while none is, a sender need not look at
    /// the gates of recipients on other loops.
    let shutGates = Atomic<Int>(0)

    var version: Int { currentVersion.load(ordering: .acquiring) }

    var count: Int { locations.withLock { $0.count } }

    /// Claims `login`; false if someone holds it.
    func claim(_ login: ByteBuffer, at location: Location) -> Bool {
        locations.withLock { locations in
            guard locations[login] == nil else { return false }
            locations[login] = location
            currentVersion.wrappingAdd(1, ordering: .releasing)
            return true
        }
    }

    func release(_ login: ByteBuffer) {
        locations.withLock { locations in
            guard locations.removeValue(forKey: login) != nil else { return }
            currentVersion.wrappingAdd(1, ordering: .releasing)
        }
    }

    func location(of login: ByteBuffer) -> Location? {
        locations.withLock { $0[login] }
    }

    /// Looks up every name `names` yields under one lock, with the version they belong to.
    func locate(_ names: (_ lookUp: (ByteBuffer) -> Location?) -> Void) -> Int {
        locations.withLock { locations in
            names { locations[$0] }
            return currentVersion.load(ordering: .relaxed)
        }
    }
}
