import ChatProtocol

/// `Login.validate` and the notices about logins: a login that passes obeys every rule and passes
/// again unchanged; every notice, whatever it quotes, is one line of visible text.
enum LoginTarget {
    static func run(_ input: UnsafeBufferPointer<UInt8>) {
        // The server only validates valid UTF-8; repaired text must not crash either.
        let line = String(validating: input, as: UTF8.self) ?? String(decoding: input, as: UTF8.self)
        switch Login.validate(line) {
        case .success(let login):
            require(login == Login.trimmed(line), "\(login.debugDescription) is not the trimmed line")
            require(Login.validate(login) == .success(login), "\(login.debugDescription) does not pass again")
            require(
                !login.isEmpty && login.utf8.count <= Login.maximumBytes
                    && login.count <= Login.maximumCharacters,
                "\(login.debugDescription) is out of bounds")
            for scalar in login.unicodeScalars {
                require(
                    !Login.isInvisible(scalar) && !scalar.properties.isWhitespace && scalar != ","
                        && scalar != ":",
                    "\(login.debugDescription) holds \(Login.codePoint(scalar))")
            }
            require(login._nfcCodeUnits.elementsEqual(login.utf8), "\(login.debugDescription) is not NFC")
            requireOneVisibleLine(Notice.loginTaken(login).line)
        case .failure(let refusal):
            requireOneVisibleLine(Notice.loginRefused(refusal).line)
        }
        requireOneVisibleLine(Notice.recipientOffline(line).line)
        let quoted = VisibleText.quoted(line)
        require(quoted.utf8.count <= VisibleText.maximumBytes + 5, "\(quoted.utf8.count) bytes quoted")
        require(
            line.isEmpty || line.hasPrefix("…") || quoted != "'…'",
            "\(line.debugDescription) shows as nothing")
    }

    static func requireOneVisibleLine(_ line: String) {
        require(line.hasSuffix("\n"), "\(line.debugDescription) does not end its line")
        for scalar in line.unicodeScalars.dropLast() {
            require(
                scalar == " " || !(Login.isInvisible(scalar) || scalar.properties.isWhitespace),
                "\(line.debugDescription) shows \(Login.codePoint(scalar))")
        }
    }
}
