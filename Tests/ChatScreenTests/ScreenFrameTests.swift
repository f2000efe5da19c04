import ChatProtocol
import Testing

@testable import ChatScreen

/// The frame the model draws: every size, the status line, the pane after a resize.
@Suite struct ScreenFrameTests {
    init() { #expect(utf8LocaleIsReady) }

    @Test func statusLineGivesTheShortReasonAndTheScrollbackTheSentence() {
        var model = makeModel(columns: 80, reconnects: false)
        _ = model.connectFailed(
            "connection refused", remark: "cannot connect to 127.0.0.1:1: connection refused")
        let lines = model.frame().lines
        #expect(lines[3] == "-- cannot connect to 127.0.0.1:1: connection refused")
        #expect(lines[4] == " alice | 127.0.0.1:8080 | disconnected: connection refused")
    }

    @Test func resizeRewrapsAndKeepsEverything() {
        var model = makeModel(rows: 6, columns: 40)
        model.receive(serverLine: "from bob: " + String(repeating: "word ", count: 10))
        #expect(model.frame().lines[2...3].joined().contains("word word"))
        model.resize(rows: 10, columns: 20)
        let lines = model.frame().lines
        #expect(lines.count == 10)
        #expect(lines.filter { $0.contains("word") }.count == 3)
        #expect(lines.allSatisfy { DisplayWidth.width(of: $0) <= 20 })
    }

    @Test func tinyTerminalSaysSoInWhatFits() {
        var model = makeModel(rows: 2, columns: 40)
        #expect(model.frame().lines == ["too small", ""])
        model.resize(rows: 8, columns: 10)
        #expect(model.frame().lines[0] == "too small")
        model.resize(rows: 8, columns: 6)
        #expect(model.frame().lines[0] == "small")
        model.resize(rows: 1, columns: 1)
        #expect(model.frame().lines == ["…"])
    }

    /// The input is not on the screen, so neither typing nor Enter may act on it unseen.
    @Test func aTooSmallScreenIgnoresInputButStillQuits() {
        for size in [(rows: 8, columns: 19), (rows: 2, columns: 80)] {
            var model = makeModel(rows: 8, columns: 80)
            model.connected()
            type("bob: se", into: &model)
            model.resize(rows: size.rows, columns: size.columns)
            for scalar in "bob: blind".unicodeScalars { #expect(model.handle(.character(scalar)) == nil) }
            #expect(model.handle(.enter) == nil)
            #expect(model.handle(.backspace) == nil)
            #expect(model.handle(.up) == nil)
            #expect(model.handle(.control("d")) == nil)
            #expect(model.handle(.control("l")) == .repaint)
            model.resize(rows: 8, columns: 80)
            #expect(model.editor.text == "bob: se")
            #expect(!model.frame().lines.contains { $0.contains("blind") })
            model.resize(rows: size.rows, columns: size.columns)
            #expect(model.handle(.afterEscape(.character("b"))) == nil)
            #expect(model.handle(.afterEscape(.control("c"))) == .quit, "Esc, then Ctrl-C")
            #expect(model.handle(.control("c")) == .quit)
        }
    }

    /// Every size from 1 × 1 up, in states that each stretch some part of the frame: no row
    /// is wider than the terminal, there are exactly as many rows as it has, the cursor is on
    /// it, and nothing traps.
    @Test func everyFrameFitsEveryTerminalSize() {
        let longReason = "login 'a-rather-long-login-name-for-a-narrow-terminal' is already online"
        let states:
            [(name: String, login: String?, timestamps: Bool, prepare: (inout ChatScreenModel) -> Void)] = [
                ("connecting, no login yet", nil, false, { _ in }),
                (
                    "scrolled up, many lines below", "alice", true,
                    { model in
                        model.connected()
                        for index in 1...12 { model.receive(serverLine: "from bob: line \(index)") }
                        _ = model.handle(.pageUp)
                        _ = model.handle(.pageUp)
                        for index in 1...1234 { model.receive(serverLine: "from bob: more \(index) 世界") }
                    }
                ),
                (
                    "long reason", "alice", false,
                    { model in _ = model.connectFailed(longReason) }
                ),
                (
                    "long input", nil, false,
                    { model in
                        model.connected()
                        for _ in 0..<30 { _ = model.handle(.character("世")) }
                        for _ in 0..<7 { _ = model.handle(.left) }
                    }
                ),
            ]
        for state in states {
            var model = ChatScreenModel(
                options: .init(
                    serverName: "127.0.0.1:8080", login: state.login, showsTimestamps: state.timestamps),
                clock: { 0 })
            model.resize(rows: 24, columns: 80)
            state.prepare(&model)
            for rows in 1...10 {
                for columns in 1...40 {
                    model.resize(rows: rows, columns: columns)
                    _ = model.handle(.pageUp)
                    let frame = model.frame()
                    // One #expect per frame would cost more than the frames.
                    if frame.rows.count != rows || frame.rows.contains(where: { $0.width > columns })
                        || frame.cursor.row >= rows || frame.cursor.column >= columns
                    {
                        Issue.record(
                            "\(state.name), \(columns) × \(rows): \(frame.lines), cursor \(frame.cursor)")
                    }
                }
            }
            if state.name.hasPrefix("scrolled") {
                #expect(model.scrollback.entriesBelow(rowCount: model.rowCount) > 100)
            }
        }
    }

    @Test func oneLineBelowIsOneLine() {
        // A pane of two rows: PageUp scrolls by one.
        var model = makeModel(rows: 4, columns: 40)
        for index in 1...5 { model.receive(serverLine: "from bob: line \(index)") }
        _ = model.handle(.pageUp)
        #expect(model.frame().lines[2].hasSuffix(" more below: 1 line"))
        _ = model.handle(.pageUp)
        #expect(model.frame().lines[2].hasSuffix(" more below: 2 lines"))
    }

    /// The client skipped the line; the server never said anything about it.
    @Test func aSkippedOverlongLineIsTheClientsRemarkNotANotice() {
        var model = makeModel(columns: 80)
        model.receiveOverlongLine()
        let row = model.frame().rows[3]
        #expect(row.text == "-- skipped a line from the server longer than the client's limit")
        #expect(row.allSatisfy { $0.style == .info })
    }

    @Test func narrowStatusLineKeepsAShortScrollHint() {
        var model = makeModel(rows: 8, columns: 20)
        for index in 1...12 { model.receive(serverLine: "from bob: line \(index)") }
        _ = model.handle(.pageUp)
        #expect(model.frame().lines[6] == " alice | c… 5 below")
    }
}
