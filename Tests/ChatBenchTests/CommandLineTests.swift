import ChatCommandLine
import ChatTestSupport
import Foundation
import Testing

/// The executable's flags, exit statuses and messages, and how it treats a server that fails
/// to start or dies mid-run.
@Suite struct CommandLineTests {
    func bench(_ arguments: [String]) throws -> ChildProcess {
        try ChildProcess(ChildProcess.executable("chat-bench"), arguments)
    }

    /// Each of these once crashed, hung, passed without running anything, or was ignored.
    @Test(arguments: [
        (["--rate", "inf"], "--rate must be above 0 and at most 1000000 messages per second"),
        (["--rate", "1e30"], "--rate must be above 0 and at most 1000000 messages per second"),
        (["--rate", "nan"], "--rate must be above 0 and at most 1000000 messages per second"),
        (["--messages", "3000000000"], "--messages must be between 0 and 2147483647"),
        (
            ["--payload-bytes", "100000000000"],
            "--payload-bytes must be between 25 (the checked header) and 65536 (chat-server's longest line)"
        ),
        (
            ["--payload-bytes", "65000", "--recipients", "99"],
            "a message line (recipient names, ': ', body) would be up to 65892 bytes; chat-server takes "
                + "at most 65536: lower --payload-bytes, --recipients or --slow-readers"
        ),
        (
            ["--clients", "1000000", "--recipients", "999"],
            "--clients × (--recipients + --slow-readers) is at most 16777216 (the checker's and the senders' memory)"
        ),
        (["--stall-timeout", "nan"], "--stall-timeout must be above 0 and at most 3600 seconds"),
        (["--stall-timeout", "inf"], "--stall-timeout must be above 0 and at most 3600 seconds"),
        (["--stall-timeout", "0"], "--stall-timeout must be above 0 and at most 3600 seconds"),
        (["--stall-timeout=-1"], "--stall-timeout must be above 0 and at most 3600 seconds"),
        (["--scenarios", "--only", ""], "--only names no scenario"),
        (["--scenarios", "--only", ","], "--only names no scenario"),
        (
            ["--scenarios", "--only", "nope,100x2000x1"],
            "unknown scenario nope; known: 100x2000x1, 100x2000x10, 2000x50x2, latency-100k/s, idle-5000, "
                + "10000-clients, slow-reader, flat-100, flat-1000, flat-10000, flood-throttled, group-1000, "
                + "cluster, cluster-10k/s"
        ),
        (
            ["--scenarios", "--clients", "1"],
            "--clients has no effect with --scenarios (each scenario sets its own)"
        ),
        (
            ["--scenarios", "--rate", "5"],
            "--rate has no effect with --scenarios (each scenario sets its own)"
        ),
        (
            ["--scenarios", "--recipients", "2"],
            "--recipients has no effect with --scenarios (each scenario sets its own)"
        ),
        (["--repeats", "3"], "--repeats goes with --scenarios"),
        (["--spawn-arg", "--port"], "--spawn-arg goes with --spawn-server"),
        (
            ["--rate", "10", "--window", "4"],
            "--window has no effect with --rate (paced clients send on the clock)"
        ),
        (
            ["--spawn-server", "/bin/true", "--port", "9"],
            "--port has no effect with --spawn-server (the server's 'listening on' line gives it)"
        ),
        (["--flood", "--rate", "5"], "--flood sends without a window or a rate: not with --rate"),
        (["--flood", "--window", "5"], "--flood sends without a window or a rate: not with --window"),
        (["--senders", "0"], "--senders must be between 1 and --clients"),
        (["--clients", "3", "--senders", "4"], "--senders must be between 1 and --clients"),
        (
            ["--reader-rate", "0"],
            "--reader-rate must be at least 1 and at most 1000000000000 bytes per second"
        ),
        (
            ["--reader-rate", "nan"],
            "--reader-rate must be at least 1 and at most 1000000000000 bytes per second"
        ),
        (
            ["--flood", "--messages", "2000000", "--payload-bytes", "1000"],
            "--flood would hold 192832 MiB of message lines; at most 1024 MiB: lower --messages, --payload-bytes "
                + "or --senders"
        ),
        (["--scenarios", "--flood"], "--flood has no effect with --scenarios (each scenario sets its own)"),
        (
            ["--server", "127.0.0.1:1", "--port", "2"],
            "--server and --port exclude each other (give every server as --server HOST:PORT)"
        ),
        (["--server", "localhost"], "--server localhost: not HOST:PORT with a port of 1 to 65535"),
        (
            ["--spawn-server", "/bin/true", "--server", "127.0.0.1:1"],
            "--server has no effect with --spawn-server (the server's 'listening on' line gives it)"
        ),
        (["--spawn-count", "2"], "--spawn-count goes with --spawn-server"),
        (["--spawn-server", "/bin/true", "--spawn-count", "0"], "--spawn-count must be between 1 and 64"),
        (
            ["--scenarios", "--only", "cluster"],
            "the cluster scenarios need 2 servers: give --server 2 times, or use --spawn-server"
        ),
        (
            ["--spawn-server", "/bin/true", "--cluster-url", "postgres://x"],
            "--cluster-url goes with the cluster scenarios (--scenarios --only cluster)"
        ),
        (["--cluster-url", "postgres://x"], "--cluster-url goes with --spawn-server"),
        (
            ["--spawn-server", "/bin/true", "--compare-spawn-server", "/bin/true"],
            "--compare-spawn-server goes with --scenarios"
        ),
        (
            ["--scenarios", "--compare-spawn-server", "/bin/true"],
            "--compare-spawn-server goes with --spawn-server (A is spawned as B is)"
        ),
        (["--compare-spawn-arg", "0"], "--compare-spawn-arg goes with --compare-spawn-server"),
        (["--server-pid", "0"], "--server-pid must be a positive pid"),
        (["--server-pid=-1"], "--server-pid must be a positive pid"),
        // A negative number after a space was taken for a flag ("Missing value for '--…'").
        (["--server-pid", "-1"], "--server-pid must be a positive pid"),
        (["--rate", "-3"], "--rate must be above 0 and at most 1000000 messages per second"),
        (["--port", "-1"], "--port must be 1...65535"),
        (["--server-pid", "2147483647"], "--server-pid 2147483647: no such process"),
        (["--port", "70000"], "--port must be 1...65535"),
        (["--port", "0"], "--port must be 1...65535"),
    ])
    func aBadOrContradictoryFlagIsStatus64(arguments: [String], message: String) async throws {
        let bench = try bench(arguments)
        let status = try await bench.waitForExit(timeout: .seconds(30))
        #expect(status == 64, "\(bench.stdout)\n\(bench.stderr)")
        #expect(bench.stderr.split(separator: "\n").first.map(String.init) == "Error: \(message)")
        #expect(bench.stdout.isEmpty)
    }

