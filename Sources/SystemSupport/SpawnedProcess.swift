import Synchronization
import SystemPackage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A child process started the way a shell starts one: no signal blocked, every signal at its
/// default action, and no descriptor but its own stdin, stdout and stderr. Its owner reads its
/// output and decides when it ends; every way out reaps it.
///
/// Not Foundation's `Process`: that passes on the parent's signal mask (a test runs on a
/// Dispatch worker thread, which blocks most signals, and an event loop may ignore some), so a
/// server started from a test would never see SIGTERM the normal way, nor a tmux server
/// SIGCHLD; it lets the child inherit every descriptor another thread has open at that moment
/// (a pipe's write end, a socket), which keeps those open for the child's whole life; it reports
/// a failed start as a Foundation error dump rather than in words; and it reaps the child itself,
/// where the bench must be able to end anything it started with SIGKILL and `waitpid`.
public final class SpawnedProcess: Sendable {
    public enum Input: Sendable {
        case nullDevice
        /// A pipe whose write end is `standardInput`.
        case pipe
    }

    public enum ErrorOutput: Sendable {
        /// A pipe of its own, read from `standardError`.
        case pipe
        /// The same pipe as stdout.
        case standardOutput
    }

    public let pid: pid_t
    /// The parent's ends of the child's standard streams (raw descriptors, since swift-system's
    /// `FileDescriptor` is not `Sendable`); nil where the child got /dev/null or shares stdout.
    /// The owner reads them to their end and closes them.
    public let standardInput: CInt?
    public let standardOutput: CInt
    public let standardError: CInt?
    private let exit = Mutex<ChildExit?>(nil)

    /// Starts `executable` (a path, or a name looked up in PATH as a shell does) with
    /// `arguments`, and `environment` in place of this process's own when given.
    public init(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        input: Input = .nullDevice, errorOutput: ErrorOutput = .pipe
    ) throws(SpawnError) {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // Close-on-exec from the start, so that a child another thread starts meanwhile never
        // holds them; dup2 clears it on the child's copies.
        var parentEnds: [CInt] = []
        var childEnds: [CInt] = []
        defer { for descriptor in childEnds { close(descriptor) } }
        /// A pipe that becomes the child's `target`; returns the parent's end.
        func pipe(to target: CInt, childReads: Bool) throws(SpawnError) -> CInt {
            let ends: (readEnd: FileDescriptor, writeEnd: FileDescriptor)
            do {
                ends = try FileDescriptor.pipe(options: .closeOnExec)
            } catch {
                for descriptor in parentEnds { close(descriptor) }
                throw SpawnError(executable: executable, reason: .pipe(error))
            }
            let (childEnd, parentEnd) =
                childReads ? (ends.readEnd, ends.writeEnd) : (ends.writeEnd, ends.readEnd)
            posix_spawn_file_actions_adddup2(&actions, childEnd.rawValue, target)
            childEnds.append(childEnd.rawValue)
            parentEnds.append(parentEnd.rawValue)
            return parentEnd.rawValue
        }

        var stdin: CInt? = nil
        if case .pipe = input {
            stdin = try pipe(to: 0, childReads: true)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        let stdout = try pipe(to: 1, childReads: false)
        var stderr: CInt? = nil
        if case .pipe = errorOutput {
            stderr = try pipe(to: 2, childReads: false)
        } else {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        Self.closeInheritedDescriptors(&actions)

        var attributes = Self.shellSignalState()
        defer { posix_spawnattr_destroy(&attributes) }

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var envp = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer { for entry in envp ?? [] { free(entry) } }

        var pid: pid_t = 0
        let spawned =
            envp == nil
            ? posix_spawnp(&pid, executable, &actions, &attributes, argv, environ)
            : posix_spawnp(&pid, executable, &actions, &attributes, argv, &envp!)
        guard spawned == 0 else {
            for descriptor in parentEnds { close(descriptor) }
            throw SpawnError(executable: executable, reason: .start(Errno(rawValue: spawned)))
        }
        self.pid = pid
        self.standardInput = stdin
        self.standardOutput = stdout
        self.standardError = stderr
    }

    /// How the process ended, or nil while it runs; reaps it once it has ended.
    public var exitIfEnded: ChildExit? {
        exit.withLock { exit in
            if exit == nil {
                var status: Int32 = 0
                if waitpid(pid, &status, WNOHANG) == pid { exit = ChildExit(waitStatus: status) }
            }
            return exit
        }
    }

    /// Waits up to `seconds` for the process to end on its own; how it ended, or nil.
    public func waitForExit(seconds: Double) -> ChildExit? {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while exitIfEnded == nil && ContinuousClock.now < deadline { usleep(5_000) }
        return exitIfEnded
    }

    /// Sends `signal` unless the process has already been reaped (its pid may be someone
    /// else's by then).
    public func signal(_ signal: Int32) {
        exit.withLock { exit in
            if exit == nil { _ = deliver(signal, to: pid) }
        }
    }

    /// SIGTERM, then SIGKILL if it has not exited within `graceSeconds`; reaped either way, so
    /// that not even a process that ignores SIGTERM outlives its owner.
    @discardableResult
    public func stop(graceSeconds: Double) -> ChildExit {
        if let ended = exitIfEnded { return ended }
        signal(SIGTERM)
        if let ended = waitForExit(seconds: graceSeconds) { return ended }
        return kill()
    }

    /// SIGKILL and reap.
    @discardableResult
    public func kill() -> ChildExit {
        signal(SIGKILL)
        return waitForExit()
    }

    /// Waits for the process to end, however long that takes, and reaps it.
    @discardableResult
    public func waitForExit() -> ChildExit {
        exit.withLock { exit in
            if let exit { return exit }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            let ended = ChildExit(waitStatus: status)
            exit = ended
            return ended
        }
    }

    /// The signal state a shell gives a child: nothing blocked, every signal at its default
    /// action, whatever this process blocks or ignores.
    private static func shellSignalState() -> posix_spawnattr_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        return attributes
    }

    /// glibc's posix_spawn_file_actions_addclosefrom_np, looked up at run time because Swift's
    /// Glibc module does not declare it; without it, the descriptors open now are closed one by
    /// one.
    private static func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t) {
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, CInt) -> CInt
        if let symbol = dlsym(
            UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")
        {
            _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
            return
        }
        guard let directory = opendir("/proc/self/fd") else { return }
        defer { closedir(directory) }
        let own = dirfd(directory)
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            if let descriptor = CInt(name), descriptor > 2, descriptor != own {
                posix_spawn_file_actions_addclose(&actions, descriptor)
            }
        }
    }
}

/// `kill(2)`, named apart from `SpawnedProcess.kill()`, which would hide it there.
private func deliver(_ signal: Int32, to pid: pid_t) -> Int32 {
    kill(pid, signal)
}

/// Why a child could not be started, in words.
public struct SpawnError: Error, CustomStringConvertible {
    public enum Reason: Sendable {
        case pipe(Errno)
        case start(Errno)
    }

    public let executable: String
    public let reason: Reason

    public var description: String {
        switch reason {
        case .pipe(let error):
            return "cannot start \(executable): pipe: \(error.words)"
        case .start(let error):
            let words =
                switch error {
                case .noSuchFileOrDirectory: executable.contains("/") ? "no such file" : "not found in PATH"
                case .permissionDenied: "permission denied (not an executable file?)"
                case .execFormatError: "not an executable format"
                default: error.words
                }
            return "cannot start \(executable): \(words)"
        }
    }
}
