import NIOCore

/// Runs a node's tasks on one of its own event loops instead of Swift's shared pool.
///
/// The shared pool has as many threads as cores, and anything in the process that blocks one
/// (a test waiting for a child process, say) delays every task on it. A heartbeat delayed past
/// the lease's safety margin costs the node its lease, and a query delayed past the query
/// timeout costs it its connection: measured in the full test suite, where every join timed out
/// together. The node's tasks carry this executor as their preference, and as a task-local so
/// that the unstructured tasks they start (timeouts) use it too.
final class LoopExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    @TaskLocal static var current: LoopExecutor?

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }

    /// Starts `body` as a task on this executor.
    func spawn(_ body: @escaping @Sendable () async -> Void) -> Task<Void, Never> {
        Task(executorPreference: self) {
            await Self.$current.withValue(self) { await body() }
        }
    }

    /// Runs `body` on this executor.
    func run<Value: Sendable>(_ body: () async throws -> Value) async rethrows -> Value {
        try await withTaskExecutorPreference(self) {
            try await Self.$current.withValue(self) { try await body() }
        }
    }
}
