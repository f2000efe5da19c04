import Testing

@testable import ChatScreen

@Suite struct ScrollbackTests {
    /// Entries are row counts, so tests control wrapping directly.
    private func scrollback(_ rowCounts: [Int], capacity: Int = 100) -> Scrollback<Int> {
        var scrollback = Scrollback<Int>(capacity: capacity)
        for count in rowCounts { scrollback.append(count) }
        return scrollback
    }

    /// Row labels "entry.row" for the pane.
    private func visible(_ scrollback: inout Scrollback<Int>, height: Int, entries: [Int]) -> [String] {
        scrollback.visibleRows(height: height) { count in
            let index = entries.firstIndex(of: count)!
            return (0..<count).map { "\(index).\($0)" }
        }
    }

    @Test func keepsOnlyTheNewestEntries() {
        let kept = scrollback(Array(1...10), capacity: 4)
        #expect(kept.count == 4)
        #expect(kept.firstSequence == 6)
        #expect((6..<10).map { kept[$0] } == [7, 8, 9, 10])
    }

    @Test func bottomShowsTheNewestRows() {
        // Distinct row counts double as entry identities.
        let entries = [1, 2, 3]
        var back = scrollback(entries)
        #expect(visible(&back, height: 4, entries: entries) == ["1.1", "2.0", "2.1", "2.2"])
        #expect(visible(&back, height: 10, entries: entries) == ["0.0", "1.0", "1.1", "2.0", "2.1", "2.2"])
    }

    @Test func pageUpAndDownMoveByRowsAndStopAtBothEnds() {
        let entries = [1, 2, 3, 4]  // 10 rows
        var back = scrollback(entries)
        back.scroll(by: 3, height: 4, rowCount: { $0 })
        #expect(visible(&back, height: 4, entries: entries) == ["2.0", "2.1", "2.2", "3.0"])
        #expect(!back.isAtBottom)
        // The newest entry is cut after its first row: the rest of it is below.
        #expect(back.entriesBelow(rowCount: { $0 }) == 1)
        back.scroll(by: 100, height: 4, rowCount: { $0 })
        #expect(visible(&back, height: 4, entries: entries) == ["0.0", "1.0", "1.1", "2.0"])
        back.scroll(by: -2, height: 4, rowCount: { $0 })
        #expect(visible(&back, height: 4, entries: entries) == ["1.1", "2.0", "2.1", "2.2"])
        #expect(back.entriesBelow(rowCount: { $0 }) == 1)
        back.scroll(by: -100, height: 4, rowCount: { $0 })
        #expect(back.isAtBottom)
    }

    @Test func scrolledViewStaysPutWhileLinesArrive() {
        var back = scrollback([1, 1, 1, 1, 1])
        back.scroll(by: 2, height: 2, rowCount: { $0 })
        let before = back.position
        back.append(1)
        back.append(1)
        #expect(back.position == before)
        #expect(back.entriesBelow(rowCount: { $0 }) == 4)
    }

    @Test func positionOnADroppedEntryMovesToTheOldestKept() {
        var back = scrollback([1, 1, 1, 1], capacity: 4)
        back.scroll(by: 3, height: 1, rowCount: { $0 })
        #expect(back.position == .anchored(sequence: 0, row: 0))
        back.append(1)
        back.append(1)
        let rows = back.visibleRows(height: 1) { _ in ["row"] }
        #expect(rows == ["row"])
        back.scroll(by: 0, height: 1, rowCount: { $0 })
        #expect(back.position == .anchored(sequence: 2, row: 0))
    }

    @Test func resizeKeepsThePositionOnTheSameEntry() {
        var back = scrollback([1, 1, 1, 1])
        back.scroll(by: 6, height: 1, rowCount: { _ in 5 })
        #expect(back.position == .anchored(sequence: 2, row: 3))
        // Wider now: every entry fits one row. The row is clamped, the entry stays.
        let rows = back.visibleRows(height: 2) { _ in ["row"] }
        #expect(rows.count == 2)
        #expect(back.position == .anchored(sequence: 2, row: 0))
    }
}
