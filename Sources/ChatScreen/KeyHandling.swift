/// Keys: editing the input, scrolling, searching, and the keys that ask the loop for something.
extension ChatScreenModel {
    /// Applies one key; returns what the loop must do, if anything.
    public mutating func handle(_ key: Key) -> ScreenCommand? {
        if case .afterEscape(let next) = key {
            // Escape on its own, then a key: Alt and the key where that means something (Esc
            // then B), else the key, as if Escape had not been pressed (Esc then Ctrl-C quits,
            // also while the screen is too small).
            return handle(Self.altEdit(of: next) != nil ? .alt(next) : next)
        }
        if case .character(let scalar) = key {
            type([scalar])
            return nil
        }
        if isTooSmall { return handleWhileTooSmall(key) }
        if key != .tab { completion.endCycle() }
        // Editing the input means the user is back in the conversation, as typing does.
        if Self.editsInput(key) { backToTheBottom() }
        defer { attention.caughtUp(atBottom: scrollback.isAtBottom) }
        switch key {
        case .alt(let withAlt):
            // Alt with a key it gives no meaning is a key the client does not know: nothing.
            Self.altEdit(of: withAlt)?(&editor)
        case .character:
            break  // Typed above.
        case .enter:
            return submit()
        case .tab:
            // A name in the recipient list, or a mention in the text; never a Tab character,
            // which would be sent.
            _ = completion.complete(&editor)
        case .backspace:
            editor.deleteBackward()
        case .delete:
            editor.deleteForward()
        case .left, .control("b"):
            editor.moveLeft()
        case .right, .control("f"):
            editor.moveRight()
        case .controlLeft:
            editor.moveWordLeft()
        case .controlRight:
            editor.moveWordRight()
        case .home, .control("a"):
            editor.moveToStart()
        case .end, .control("e"):
            editor.moveToEnd()
            backToTheBottom()
            endSearchSteps()
        case .control("u"):
            editor.deleteToStart()
        case .control("k"):
            editor.deleteToEnd()
        case .control("w"):
            editor.deleteWordBackward()
        case .up, .control("p"):
            if let line = history.previous(current: editor.text) { editor.setText(line) }
        case .down, .control("n"):
            if let line = history.next(current: editor.text) { editor.setText(line) }
        case .pageUp:
            scroll(by: max(1, paneHeight - 1))
        case .pageDown:
            scroll(by: -max(1, paneHeight - 1))
        case .wheelUp:
            scroll(by: Self.wheelRows)
        case .wheelDown:
            scroll(by: -Self.wheelRows)
        case .focusIn:
            attention.focusChanged(to: true)
        case .focusOut:
            attention.focusChanged(to: false)
        case .control("r"):
            searchFromKey()
        case .control("c"):
            return quit()
        case .control("d"):
            if editor.isEmpty { return quit() }
            editor.deleteForward()
        case .control("l"):
            return .repaint
        case .control("z"):
            return .suspend
        case .control, .afterEscape:
            break  // `afterEscape`: resolved above.
        }
        return nil
    }

    /// Characters typed, or pasted, one after the other, taken into the input at once: each
    /// insertion re-reads the whole line to join combining marks, so a 10,000-character line
    /// pasted key by key took 6 s, and 70,000 characters over a minute with the screen frozen.
    public mutating func type(_ scalars: [Unicode.Scalar]) {
        guard !isTooSmall, !scalars.isEmpty else { return }
        completion.endCycle()
        backToTheBottom()
        var text = String.UnicodeScalarView()
        text.append(contentsOf: scalars)
        editor.insert(String(text))
        attention.caughtUp(atBottom: scrollback.isAtBottom)
    }

    /// What Alt and `key` do to the input, if Alt gives `key` a meaning.
    private static func altEdit(of key: Key) -> ((inout LineEditor) -> Void)? {
        switch key {
        case .character("b"), .character("B"): { $0.moveWordLeft() }
        case .character("f"), .character("F"): { $0.moveWordRight() }
        case .character("d"), .character("D"): { $0.deleteToWordEnd() }
        case .backspace: { $0.deleteToWordStart() }
        default: nil
        }
    }

    /// While the screen is too small to show the input, typing would edit, and Enter send, a
    /// line the user cannot see: only quitting, repainting, suspending and the focus reports
    /// count.
    private mutating func handleWhileTooSmall(_ key: Key) -> ScreenCommand? {
        switch key {
        case .control("c"): return quit()
        case .control("l"): return .repaint
        case .control("z"): return .suspend
        case .focusIn: attention.focusChanged(to: true)
        case .focusOut: attention.focusChanged(to: false)
        default: break
        }
        return nil
    }

    /// Rows one notch of the wheel scrolls, as in most terminals and browsers.
    static let wheelRows = 3

    private static func editsInput(_ key: Key) -> Bool {
        switch key {
        case .character, .tab, .backspace, .delete, .up, .down, .control("u"), .control("k"), .control("w"),
            .control("p"), .control("n"), .control("d"), .alt(.backspace), .alt(.character("d")),
            .alt(.character("D")):
            return true
        default:
            return false
        }
    }

    private mutating func scroll(by rows: Int) {
        scrollback.scroll(by: rows, height: paneHeight, rowCount: rowCount)
        if scrollback.isAtBottom { endSearchSteps() }
    }

    /// Back to the newest line, where the last search's highlight has done its work.
    mutating func backToTheBottom() {
        scrollback.scrollToBottom()
        hideSearchMatch()
    }
}
