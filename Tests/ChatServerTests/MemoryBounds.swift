import ChatTestSupport
import Foundation
import Testing

/// Memory bounds hold for an ordinary build. Under AddressSanitizer (`.ci/run` sets
/// `ACHAT_SANITIZER` for that run) its quarantine and shadow memory move RSS beyond any bound
/// worth stating, so they are not checked there; LeakSanitizer checks what matters instead, at
/// each server process's exit.
enum MemoryBound {
    static let isChecked = ProcessInfo.processInfo.environment["ACHAT_SANITIZER"] == nil

    static func expect(
        _ usedKiB: Int,
        atMostKiB limitKiB: Int,
        _ what: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        guard isChecked else { return }
        #expect(
            usedKiB <= limitKiB, "\(what): \(usedKiB) KiB, limit \(limitKiB) KiB",
            sourceLocation: sourceLocation)
    }
}

/// The server's peak resident memory may grow by at most `limitMiB` over `baselineKiB`.
func expectPeakGrowth(
    of server: ServerProcess,
    over baselineKiB: Int,
    atMostMiB limitMiB: Int,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    MemoryBound.expect(
        server.child.memory().peakKiB - baselineKiB, atMostKiB: limitMiB * 1024, "server peak RSS growth",
        sourceLocation: sourceLocation)
}
