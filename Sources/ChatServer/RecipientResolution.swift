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

/// A recipient list as the broker last looked it up for one sender.
struct ResolvedRecipients {
    /// The raw bytes before the `:`, compared byte for byte with the next line's.
    let list: [UInt8]
    var version = 0
    /// Slots on the sender's own loop.
    var localSlots: [Int] = []
    /// Recipients on other loops, sorted by loop; `remoteRuns` are the ranges of one loop each.
    var remote: [RemoteRecipient] = []
    var remoteRuns: [Range<Int>] = []
    /// Cluster mode: recipients on other servers.
    var elsewhere: [(login: ByteBuffer, peer: ClusterPeer)] = []
    var offlineNames: [String] = []
    /// Whether this resolution may be reused while the directory's version stands: not if it
    /// asked the cluster, whose view changes without touching that version.
    var isReusable = true

    init(list: [UInt8]) {
        self.list = list
    }

    func isCurrent(for list: UnsafeRawBufferPointer, version: Int) -> Bool {
        version == self.version && self.list.count == list.count
            && self.list.withUnsafeBytes { memcmp($0.baseAddress!, list.baseAddress!, list.count) == 0 }
    }

    /// Looks up each distinct name in `list` (a range of `bytes`, which `line` holds) in
    /// `directory`, from the point of view of a sender on loop `loop`.
    static func resolve(
        _ list: ByteRange,
        in bytes: UnsafeRawBufferPointer,
        line: ByteBuffer,
        directory: Directory,
        cluster: ClusterBridge?,
        fromLoop loop: Int
    ) -> ResolvedRecipients {
        var resolved = ResolvedRecipients(list: Array(UnsafeRawBufferPointer(rebasing: bytes[list])))
        var seen = DistinctNames(bytes: bytes, line: line)
        var notHere: [ByteBuffer] = []
        resolved.version = directory.locate { lookUp in
            for name in RecipientNames(bytes, list) where seen.insert(name) {
                let key = line.getSlice(at: line.readerIndex + name.lowerBound, length: name.count)!
                if let location = lookUp(key) {
                    if location.loop == loop {
                        resolved.localSlots.append(location.slot)
                    } else {
                        resolved.remote.append(
                            RemoteRecipient(
                                loop: location.loop, slot: location.slot, generation: location.generation,
                                gate: location.gate))
                    }
                } else {
                    notHere.append(key)
                }
            }
        }
        // Asked outside the directory's lock: the cluster takes its own.
        for key in notHere {
            if let peer = cluster?.peer(of: key) {
                resolved.elsewhere.append((key, peer))
            } else {
                resolved.offlineNames.append(String(buffer: key))
            }
        }
        if cluster != nil && !notHere.isEmpty { resolved.isReusable = false }
        if resolved.remote.count > 1 { resolved.remote.sort { $0.loop < $1.loop } }
        var start = 0
        while start < resolved.remote.count {
            let loop = resolved.remote[start].loop
            let end = resolved.remote[start...].firstIndex { $0.loop != loop } ?? resolved.remote.count
            resolved.remoteRuns.append(start..<end)
            start = end
        }
        return resolved
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