    @Test func helpGivesEveryExitStatusAndWhatSpawnArgReplaces() async throws {
        let bench = try bench(["--help"])
        #expect(try await bench.waitForExit(timeout: .seconds(30)) == 0)
        let help = bench.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(help.contains("64 for a bad or contradictory flag"), "\(help)")
        #expect(
            help.contains(
                "it replaces all the defaults (--port 0 --log-level warning): include --port 0 yourself"))
        #expect(help.contains("within --spawn-timeout seconds"))
    }

    @Test func versionIsTheProjects() async throws {
        let bench = try bench(["--version"])
        #expect(try await bench.waitForExit(timeout: .seconds(30)) == 0)
        #expect(bench.stdout == "\(AChatVersion.current)\n")
    }

    @Test(arguments: [
        (["/nonexistent"], "cannot start /nonexistent: no such file"),
        (["no-such-server-anywhere"], "cannot start no-such-server-anywhere: not found in PATH"),
        (["/etc/passwd"], "cannot start /etc/passwd: permission denied (not an executable file?)"),
        (
            ["sh", "--spawn-arg", "-c", "--spawn-arg", "echo starting >&2; echo 'port taken' >&2; exit 3"],
            "sh exited before listening (status 3): port taken"
        ),
        (
            ["sh", "--spawn-arg", "-c", "--spawn-arg", "kill -9 $$"],
            "sh exited before listening (signal 9)"
        ),
        (
            ["sh", "--spawn-arg", "-c", "--spawn-arg", "echo listening on somewhere; sleep 5"],
            "sh printed a 'listening on' line without HOST:PORT: \"listening on somewhere\""
        ),
    ])
    func aServerThatCannotStartIsOneLineAndStatus2(spawn: [String], message: String) async throws {
        let bench = try bench(["--spawn-server"] + spawn)
        #expect(try await bench.waitForExit(timeout: .seconds(30)) == 2, "\(bench.stdout)\n\(bench.stderr)")
        #expect(bench.stderr.hasSuffix("chat-bench: \(message)\n"), "\(bench.stderr)")
    }

    /// A program that never says it listens and ignores SIGTERM: SIGKILL ends it and the bench
    /// reaps it before exiting.
    @Test func aServerThatNeverListensIsKilledAndReaped() async throws {
        let pidFile = FileManager.default.temporaryDirectory
            .appendingPathComponent("chat-bench-\(UUID().uuidString).pid").path
        defer { try? FileManager.default.removeItem(atPath: pidFile) }
        let bench = try bench([
            "--spawn-timeout", "3", "--spawn-server", "sh", "--spawn-arg", "-c",
            "--spawn-arg", "trap '' TERM; echo $$ > \(pidFile); exec sleep 300",
        ])
        // 3 s, long enough for a loaded machine to start sh and run its trap before the SIGTERM
        // (0.3 s was not always: sh then died of it and wrote no pid file), then 1 s between
        // SIGTERM and SIGKILL; the sleep outlasts the test, so only the SIGKILL ends it.
        #expect(try await bench.waitForExit(timeout: .seconds(60)) == 2)
        #expect(bench.stderr == "chat-bench: sh printed no 'listening on' line within 3 s\n")
        let pid = try #require(Int32(String(contentsOfFile: pidFile, encoding: .utf8).filter(\.isNumber)))
        #expect(kill(pid, 0) == -1 && errno == ESRCH, "process \(pid) is still there")
    }

    /// Waits until `bench` is in its message phase: it has written more than its
    /// logins (about 25 bytes a client) and 4 KiB of message lines beside, as the kernel counts
    /// its writes in /proc/PID/io. An event, not a guess at how long logging in takes.
    func waitForMessages(from bench: ChildProcess) async throws {
        while true {
            let io = (try? String(contentsOfFile: "/proc/\(bench.pid)/io", encoding: .utf8)) ?? ""
            let written = io.split(separator: "\n").first { $0.hasPrefix("wchar:") }
                .flatMap { Int($0.dropFirst("wchar:".count).trimmingCharacters(in: .whitespaces)) }
            if let written, written > 4096 { return }
            guard bench.isRunning else { throw BenchExited(output: bench.stdout + bench.stderr) }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    struct BenchExited: Error, CustomStringConvertible {
        let output: String
        var description: String { "the bench exited before its message phase: \(output)" }
    }

    /// The parts of a single-run report, by key.
    func report(_ output: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in output.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = String(line[line.index(colon, offsetBy: 2)...])
        }
        return fields
    }

    func number(_ name: String, in text: String) -> Int? {
        guard let range = text.range(of: name + " ") else { return nil }
        return Int(text[range.upperBound...].prefix { $0.isNumber })
    }

    /// A run whose server dies ends at once, not after the stall timeout, and tells apart what
    /// was lost from what was never sent. The stall timeout is far beyond how long the test
    /// waits, so only noticing the server's death can end the run in time; the report must say
    /// that it did, not that the run stalled.
    @Test func aServerKilledMidRunEndsTheRunAtOnce() async throws {
        let server = try await ServerProcess()
        let bench = try bench([
            "--port", "\(server.port)", "--server-pid", "\(server.child.pid)", "--clients", "5",
            "--messages", "100000", "--rate", "100", "--stall-timeout", "3600",
        ])
        try await waitForMessages(from: bench)
        server.child.signal(SIGKILL)
        #expect(try await bench.waitForExit(timeout: .seconds(60)) == 1, "\(bench.stderr)")
        let output = bench.stdout
        let fields = report(output)
        let deliveries = try #require(fields["deliveries"], "\(output)")
        #expect(!deliveries.contains("stalled"), "\(output)")
        let received = try #require(number("received", in: deliveries))
        let lost = try #require(number("lost", in: deliveries))
        let notSent = try #require(fields["not sent"].flatMap { Int($0.prefix { $0.isNumber }) }, "\(output)")
        #expect(received + lost + notSent == 500_000)
        // Killed early in a run of over 16 minutes: most was never sent, and only what was in
        // flight at the kill is lost.
        #expect(notSent > 0 && lost < notSent, "\(output)")
        let ended = try #require(fields["run ended"], "\(output)")
        #expect(
            ended == "the server (pid \(server.child.pid)) exited"
                || ended == "the server closed every connection mid-run")
        #expect(output.hasSuffix("result: FAIL\n"))
    }

    /// The same with a server the bench spawned: it knows how it ended.
    @Test func aSpawnedServerKilledMidRunIsNamedWithItsSignal() async throws {
        let bench = try bench([
            "--spawn-server", ChildProcess.executable("chat-server").path, "--clients", "5",
            "--messages", "100000", "--rate", "100", "--stall-timeout", "3600",
        ])
        var server: Int32?
        while server == nil, bench.isRunning {
            let children = try? String(
                contentsOfFile: "/proc/\(bench.pid)/task/\(bench.pid)/children", encoding: .utf8)
            server = children?.split(separator: " ").first.flatMap { Int32($0) }
            try await Task.sleep(for: .milliseconds(5))
        }
        let pid = try #require(server, "\(bench.stderr)")
        try await waitForMessages(from: bench)
        kill(pid, SIGKILL)
        #expect(try await bench.waitForExit(timeout: .seconds(60)) == 1, "\(bench.stderr)")
        let output = bench.stdout
        #expect(report(output)["run ended"] == "the server exited (signal 9)", "\(output)")
        #expect(!output.contains("(stalled)"), "\(output)")
        #expect(output.hasSuffix("result: FAIL\n"))
    }

    /// At a tenth of a message per second, the 5 s wait for the second message (of two clients')
    /// is not a stall of 3 s.
    @Test func aSlowRateIsNotAStall() async throws {
        let bench = try bench([
            "--spawn-server", ChildProcess.executable("chat-server").path, "--clients", "2",
            "--messages", "1", "--rate", "0.1", "--stall-timeout", "3",
        ])
        #expect(try await bench.waitForExit(timeout: .seconds(30)) == 0, "\(bench.stdout)\n\(bench.stderr)")
        let output = bench.stdout
        #expect(
            output.hasPrefix(
                "run: 2 clients x 1 message x 1 recipient, 32-byte bodies, 0.1 msg/s per client\n"))
        #expect(output.contains("lost 0"))
        #expect(output.hasSuffix("result: PASS\n"))
    }
}
