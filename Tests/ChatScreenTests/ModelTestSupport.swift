import Testing

@testable import ChatScreen

/// A model of `rows` × `columns` with a fixed clock, named "127.0.0.1:8080", without timestamps.
func makeModel(login: String? = "alice", rows: Int = 6, columns: Int = 40) -> ChatScreenModel {
    var model = ChatScreenModel(
        options: .init(serverName: "127.0.0.1:8080", login: login, showsTimestamps: false),
        clock: { 0 }
    )
    model.resize(rows: rows, columns: columns)
    return model
}

/// Types `text` key by key; no key of plain text asks anything of the loop.
func type(_ text: String, into model: inout ChatScreenModel) {
    for scalar in text.unicodeScalars { #expect(model.handle(.character(scalar)) == nil) }
}
