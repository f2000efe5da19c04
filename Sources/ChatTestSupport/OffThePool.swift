import Foundation

/// Runs blocking work (blocking sockets, a child process to its end, the bench) on a thread of
/// its own. On the concurrency pool it would hold one of the few threads every test's tasks
/// share (two on this machine), and stall the tests running beside it: their cluster nodes'
/// heartbeats, their clients' reads.
public func offThePool<Value: Sendable>(_ work: @escaping @Sendable () throws -> Value) async throws -> Value
{
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
    }
}
