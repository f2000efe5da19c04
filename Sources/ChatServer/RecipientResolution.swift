import ChatCluster
import ChatProtocol
import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A recipient on another event loop of this server.
struct RemoteRecipient {
    let loop: Int
    let slot: Int
    let generation: UInt32
    let gate: CongestionGate
}

/// The recipients of one list that live on one other loop, addressed as that loop's mail names
/// them: each recipient's slot and generation, interleaved, so that a message takes one copy
/// into the mail whatever the number of recipients, and touches none of their gates. Copying
/// each `RemoteRecipient` out retained and released its gate, an object the other loop owns:
/// with two loops, 100 clients × 20,000 messages × 10 recipients took 1.58 to 1.61 s of server
/// CPU this way against 1.65 to 1.87 s before (`perf stat -e task-clock`, three runs each).
struct RemoteRun {
    let loop: Int
    let addresses: [UInt32]
    var count: Int { addresses.count / 2 }
}

/// A recipient list as the broker last looked it up for one sender. A class with constant
/// fields: a sender's cached list is read for every message it sends, and a struct of six arrays
/// cost six retains and releases each time (8% of the server's time at 3.8M deliveries/s, `perf
/// record`).
final class ResolvedRecipients {
    /// The raw bytes before the `:`, compared byte for byte with the next line's.
    let list: [UInt8]
    let version: Int
    /// Cluster mode: the cluster's membership version it was looked up at.
    let clusterVersion: Int
    /// Slots on the sender's own loop.
    let localSlots: [Int]
    /// Recipients on other loops, one run per loop.
    let remoteRuns: [RemoteRun]
    /// Their gates, looked at only while some gate is shut.
    let remoteGates: [CongestionGate]
    let remoteCount: Int
    /// Cluster mode: recipients on other servers.
    let elsewhere: [(login: ByteBuffer, peer: ClusterPeer)]
    let offlineNames: [String]

    private init(
        list: [UInt8], version: Int, localSlots: [Int], remote: [RemoteRecipient],
        elsewhere: [(login: ByteBuffer, peer: ClusterPeer)], offlineNames: [String], clusterVersion: Int
    ) {
        self.list = list
        self.version = version
        self.clusterVersion = clusterVersion
        self.localSlots = localSlots
        let remote = remote.sorted { $0.loop < $1.loop }
        var runs: [RemoteRun] = []
        var start = 0
        while start < remote.count {
            let loop = remote[start].loop
            let end = remote[start...].firstIndex { $0.loop != loop } ?? remote.count
            var addresses: [UInt32] = []
            addresses.reserveCapacity(2 * (end - start))
            for recipient in remote[start..<end] {
                addresses.append(UInt32(recipient.slot))
                addresses.append(recipient.generation)
            }
            runs.append(RemoteRun(loop: loop, addresses: addresses))
            start = end
        }
        self.remoteRuns = runs
        self.remoteGates = remote.map(\.gate)
        self.remoteCount = remote.count
        self.elsewhere = elsewhere
        self.offlineNames = offlineNames
    }

    func isCurrent(for list: UnsafeRawBufferPointer, version: Int, clusterVersion: Int) -> Bool {
        version == self.version && clusterVersion == self.clusterVersion && self.list.count == list.count
            && self.list.withUnsafeBytes { memcmp($0.baseAddress!, list.baseAddress!, list.count) == 0 }
    }

    /// Looks up each distinct name in `list` (a range of `bytes`, which `line` holds) in
    /// `directory`, and in the cluster for names not online here, from the point of view of a
    /// sender on loop `loop`.
    static func resolve(
        _ list: ByteRange,
        in bytes: UnsafeRawBufferPointer,
        line: ByteBuffer,
        directory: Directory,
        cluster: ClusterBridge?,
        fromLoop loop: Int
    ) -> ResolvedRecipients {
        // Read before the look-ups: a change during them makes the result stale, never wrong.
        let clusterVersion = cluster?.node.membershipVersion ?? 0
        var seen = DistinctNames(bytes: bytes, line: line)
        var localSlots: [Int] = []
        var remote: [RemoteRecipient] = []
        var notHere: [ByteBuffer] = []
        let version = directory.locate { lookUp in
            for name in RecipientNames(bytes, list) where seen.insert(name) {
                let key = line.getSlice(at: line.readerIndex + name.lowerBound, length: name.count)!
                guard let location = lookUp(key) else {
                    notHere.append(key)
                    continue
                }
                if location.loop == loop {
                    localSlots.append(location.slot)
                } else {
                    remote.append(
                        RemoteRecipient(
                            loop: location.loop, slot: location.slot, generation: location.generation,
                            gate: location.gate))
                }
            }
        }
        // Asked outside the directory's lock: the cluster takes its own.
        var elsewhere: [(login: ByteBuffer, peer: ClusterPeer)] = []
        var offlineNames: [String] = []
        for key in notHere {
            if let peer = cluster?.peer(of: key) {
                elsewhere.append((key, peer))
            } else {
                offlineNames.append(String(buffer: key))
            }
        }
        return ResolvedRecipients(
            list: Array(UnsafeRawBufferPointer(rebasing: bytes[list])), version: version,
            localSlots: localSlots, remote: remote, elsewhere: elsewhere, offlineNames: offlineNames,
            clusterVersion: clusterVersion)
    }
}

/// The names of one recipient list seen so far. Short lists, the usual case, compare in place; a
/// long one switches to a set so that a line of thousands of names stays linear.
struct DistinctNames {
    let bytes: UnsafeRawBufferPointer
    let line: ByteBuffer
    private var few: [ByteRange] = []
    private var many: Set<ByteBuffer> = []

    init(bytes: UnsafeRawBufferPointer, line: ByteBuffer) {
        self.bytes = bytes
        self.line = line
    }

    /// True if `name` was not seen before.
    mutating func insert(_ name: ByteRange) -> Bool {
        let linearLimit = 16
        if few.count < linearLimit {
            for seen in few where seen.count == name.count {
                if memcmp(
                    bytes.baseAddress! + seen.lowerBound, bytes.baseAddress! + name.lowerBound, name.count)
                    == 0
                {
                    return false
                }
            }
            few.append(name)
            return true
        }
        if many.isEmpty {
            for seen in few { many.insert(slice(seen)) }
        }
        return many.insert(slice(name)).inserted
    }

    private func slice(_ range: ByteRange) -> ByteBuffer {
        line.getSlice(at: line.readerIndex + range.lowerBound, length: range.count)!
    }
}
