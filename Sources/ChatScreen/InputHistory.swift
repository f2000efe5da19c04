/// Lines sent before, for Up and Down, as in a shell: Up from the line being typed saves it as a
/// draft, Down past the newest entry brings the draft back.
public struct InputHistory: Equatable, Sendable {
    public private(set) var entries: [String] = []
    public let limit: Int
    /// Index into `entries` while browsing; nil while editing the draft.
    private var position: Int?
    private var draft = ""

    public init(limit: Int = 1000) {
        precondition(limit > 0)
        self.limit = limit
    }

    /// Remembers a sent line (not twice in a row) and ends browsing.
    public mutating func record(_ line: String) {
        position = nil
        draft = ""
        guard !line.isEmpty, entries.last != line else { return }
        entries.append(line)
        if entries.count > limit { entries.removeFirst(entries.count - limit) }
    }

    /// The entry before the one shown, or nil if there is none; `current` is what the input
    /// line holds now, kept as the draft when browsing starts.
    public mutating func previous(current: String) -> String? {
        let target: Int
        if let position {
            guard position > 0 else { return nil }
            target = position - 1
        } else {
            guard !entries.isEmpty else { return nil }
            draft = current
            target = entries.count - 1
        }
        position = target
        return entries[target]
    }

    /// The entry after the one shown, the draft after the newest, or nil when not browsing.
    public mutating func next() -> String? {
        guard let position else { return nil }
        if position + 1 < entries.count {
            self.position = position + 1
            return entries[position + 1]
        }
        self.position = nil
        return draft
    }

    /// Typing into a recalled line makes it the new draft.
    public mutating func stopBrowsing() {
        position = nil
    }
}
