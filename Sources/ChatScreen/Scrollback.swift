/// The last `capacity` entries of the conversation and where the user has scrolled to.
///
/// Entries are numbered by a sequence that only grows, so a position survives both new lines
/// arriving and old ones being dropped. The pane is measured in rows, and how many rows an entry
/// takes depends on the terminal's width: every method that scrolls or draws is given the
/// current row layout, so a resize needs no bookkeeping here.
public struct Scrollback<Entry: Sendable>: Sendable {
    public let capacity: Int
    private var storage: [Entry] = []
    /// Index in `storage` of the oldest entry once the buffer is full.
    private var oldestIndex = 0
    /// Sequence number of the oldest entry kept.
    public private(set) var firstSequence = 0
    public private(set) var position = ScrollPosition.bottom

    /// The bottom row of the pane: following the newest entry, or fixed on a row of an older one
    /// (`row` counts that entry's rows from its first).
    public enum ScrollPosition: Equatable, Sendable {
        case bottom
        case anchored(sequence: Int, row: Int)
    }

    public init(capacity: Int) {
        precondition(capacity > 0, "a scrollback must hold at least one line")
        self.capacity = capacity
        storage.reserveCapacity(min(capacity, 1024))
    }

    public var count: Int { storage.count }
    public var isEmpty: Bool { storage.isEmpty }
    /// One past the newest entry's sequence number.
    public var endSequence: Int { firstSequence + storage.count }
    public var isAtBottom: Bool { position == .bottom }

    public subscript(sequence: Int) -> Entry {
        precondition(sequence >= firstSequence && sequence < endSequence, "entry \(sequence) not kept")
        return storage[(oldestIndex + sequence - firstSequence) % storage.count]
    }

    public var newest: Entry? { isEmpty ? nil : self[endSequence - 1] }

    public mutating func append(_ entry: Entry) {
        if storage.count < capacity {
            storage.append(entry)
        } else {
            storage[oldestIndex] = entry
            oldestIndex = (oldestIndex + 1) % capacity
            firstSequence += 1
        }
    }

    /// Changes the entry numbered `sequence`, if it is still kept.
    public mutating func update(_ sequence: Int, _ change: (inout Entry) -> Void) {
        guard sequence >= firstSequence && sequence < endSequence else { return }
        change(&storage[(oldestIndex + sequence - firstSequence) % storage.count])
    }

    /// Forgets every entry; the sequence numbers go on from where they were.
    public mutating func removeAll() {
        firstSequence = endSequence
        storage.removeAll(keepingCapacity: true)
        oldestIndex = 0
        position = .bottom
    }

    /// Scrolls so that entry `sequence` is the lowest one in the pane.
    public mutating func reveal(_ sequence: Int, height: Int, rowCount: (Entry) -> Int) {
        guard sequence >= firstSequence && sequence < endSequence else { return }
        position =
            sequence == endSequence - 1
            ? .bottom : .anchored(sequence: sequence, row: max(0, rowCount(self[sequence]) - 1))
        fillPane(height: height, rowCount: rowCount)
    }

    /// Entries not wholly shown below the bottom of the pane while scrolled up: the one cut at
    /// the bottom counts, so that the count says whether that line goes on.
    public func entriesBelow(rowCount: (Entry) -> Int) -> Int {
        guard case .anchored(let sequence, let row) = position else { return 0 }
        let lowest = max(sequence, firstSequence)
        let isCut = lowest == sequence && lowest < endSequence && row < rowCount(self[sequence]) - 1
        return max(0, endSequence - 1 - lowest) + (isCut ? 1 : 0)
    }

    public mutating func scrollToBottom() {
        position = .bottom
    }

    /// Scrolls towards older entries by `rows` (towards newer ones when negative), keeping the
    /// pane full: scrolling stops at the oldest row at the top and returns to `.bottom` at the
    /// newest row.
    public mutating func scroll(by rows: Int, height: Int, rowCount: (Entry) -> Int) {
        guard var (sequence, row) = anchor(rowCount: rowCount) else { return }
        row -= rows
        while row < 0 && sequence > firstSequence {
            sequence -= 1
            row += rowCount(self[sequence])
        }
        row = max(row, 0)
        while sequence < endSequence, row >= rowCount(self[sequence]) {
            row -= rowCount(self[sequence])
            sequence += 1
        }
        let isNewestRow = sequence == endSequence - 1 && row >= rowCount(self[sequence]) - 1
        position = sequence >= endSequence || isNewestRow ? .bottom : .anchored(sequence: sequence, row: row)
        fillPane(height: height, rowCount: rowCount)
    }

    /// The rows that fill a pane `height` tall at the current position, top first; fewer when
    /// there are not enough. Only the entries that show are laid out.
    public mutating func visibleRows<Row>(height: Int, rows layout: (Entry) -> [Row]) -> [Row] {
        fillPane(height: height, rowCount: { layout($0).count })
        guard height > 0, let (sequence, row) = anchor(rowCount: { layout($0).count }) else { return [] }
        var collected = Array(layout(self[sequence]).prefix(row + 1).suffix(height))
        var older = sequence - 1
        while collected.count < height && older >= firstSequence {
            collected.insert(contentsOf: layout(self[older]).suffix(height - collected.count), at: 0)
            older -= 1
        }
        return collected
    }

    /// The bottom row of the pane as (sequence, row), with a position on a dropped entry moved to
    /// the oldest kept one and a row past an entry's end (after a resize) clamped.
    private func anchor(rowCount: (Entry) -> Int) -> (Int, Int)? {
        guard !isEmpty else { return nil }
        switch position {
        case .bottom:
            let newest = endSequence - 1
            return (newest, max(0, rowCount(self[newest]) - 1))
        case .anchored(let sequence, let row):
            if sequence < firstSequence { return (firstSequence, 0) }
            return (sequence, min(row, max(0, rowCount(self[sequence]) - 1)))
        }
    }

    /// Moves an anchored position down if the rows above it cannot fill the pane: there is no
    /// point showing blank rows at the bottom while older history is there to show.
    private mutating func fillPane(height: Int, rowCount: (Entry) -> Int) {
        guard case .anchored = position, let (sequence, row) = anchor(rowCount: rowCount) else { return }
        position = .anchored(sequence: sequence, row: row)
        var rowsAbove = row + 1
        var older = sequence - 1
        while rowsAbove < height && older >= firstSequence {
            rowsAbove += rowCount(self[older])
            older -= 1
        }
        if rowsAbove < height { scroll(by: rowsAbove - height, height: 0, rowCount: rowCount) }
    }
}
