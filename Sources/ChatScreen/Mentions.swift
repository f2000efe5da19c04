/// Where a message names someone: their login as a word of its own, in any case, so `Alice,`
/// and `@alice` mention alice and `malice` does not.
enum Mentions {
    /// The character offsets of every mention of `login` in `text`.
    static func ranges(of login: String, in text: String) -> [Range<Int>] {
        let name = Array(login.lowercased())
        guard !name.isEmpty else { return [] }
        let characters = Array(text)
        let folded = characters.map { String($0).lowercased() }
        var found: [Range<Int>] = []
        var start = 0
        while start + name.count <= characters.count {
            let matches = (0..<name.count).allSatisfy { folded[start + $0] == String(name[$0]) }
            let isWord =
                matches && (start == 0 || !isWordCharacter(characters[start - 1]))
                && (start + name.count == characters.count
                    || !isWordCharacter(characters[start + name.count]))
            if isWord {
                found.append(start..<start + name.count)
                start += name.count
            } else {
                start += 1
            }
        }
        return found
    }

    private static func isWordCharacter(_ character: Character) -> Bool {
        character.isLetter || character.isNumber || character == "_"
    }
}
