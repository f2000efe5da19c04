import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// This node's view of where every login is online and which logins their nodes report
/// congested, kept current by the membership notifications.
///
/// Read on the server's event loops for every remote delivery, so a lookup is a lock and a hash:
/// no database, no allocation, no suspension.
final class Directory: Sendable {
    private struct State {
        var peers: [Int64: ClusterPeer] = [:]
        var logins: [ByteBuffer: Int64] = [:]
        var congested: Set<ByteBuffer> = []
    }

    private let state = NIOLockedValueBox(State())
    private let changes = Atomic<Int>(0)

    /// Changes with every change of who is where, so a caller can tell whether what it looked up
    /// before still stands without looking up again.
    var version: Int { changes.load(ordering: .acquiring) }

    func location(of login: ByteBuffer) -> ClusterPeer? {
        state.withLockedValue { state in
            state.logins[login].flatMap { state.peers[$0] }
        }
    }

    func isCongested(_ login: ByteBuffer) -> Bool {
        state.withLockedValue { $0.congested.contains(login) }
    }

    /// Whether `login` is reported congested, or nil if `peer` is not a node of the cluster.
    func congestion(of login: ByteBuffer, on peer: Int64) -> Bool? {
        state.withLockedValue { state in
            guard state.peers[peer] != nil else { return nil }
            return !state.congested.isEmpty && state.congested.contains(login)
        }
    }

    func peer(_ id: Int64) -> ClusterPeer? {
        state.withLockedValue { $0.peers[id] }
    }

    var peers: [ClusterPeer] { state.withLockedValue { Array($0.peers.values) } }

    /// Replaces everything with a fresh read of the tables. Congestion is not in the tables: it is
    /// kept for logins that are still where they were, and dropped for the rest.
    /// Returns the peers that are gone and the congested logins that no longer are.
    func replace(peers: [ClusterPeer], logins: [ByteBuffer: Int64]) -> (
        gone: [ClusterPeer], uncongested: [ByteBuffer]
    ) {
        state.withLockedValue { state in
            let newPeers = Dictionary(peers.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
            let gone = state.peers.values.filter { newPeers[$0.id] == nil }
            let uncongested = state.congested.filter { logins[$0] == nil || logins[$0] != state.logins[$0] }
            state.peers = newPeers
            state.logins = logins
            state.congested.subtract(uncongested)
            changes.wrappingAdd(1, ordering: .releasing)
            return (gone, Array(uncongested))
        }
    }

    /// Applies one change; returns the events it causes.
    func apply(_ change: MembershipChange) -> [ClusterEvent] {
        state.withLockedValue { state in
            switch change {
            case .joined, .gone, .claimed, .released:
                changes.wrappingAdd(1, ordering: .releasing)
            case .congested, .uncongested, .marker:
                break
            }
            switch change {
            case .joined(let peer):
                guard state.peers.updateValue(peer, forKey: peer.id) == nil else { return [] }
                return [.peerJoined(peer)]
            case .gone(let id):
                guard let peer = state.peers.removeValue(forKey: id) else { return [] }
                var events: [ClusterEvent] = [.peerLeft(peer), .peerReady(peer)]
                let theirs = state.logins.filter { $0.value == id }.keys
                for login in theirs {
                    state.logins[login] = nil
                    if state.congested.remove(login) != nil { events.append(.recipientReady(login: login)) }
                }
                return events
            case .claimed(let login, let node):
                state.logins[login] = node
                return []
            case .released(let login, let node):
                guard state.logins[login] == node else { return [] }
                state.logins[login] = nil
                return state.congested.remove(login) != nil ? [.recipientReady(login: login)] : []
            case .congested(let login, let node):
                guard state.logins[login] == node else { return [] }
                state.congested.insert(login)
                return []
            case .uncongested(let login, _):
                return state.congested.remove(login) != nil ? [.recipientReady(login: login)] : []
            case .marker:
                return []
            }
        }
    }
}

/// One notification on the membership channel. Logins travel hex-encoded: a payload is text and
/// must not hold NUL, and a login's bytes are compared exactly.
enum MembershipChange: Equatable {
    case joined(ClusterPeer)
    case gone(Int64)
    case claimed(ByteBuffer, node: Int64)
    case released(ByteBuffer, node: Int64)
    case congested(ByteBuffer, node: Int64)
    case uncongested(ByteBuffer, node: Int64)
    /// Sent by a node to itself after reading the tables: every change before it is in what it
    /// read.
    case marker(String)

    static let channel = "achat_members"

    init?(payload: String) {
        guard let kind = payload.first else { return nil }
        let rest = payload.dropFirst()
        let fields = rest.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
        switch kind {
        case "m":
            self = .marker(String(rest))
        case "x":
            guard let id = Int64(rest) else { return nil }
            self = .gone(id)
        case "j":
            guard fields.count == 2, let id = Int64(fields[0]) else { return nil }
            self = .joined(ClusterPeer(id: id, name: String(fields[1])))
        case "+", "-", "c", "u":
            guard fields.count == 2, let node = Int64(fields[0]), let login = Self.decodeHex(fields[1]) else {
                return nil
            }
            switch kind {
            case "+": self = .claimed(login, node: node)
            case "-": self = .released(login, node: node)
            case "c": self = .congested(login, node: node)
            default: self = .uncongested(login, node: node)
            }
        default:
            return nil
        }
    }

    static func hex(_ bytes: ByteBuffer) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        text.reserveCapacity(bytes.readableBytes * 2)
        for byte in bytes.readableBytesView {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0xf)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    static func decodeHex(_ text: Substring) -> ByteBuffer? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        func value(_ digit: UInt8) -> UInt8? {
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
            default: nil
            }
        }
        var buffer = ByteBuffer()
        buffer.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = value(utf8[index]), let low = value(utf8[index + 1]) else { return nil }
            buffer.writeInteger(high << 4 | low)
            index += 2
        }
        return buffer
    }
}
