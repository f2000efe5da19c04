import ChatProtocol

/// Text from a peer made safe to show on a terminal: every character that would steer the
/// terminal instead of being drawn (ESC and the other C0 and C1 controls, a lone carriage
/// return, line and paragraph separators, bidirectional overrides and isolates) is replaced by
/// a visible stand-in, so `a\rfrom mallory: b` cannot pass for a line from mallory and an escape
/// sequence cannot recolour or clear the screen. Plain mode uses it only when writing to a
/// terminal: a pipe gets the bytes as they came.
public enum TerminalStandIns {
    /// What `scalar` is shown as, or nil when it is shown as itself.
    public static func standIn(for scalar: Unicode.Scalar) -> String? {
        switch scalar.value {
        case 0x09:
            // A tab is white space people type; the screen shows it as a space.
            return nil
        case 0x00...0x1F:
            // The Control Pictures block has a picture for each C0 control: ␛ for ESC, ␍ for CR.
            return String(Unicode.Scalar(0x2400 + scalar.value)!)
        case 0x7F:
            return "\u{2421}"
        case 0x80...0x9F, 0x2028, 0x2029, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069, 0x061C:
            return "<" + Login.codePoint(scalar) + ">"
        default:
            return nil
        }
    }

    /// `text` with every character `standIn(for:)` replaces replaced.
    public static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { standIn(for: $0) != nil }) else { return text }
        var result = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if let standIn = standIn(for: scalar) {
                result.append(contentsOf: standIn.unicodeScalars)
            } else {
                result.append(scalar)
            }
        }
        return String(result)
    }
}
