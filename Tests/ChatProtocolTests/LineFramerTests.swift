import ChatProtocol
import NIOCore
import Testing

/// Feeds `chunks` through a framer the way reads arrive, then ends the stream.
private func frame(_ chunks: [[UInt8]], limit: Int = 16, thenEndOfInput: Bool = false) -> [String] {
    var framer = LineFramer(maximumLineBytes: limit)
    var buffer = ByteBuffer()
    var events: [String] = []
    func drain() {
        while let event = framer.nextEvent(&buffer) {
            switch event {
            case .line(let line): events.append(String(buffer: line))
            case .overlong: events.append("<overlong>")
            }
        }
        #expect(buffer.readableBytes <= limit + 1, "the framer must never hold more than one line")
        buffer.discardReadBytes()
    }
    for chunk in chunks {
        buffer.writeBytes(chunk)
        drain()
    }
    if thenEndOfInput {
        while let event = framer.nextEvent(&buffer, atEndOfInput: true) {
            switch event {
            case .line(let line): events.append(String(buffer: line))
            case .overlong: events.append("<overlong>")
            }
        }
    }
    return events
}

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

@Suite struct LineFramerTests {
    @Test func splitsLinesAndDropsCarriageReturns() {
        #expect(frame([bytes("a\nbb\r\n\nc\r\r\n")]) == ["a", "bb", "", "c\r"])
    }

    @Test func joinsLinesSplitAcrossReads() {
        #expect(frame([bytes("hel"), bytes("lo\r"), bytes("\nwor"), bytes("ld\n")]) == ["hello", "world"])
    }

    @Test func acceptsALineOfExactlyTheLimit() {
        let line = String(repeating: "x", count: 16)
        #expect(frame([bytes(line + "\r\n")]) == [line])
        #expect(frame(bytes(line + "\n").map { [$0] }) == [line])
    }

    @Test func reportsAnOverlongLineOnceAndKeepsGoing() {
        let long = String(repeating: "y", count: 100)
        #expect(frame([bytes("ok\n" + long + "\nnext\n")]) == ["ok", "<overlong>", "next"])
        // The same line trickling in, byte by byte and in larger pieces.
        #expect(frame(bytes(long + "\nnext\n").map { [$0] }) == ["<overlong>", "next"])
        #expect(
            frame([bytes(String(long.prefix(40))), bytes(String(long.dropFirst(40)) + "\nz\n")]) == [
                "<overlong>", "z",
            ])
    }

    @Test func takesALastLineWithoutNewlineAtEndOfInput() {
        #expect(frame([bytes("a\nlast\r")], thenEndOfInput: true) == ["a", "last"])
        #expect(frame([bytes("a\n")], thenEndOfInput: true) == ["a"])
        #expect(frame([bytes(String(repeating: "q", count: 17))], thenEndOfInput: true) == ["<overlong>"])
        #expect(
            frame([bytes(String(repeating: "q", count: 40) + "\nok")], thenEndOfInput: true) == [
                "<overlong>", "ok",
            ])
    }

    @Test func anOverlongLineWithoutEndDiscardsEverything() {
        let chunks = Array(repeating: bytes(String(repeating: "z", count: 10)), count: 1000)
        #expect(frame(chunks) == ["<overlong>"])
    }
}
