import ChatBench
import Foundation

/// A child started with no signal blocked, default signal actions, and no descriptor but its
/// own stdin, stdout and stderr.
///
/// Not Foundation's `Process`: a test runs on a Dispatch worker thread, which blocks most
/// signals, and `Process` passes that mask on, so a server started from a test would never see
/// SIGTERM the normal way, nor a tmux server SIGCHLD. It would also inherit every descriptor
/// another test has open at that moment (a pipe's write end, a socket), which keeps those open
/// for the child's whole life.
struct CleanSpawn {
    let pid: pid_t
    /// The parent's ends of the child's standard streams; nil where the child got /dev/null.
    let stdin: CInt?
    let stdout: CInt
    /// nil when stderr goes to `stdout`.
    let stderr: CInt?

    init(
        _ path: String,
        _ arguments: [String],
        environment: [String: String]? = nil,
        stdinPipe: Bool,
        mergeStderr: Bool
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }

        var childEnds: [CInt] = []
        defer { for descriptor in childEnds { close(descriptor) } }
        func makePipe() throws -> (read: CInt, write: CInt) {
            var ends: [CInt] = [-1, -1]
            guard pipe(&ends) == 0 else { throw TestTimeout("pipe: errno \(errno)") }
            // Other tests spawn concurrently; the child side closes everything past 2 anyway.
            for descriptor in ends { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
            return (ends[0], ends[1])
        }

        var parentStdin: CInt? = nil
        if stdinPipe {
            let input = try makePipe()
            posix_spawn_file_actions_adddup2(&actions, input.read, 0)
            childEnds.append(input.read)
            parentStdin = input.write
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        let output = try makePipe()
        posix_spawn_file_actions_adddup2(&actions, output.write, 1)
        childEnds.append(output.write)
        var parentStderr: CInt? = nil
        if mergeStderr {
            posix_spawn_file_actions_adddup2(&actions, output.write, 2)
        } else {
            let errors = try makePipe()
            posix_spawn_file_actions_adddup2(&actions, errors.write, 2)
            childEnds.append(errors.write)
            parentStderr = errors.read
        }
        Self.closeInheritedDescriptors(&actions)

        var attributes = ChildProcessSupport.shellSignalState()
        defer { posix_spawnattr_destroy(&attributes) }

        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        let environment = environment ?? ProcessInfo.processInfo.environment
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for entry in envp { free(entry) } }

        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        guard spawned == 0 else {
            for descriptor in [parentStdin, output.read, parentStderr].compactMap({ $0 }) {
                close(descriptor)
            }
            throw TestTimeout("cannot run \(path): \(String(cString: strerror(spawned)))")
        }
        self.pid = pid
        self.stdin = parentStdin
        self.stdout = output.read
        self.stderr = parentStderr
    }

    /// The exit status as a shell reports it: the code, or 128 plus the signal that ended it.
    static func exitStatus(_ waitStatus: Int32) -> Int32 {
        waitStatus & 0x7f == 0 ? (waitStatus >> 8) & 0xff : 128 + (waitStatus & 0x7f)
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
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for descriptor in open.compactMap({ CInt($0) }) where descriptor > 2 {
            posix_spawn_file_actions_addclose(&actions, descriptor)
        }
    }
}

/// Runs a program to its end and returns its exit status and output (stdout and stderr).
func runToCompletion(_ path: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let child = try CleanSpawn(path, arguments, stdinPipe: false, mergeStderr: true)
    var bytes: [UInt8] = []
    ChildProcessSupport.readToEnd(child.stdout) { bytes += $0 }
    var status: Int32 = 0
    while waitpid(child.pid, &status, 0) < 0 && errno == EINTR {}
    return (CleanSpawn.exitStatus(status), String(decoding: bytes, as: UTF8.self))
}
