/// Messages the user has not seen yet, and how the terminal is asked to say so: a bell for each
/// message that arrives unseen (scrolled up, or in a window without the focus, where the
/// terminal reports focus), and the count in the window title until the user is back.
public struct Attention: Equatable, Sendable {
    /// True until the terminal reports otherwise: most never do.
    public private(set) var isFocused = true
    public private(set) var unread = 0
    /// Bells asked for so far; the loop rings once whenever this has grown.
    public private(set) var bells = 0

    public init() {}

    /// A message arrived; `seen` when the pane shows the newest line.
    mutating func messageArrived(seen: Bool, rings: Bool) {
        guard !seen || !isFocused else { return }
        unread += 1
        if rings { bells += 1 }
    }

    mutating func focusChanged(to focused: Bool) {
        isFocused = focused
    }

    /// The user looks at the newest line in a focused window: everything is seen.
    mutating func caughtUp(atBottom: Bool) {
        if atBottom && isFocused { unread = 0 }
    }

    /// The window title: who and where, after the unread count while there is one.
    public func title(login: String?, serverName: String) -> String {
        let base = (login.map { "\($0) - " } ?? "") + "a-chat " + serverName
        return unread > 0 ? "(\(unread)) " + base : base
    }
}

/// The last `/search` (or Ctrl-R): its text and the entry it found, so that searching again
/// finds an older one.
public struct Search: Equatable, Sendable {
    public internal(set) var term: String?
    /// The sequence number of the entry found last.
    public internal(set) var match: Int?

    public init() {}
}
