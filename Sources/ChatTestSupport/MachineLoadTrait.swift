import Testing

/// Marks tests that keep both cores busy on their own: floods, hundreds of connections, churn;
/// and tests whose few seconds of timing such a test beside them would break (a cluster node's
/// 3-second lease). They take turns, one at a time, while the light tests go on beside them.
///
/// Swift Testing starts every test at once. On the 2-core CI machine, with some twenty floods
/// running together, a flood that takes 12 s alone took over 100 s, and unrelated screen tests
/// timed out waiting for a line a loaded client had not drawn yet. Taking turns keeps each test
/// near its own pace, so the waits the tests allow stay generous without being stretched.
public struct MachineLoadTrait: SuiteTrait, TestTrait, TestScoping {
    /// Applied to each test of a marked suite, not the suite as a whole: a suite holding the
    /// turn would let its own floods run all at once again.
    public var isRecursive: Bool { true }

    public func provideScope(
        for test: Test,
        testCase: Test.Case?,
        performing function: @Sendable () async throws -> Void
    ) async throws {
        // A marked test in a marked suite would otherwise wait for the turn it holds.
        guard !test.isSuite, !Self.holdsTheTurn else { return try await function() }
        await HeavyTestTurns.shared.wait()
        do {
            try await Self.$holdsTheTurn.withValue(true) { try await function() }
        } catch {
            await HeavyTestTurns.shared.signal()
            throw error
        }
        await HeavyTestTurns.shared.signal()
    }

    @TaskLocal private static var holdsTheTurn = false
}

extension Trait where Self == MachineLoadTrait {
    /// The test loads the machine heavily: it runs while no other such test does.
    public static var loadsTheMachine: Self { MachineLoadTrait() }
}

/// One turn at a time, handed over in the order the tests asked for it.
private actor HeavyTestTurns {
    static let shared = HeavyTestTurns()

    private var isTaken = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func wait() async {
        guard isTaken else {
            isTaken = true
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func signal() {
        guard !waiting.isEmpty else {
            isTaken = false
            return
        }
        waiting.removeFirst().resume()
    }
}
