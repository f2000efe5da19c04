import ChatProtocol
import CursesShim

/// The terminal, through curses. Curses is not thread-safe, so an instance is made, used and
/// closed on one thread, the UI loop's; it is deliberately not Sendable.
final class CursesTerminal {
    private var isOpen = true
    private var decoder = KeyDecoder()

    /// Takes over the terminal; nil when curses cannot drive it (an unknown or dumb TERM).
    static func open() -> CursesTerminal? {
        chat_curses_begin() == 0 ? CursesTerminal() : nil
    }

    private init() {}

    /// Gives the terminal back in the state it was found in. Safe to call more than once.
    func close() {
        guard isOpen else { return }
        isOpen = false
        chat_curses_end()
    }

    deinit {
        close()
    }

    var size: (rows: Int, columns: Int) {
        (Int(chat_curses_rows()), Int(chat_curses_columns()))
    }

    func updateSize() {
        chat_curses_update_size()
    }

    /// Every key that has arrived, without waiting for more.
    func pendingKeys() -> [Key] {
        var keys: [Key] = []
        var code: UInt32 = 0
        while true {
            let input: TerminalInput
            switch Int32(chat_curses_read_key(&code)) {
            case Int32(CHAT_KEY_CHARACTER): input = .character(code)
            case Int32(CHAT_KEY_FUNCTION): input = .function(Int32(code))
            case Int32(CHAT_KEY_CONTROL_LEFT): input = .controlLeft
            case Int32(CHAT_KEY_CONTROL_RIGHT): input = .controlRight
            case Int32(CHAT_KEY_WHEEL_UP): input = .wheelUp
            case Int32(CHAT_KEY_WHEEL_DOWN): input = .wheelDown
            case Int32(CHAT_KEY_IGNORED): continue
            default:
                decoder.inputPaused()
                return keys
            }
            if let key = decoder.decode(input) { keys.append(key) }
        }
    }

    func draw(_ frame: Frame) {
        chat_curses_clear()
        var scalars: [UInt32] = []
        for (rowIndex, row) in frame.rows.enumerated() {
            var column = 0
            for styled in row {
                scalars.removeAll(keepingCapacity: true)
                scalars.append(contentsOf: styled.glyph.scalars.map(\.value))
                let (attributes, pair) = Self.appearance(of: styled.style, senderPairs: senderPairs)
                chat_curses_put(
                    Int32(rowIndex), Int32(column), scalars, Int32(scalars.count), attributes, pair)
                column += styled.glyph.width
            }
        }
        chat_curses_present(Int32(frame.cursor.row), Int32(frame.cursor.column))
    }

    func repaint() {
        chat_curses_repaint()
    }

    /// Stops the client until the shell continues it, the terminal given back meanwhile; false,
    /// having done nothing, where no job-control shell started the client to continue it.
    func suspend() -> Bool {
        chat_curses_suspend() == 0
    }

    /// Rings the bell.
    func bell() {
        chat_curses_bell()
    }

    /// Whether `setTitle` reaches the window title.
    var canSetTitle: Bool { chat_curses_title_support() != 0 }

    /// Sets the window title where the terminal supports it; control characters never reach
    /// the terminal.
    func setTitle(_ title: String) {
        let safe = String(String.UnicodeScalarView(title.unicodeScalars.filter { !Login.isInvisible($0) }))
        chat_curses_set_title(safe)
    }

    /// Asks the terminal to report the mouse wheel; false where curses cannot.
    @discardableResult
    func enableWheel() -> Bool {
        chat_curses_enable_wheel() == 1
    }

    /// The colour pairs senders are drawn in.
    struct SenderPairs: Equatable {
        var first: Int32
        var count: Int32

        /// Pairs 2 to 5: green, yellow, blue, magenta.
        static let basic = SenderPairs(first: 2, count: 4)
        static let none = SenderPairs(first: 0, count: 0)

        func pair(for colour: Int) -> Int32 {
            count > 0 ? first + Int32(colour % Int(count)) : 0
        }
    }

    private(set) lazy var senderPairs: SenderPairs = {
        var first: Int32 = 0
        let count = chat_curses_sender_pairs(&first)
        return SenderPairs(first: first, count: count)
    }()

    /// Attribute bits and colour pair; pairs 1 to 6 are red, green, yellow, blue, magenta, cyan,
    /// and pairs from 7 on, on terminals with 256 colours, the larger sender palette. Red is the
    /// notices' colour and cyan the remarks', and neither is among the senders' pairs: a
    /// sender's name must never look like either.
    static func appearance(of style: Style, senderPairs: SenderPairs) -> (attributes: Int32, pair: Int32) {
        let bold = Int32(CHAT_ATTRIBUTE_BOLD)
        switch style {
        case .plain: return (0, 0)
        case .timestamp: return (Int32(CHAT_ATTRIBUTE_DIM), 0)
        case .sender(let colour): return (bold, senderPairs.pair(for: colour))
        case .ownMessage: return (bold, 0)
        case .notice: return (bold, 1)
        case .info: return (0, 6)
        case .statusBar: return (Int32(CHAT_ATTRIBUTE_REVERSE), 0)
        case .prompt: return (bold, 0)
        case .mention: return (bold | Int32(CHAT_ATTRIBUTE_UNDERLINE), 0)
        case .searchMatch: return (Int32(CHAT_ATTRIBUTE_REVERSE), 0)
        }
    }
}
