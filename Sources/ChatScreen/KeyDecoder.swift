import CursesShim

/// A key as the screen understands it.
public enum Key: Equatable, Sendable {
    case character(Unicode.Scalar)
    /// Ctrl and a letter, given in lower case.
    case control(Character)
    case enter, tab, backspace, delete
    case left, right, home, end, up, down, pageUp, pageDown
    case controlLeft, controlRight
    /// The mouse wheel, where the terminal reports it.
    case wheelUp, wheelDown
    /// The terminal window gained or lost the focus, where the terminal reports it.
    case focusIn, focusOut
    /// Alt and a key: terminals send Escape and the key together.
    indirect case alt(Key)
    /// Escape pressed on its own, then a key: readline's way to Alt without an Alt key, and
    /// also what a person who pressed Escape by habit then types.
    indirect case afterEscape(Key)
}

/// What curses reads from the terminal, before `KeyDecoder` makes keys of it.
public enum TerminalInput: Equatable, Sendable {
    /// A character, or a control code (Escape is 27).
    case character(UInt32)
    /// A curses `KEY_*` code.
    case function(Int32)
    /// Ctrl-Left and Ctrl-Right, which curses has no codes for (see CursesShim).
    case controlLeft, controlRight
    /// The wheel, which curses reports as a mouse event.
    case wheelUp, wheelDown
}

/// Turns what curses reads into keys. Curses decodes the escape sequences its terminfo entry
/// lists; the rest arrive as Escape followed by plain characters, and this pairs them up: Alt
/// and a key, or an escape sequence curses did not know, which is dropped whole (Shift-Left on
/// a TERM whose terminfo lacks it, say), since what follows the Escape would otherwise land in
/// the input as text like `[1;2D`. An Escape nothing came with (curses waits its escape delay
/// for more, and `inputPaused` says nothing came) was pressed on its own: the key after it is
/// `afterEscape`, not `alt`.
///
/// Between the bracketed-paste marks (Escape [200~ and Escape [201~, sent by terminals where the
/// screen enabled xterm's mode 2004) a Tab is a pasted character, not the completion key: text
/// copied from a table must arrive as it was. Every other key there (control characters, the
/// sequences of arrow and editing keys, Alt and a key) is dropped: none was pressed. Terminals
/// without the mode never send the marks.
public struct KeyDecoder: Equatable, Sendable {
    private var escape = EscapeState.none
    /// Inside a bracketed paste.
    public private(set) var isPasting = false

    private enum EscapeState: Equatable, Sendable {
        case none
        /// Escape alone so far: Alt and a key, or the start of a sequence; `alone` once the
        /// input paused after it.
        case pending(alone: Bool)
        /// After Escape [: parameters and intermediates until the final character (only the
        /// first few are kept: enough to tell the paste marks and focus reports apart).
        case controlSequence(parameters: String)
        /// After Escape O: one more character.
        case singleShift
    }

    public init() {}

    /// The key `input` completes, or nil while a sequence is under way or for input that is no
    /// key of ours.
    public mutating func decode(_ input: TerminalInput) -> Key? {
        let key = escapeDecoded(input)
        guard isPasting else { return key }
        switch key {
        case .tab: return .character("\t")
        case .character, .enter: return key
        // Text copied from a log or a terminal can carry a stray control character or escape
        // sequence; pasted, it must not quit (Ctrl-C), suspend (Ctrl-Z), delete what came before
        // it, or recall a line from the history (an arrow key's sequence) in mid-paste.
        default: return nil
        }
    }

    private mutating func escapeDecoded(_ input: TerminalInput) -> Key? {
        guard let key = Self.key(input) else { return nil }
        switch escape {
        case .none:
            if key == .character("\u{1B}") {
                escape = .pending(alone: false)
                return nil
            }
            return key
        case .pending(let alone):
            switch key {
            case .character("\u{1B}"):
                // Escape twice: still waiting for the key that goes with the newer one.
                escape = .pending(alone: false)
                return nil
            case .character("["):
                escape = .controlSequence(parameters: "")
                return nil
            case .character("O") where !alone:
                escape = .singleShift
                return nil
            default:
                // `O` after an Escape pressed on its own is a letter typed (three-byte SS3 keys
                // come whole); `[` still starts a sequence, since a network can split those.
                escape = .none
                return alone ? .afterEscape(key) : .alt(key)
            }
        case .singleShift:
            escape = .none
            if case .character = key { return nil }
            return key
        case .controlSequence(let parameters):
            guard case .character(let scalar) = key else {
                escape = .none
                return key
            }
            switch scalar.value {
            case 0x20...0x3F:
                // Past four characters it matches no sequence of ours, however it goes on.
                escape = .controlSequence(
                    parameters: parameters.count < 4 ? parameters + String(scalar) : parameters)
                return nil
            case 0x40...0x7E:
                escape = .none
                switch (parameters, scalar) {
                // Focus reports (xterm's mode 1004), which curses knows no key for.
                case ("", "I"): return .focusIn
                case ("", "O"): return .focusOut
                case ("200", "~"): isPasting = true
                case ("201", "~"): isPasting = false
                default: break
                }
                return nil
            default:
                // Not part of any sequence: the sequence was cut short, the key is a key.
                escape = .none
                return key
            }
        }
    }

    /// Nothing more has arrived for now, after curses waited its escape delay for the rest of
    /// a sequence: an Escape still waiting for its key was pressed on its own. A sequence under
    /// way goes on: one split by the network still arrives whole.
    public mutating func inputPaused() {
        if case .pending = escape { escape = .pending(alone: true) }
    }

    /// The key one input stands for on its own; Escape is `.character("\u{1B}")` here and never
    /// leaves the decoder.
    static func key(_ input: TerminalInput) -> Key? {
        switch input {
        case .character(let code): return key(character: code)
        case .function(let code): return key(function: code)
        case .controlLeft: return .controlLeft
        case .controlRight: return .controlRight
        case .wheelUp: return .wheelUp
        case .wheelDown: return .wheelDown
        }
    }

    static func key(character code: UInt32) -> Key? {
        switch code {
        case 9: return .tab
        case 10, 13: return .enter
        case 8, 127: return .backspace
        case 1...26: return .control(Character(Unicode.Scalar(code + 96)!))
        case 27: return .character("\u{1B}")
        case 0..<32: return nil
        default: return Unicode.Scalar(code).map(Key.character)
        }
    }

    static func key(function code: Int32) -> Key? {
        switch code {
        case KEY_LEFT: return .left
        case KEY_RIGHT: return .right
        case KEY_UP: return .up
        case KEY_DOWN: return .down
        case KEY_HOME: return .home
        case KEY_END: return .end
        case KEY_PPAGE: return .pageUp
        case KEY_NPAGE: return .pageDown
        case KEY_BACKSPACE: return .backspace
        case KEY_DC: return .delete
        case KEY_ENTER: return .enter
        default: return nil
        }
    }
}
