/// Lines sent before, for Up and Down, as in readline: Up from the line being typed keeps it as
/// the draft, Down past the newest entry brings the draft back, and a recalled line that is
/// edited keeps the edit while the user browses on, until Enter. Moving through history never
/// throws away what was typed.
public struct InputHistory: Equatable, Sendable {
    public private(set) var entries: [String] = []
    public let limit: Int
    /// Index into `entries` while browsing; nil while editing the draft.
    private var position: Int?
    private var draft = ""
    /// Recalled entries as the user edited them, by index into `entries`; the entries
    /// themselves stay as they were sent.
    private var edits: [Int: String] = [:]

    public init(limit: Int = 1000) {
        precondition(limit > 0)
        self.limit = limit
    }

    /// Remembers a sent line (not twice in a row), ends browsing and forgets the edits.
    public mutating func record(_ line: String) {
        endBrowsing()
        guard !line.isEmpty, entries.last != line else { return }
        entries.append(line)
        if entries.count > limit { entries.removeFirst(entries.count - limit) }
    }

    /// A line was entered that is not kept (a login): back to an empty draft, edits forgotten.
    public mutating func endBrowsing() {
        position = nil
        draft = ""
        edits = [:]
    }

    /// The entry before the one shown, or nil if there is none. `current` is what the input line
    /// holds now: the draft, or the edit of the entry being left.
    public mutating func previous(current: String) -> String? {
        let target = (position ?? entries.count) - 1
        guard target >= 0 else { return nil }
        keep(current)
        position = target
        return edits[target] ?? entries[target]
    }

    /// The entry after the one shown, the draft after the newest, or nil when not browsing.
    public mutating func next(current: String) -> String? {
        guard let position else { return nil }
        keep(current)
        guard position + 1 < entries.count else {
            self.position = nil
            return draft
        }
        self.position = position + 1
        return edits[position + 1] ?? entries[position + 1]
    }

    private mutating func keep(_ current: String) {
        guard let position else {
            draft = current
            return
        }
        edits[position] = current == entries[position] ? nil : current
    }
}
