import ChatClient
import ChatProtocol
import Foundation
import NIOCore
import Testing

@Suite struct FileLinesTests {
    private func lines(of content: String, limit: Int = 100) async throws -> [String] {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lines-\(UUID().uuidString)")
            .path
        try Data(content.utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let descriptor = open(path, O_RDONLY)
        defer { close(descriptor) }
        var result: [String] = []
        for try await framed in FileLines(descriptor: descriptor, maximumLineBytes: limit) {
            switch framed {
            case .line(let line): result.append(String(buffer: line))
            case .overlong: result.append("<overlong>")
            }
        }
        return result
    }

    @Test func framesLinesLikeTheSocket() async throws {
        #expect(try await lines(of: "a\nb\r\n\nc") == ["a", "b", "", "c"])
        #expect(try await lines(of: "") == [])
        #expect(try await lines(of: "x\n") == ["x"])
    }

    @Test func skipsOverlongLines() async throws {
        let long = String(repeating: "x", count: 300)
        #expect(
            try await lines(of: "a\n\(long)\nb\n\(long)", limit: 100) == [
                "a", "<overlong>", "b", "<overlong>",
            ])
    }

    @Test func readsMoreThanOneChunk() async throws {
        let many = (0..<20_000).map { "line \($0)" }
        #expect(try await lines(of: many.joined(separator: "\n") + "\n") == many)
    }
}
