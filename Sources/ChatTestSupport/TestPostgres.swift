import Foundation
import NIOConcurrencyHelpers

/// A private PostgreSQL server for one test suite: `initdb` into a temporary folder, `pg_ctl` on
/// a free loopback port, a password user; stopped and removed by `stop()`.
///
/// Run as root (CI), the server runs as the `postgres` user, which PostgreSQL insists on, and the
/// folder is made theirs. Each test takes its own database from `makeDatabase()`, so tests of one
/// suite run side by side without seeing each other's nodes.
public final class TestPostgres: Sendable {
    /// Where Debian's `postgresql` package (or the PATH) keeps `initdb`, `pg_ctl` and `psql`.
    public static let binaries: URL? = findBinaries()

    /// Why the cluster tests cannot run here, or nil if they can.
    public static var unavailableReason: String? {
        binaries == nil
            ? "PostgreSQL is not installed (no initdb in /usr/lib/postgresql/*/bin or on PATH): install Debian's postgresql package"
            : nil
    }

    /// Whether a missing PostgreSQL is a failure rather than a reason to skip.
    public static var isRequired: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    public let port: Int
    public let user = "achat"
    public let password = "s3cret 'pw'"
    private let folder: URL
    private let binaries: URL
    private let runAs: String?
    private let databaseCount = NIOLockedValueBox(0)
    /// Whether the server offers TLS, with `TestCertificates`' certificate for `localhost` only.
    private let offersTLS: Bool

    private init(port: Int, folder: URL, binaries: URL, runAs: String?, offersTLS: Bool) {
        self.port = port
        self.folder = folder
        self.binaries = binaries
        self.runAs = runAs
        self.offersTLS = offersTLS
    }

    private var dataFolder: URL { folder.appendingPathComponent("data") }

    /// Starts a fresh server with one password user, `achat`, allowed to create databases; with
    /// `certificates`, it offers TLS with their certificate for `localhost` (no IP address).
    public static func start(tls certificates: TestCertificates? = nil) async throws -> TestPostgres {
        try await offThePool { try startNow(tls: certificates) }
    }

    /// One `initdb` at a time in this process. Each suite starts its own server, about ten of
    /// them at the start of a run, and ten `initdb`s at once held both cores while every other
    /// suite started too: in the CI run after b20bad6 three cluster joins then could not even
    /// connect within 10 s. Taken one by one they leave a core to the rest.
    private static let initializing = NIOLock()

    private static func startNow(tls certificates: TestCertificates?) throws -> TestPostgres {
        guard let binaries else { throw TestTimeout(unavailableReason!) }
        removeLeftovers(binaries: binaries)
        let folder = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("achat-pg-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let runAs = geteuid() == 0 ? "postgres" : nil
        if let runAs {
            guard let account = getpwnam(runAs) else {
                throw TestTimeout("running as root but there is no '\(runAs)' user to run PostgreSQL as")
            }
            chown(folder.path, account.pointee.pw_uid, account.pointee.pw_gid)
        }
        if let certificates { try installTLS(certificates, in: folder, owner: runAs) }
        let offersTLS = certificates != nil
        let server = TestPostgres(
            port: 0, folder: folder, binaries: binaries, runAs: runAs, offersTLS: offersTLS)
        do {
            try initializing.withLock { try server.initialize() }
            // Another program on this machine may still take the port between our probe and the bind.
            for attempt in 1...5 {
                let port = try SparePort.take()
                let started = TestPostgres(
                    port: port, folder: folder, binaries: binaries, runAs: runAs, offersTLS: offersTLS)
                do {
                    try started.run(
                        "pg_ctl",
                        ["-D", started.dataFolder.path, "-w", "-t", "60", "start"] + started.serverOptions)
                    _ = try started.psqlNow(
                        "CREATE ROLE \(started.user) LOGIN CREATEDB PASSWORD '\(started.password.replacingOccurrences(of: "'", with: "''"))'"
                    )
                    return started
                } catch  where attempt < 5 {
                    continue
                }
            }
            throw TestTimeout("PostgreSQL did not start")
        } catch {
            try? FileManager.default.removeItem(at: folder)
            throw error
        }
    }

    /// A new, empty database owned by the test user; its URL, password included, naming `host`
    /// (127.0.0.1 or localhost), with `options` after `?` if any.
    public func makeDatabase(host: String = "127.0.0.1", options: String? = nil) async throws -> String {
        let number = databaseCount.withLockedValue {
            $0 += 1
            return $0
        }
        let name = "test\(number)"
        try await psql("CREATE DATABASE \(name) OWNER \(user)")
        return url(database: name, host: host) + (options.map { "?\($0)" } ?? "")
    }

    public func url(database: String, password: String? = nil, host: String = "127.0.0.1") -> String {
        let secret = (password ?? self.password).addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        return "postgres://\(user):\(secret)@\(host):\(port)/\(database)"
    }

    /// How many of cluster node `node`'s database connections are open, and how many of them
    /// use TLS, as the server sees them (`pg_stat_ssl`).
    public func connections(ofNode node: String) async throws -> (open: Int, encrypted: Int) {
        let counts = try await psql(
            """
            SELECT count(*), count(*) FILTER (WHERE s.ssl) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
            WHERE a.application_name LIKE 'achat \(node) %'
            """
        ).split(whereSeparator: { $0 == "|" || $0 == "\n" }).compactMap { Int($0) }
        guard counts.count == 2 else { throw TestTimeout("cannot read connection counts: \(counts)") }
        return (counts[0], counts[1])
    }

    /// Runs SQL as the superuser and returns what psql printed (unaligned, tuples only).
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres") async throws -> String {
        try await offThePool { try self.psqlNow(sql, database: database) }
    }

    private func psqlNow(_ sql: String, database: String = "postgres") throws -> String {
        try run(
            "psql",
            [
                "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", folder.path, "-p", "\(port)", "-U",
                "postgres",
                "-d", database, "-c", sql,
            ]
        )
    }

    /// Stops the server the fast way and starts it again on the same port.
    public func restart() async throws {
        try await pgctl(
            "pg_ctl", ["-D", dataFolder.path, "-m", "fast", "-w", "-t", "60", "restart"] + serverOptions)
    }

    /// Stops the server the fast way, keeping its data for `startServer`.
    public func stopServer() async throws {
        try await pgctl("pg_ctl", ["-D", dataFolder.path, "-m", "fast", "-w", "-t", "60", "stop"])
    }

    /// Stops the server and removes its folder.
    public func stop() async {
        _ = try? await offThePool { self.stopNow() }
    }

    private func stopNow() {
        _ = try? run("pg_ctl", ["-D", dataFolder.path, "-m", "immediate", "-w", "-t", "30", "stop"])
        try? FileManager.default.removeItem(at: folder)
    }

    private func initialize() throws {
        try run(
            "initdb",
            ["-D", dataFolder.path, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"])
        // The superuser comes in over the socket folder without a password; everyone else over
        // TCP with one, as a cluster node would.
        let hba = """
            local all all trust
            host all all 127.0.0.1/32 scram-sha-256
            """
        let hbaPath = dataFolder.appendingPathComponent("pg_hba.conf").path
        try hba.write(toFile: hbaPath, atomically: false, encoding: .utf8)
    }

    /// The certificate is for `localhost` only, so that a client checking the name can be told
    /// apart from one that does not by connecting to 127.0.0.1. PostgreSQL refuses a key file
    /// others may read, or one it does not own (as root, the files go to the user it runs as).
    private static func installTLS(_ certificates: TestCertificates, in folder: URL, owner: String?) throws {
        for (source, name) in [
            (certificates.nameOnlyCertificate, "tls.pem"), (certificates.serverKey, "tls.key"),
        ] {
            let target = folder.appendingPathComponent(name).path
            try FileManager.default.copyItem(atPath: source, toPath: target)
            guard chmod(target, 0o600) == 0 else { throw TestTimeout("chmod \(target): errno \(errno)") }
            if let owner, let account = getpwnam(owner) {
                guard chown(target, account.pointee.pw_uid, account.pointee.pw_gid) == 0 else {
                    throw TestTimeout("chown \(target) to \(owner): errno \(errno)")
                }
            }
        }
    }

    private var serverOptions: [String] {
        let tls =
            offersTLS
            ? " -c ssl=on -c ssl_cert_file=\(folder.path)/tls.pem -c ssl_key_file=\(folder.path)/tls.key" : ""
        return [
            "-l", folder.appendingPathComponent("server.log").path,
            "-o",
            "-p \(port) -k \(folder.path) -c listen_addresses=127.0.0.1 -c fsync=off "
                + "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300" + tls,
        ]
    }

    public func startServer() async throws {
        try await pgctl("pg_ctl", ["-D", dataFolder.path, "-w", "-t", "60", "start"] + serverOptions)
    }

    private func pgctl(_ program: String, _ arguments: [String]) async throws {
        try await offThePool { _ = try self.run(program, arguments) }
    }

    @discardableResult
    private func run(_ program: String, _ arguments: [String]) throws -> String {
        let path = binaries.appendingPathComponent(program).path
        let (status, output) =
            if let runAs {
                // From `/`: the tools look up their own location and then return to the working
                // directory, and a checkout under a private folder (mktemp's 0700) is closed to
                // that user: psql then adds "could not change directory" to its output.
                try runToCompletion(
                    "/usr/sbin/runuser", ["-u", runAs, "--", "/usr/bin/env", "-C", "/", path] + arguments)
            } else {
                try runToCompletion(path, arguments)
            }
        guard status == 0 else {
            throw TestTimeout("\(program) \(arguments.joined(separator: " ")) failed (\(status)): \(output)")
        }
        return output
    }

    /// Stops and removes the servers of test runs that died without stopping them (a crash, a
    /// kill): their folders carry the dead process's id.
    private static func removeLeftovers(binaries: URL) {
        let temporary = URL(fileURLWithPath: NSTemporaryDirectory())
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: temporary.path)) ?? []
        for entry in entries where entry.hasPrefix("achat-pg-") {
            guard let owner = entry.split(separator: "-").dropFirst(2).first.flatMap({ pid_t($0) }),
                kill(owner, 0) != 0 && errno == ESRCH
            else { continue }
            let folder = temporary.appendingPathComponent(entry)
            let leftover = TestPostgres(
                port: 0, folder: folder, binaries: binaries, runAs: geteuid() == 0 ? "postgres" : nil,
                offersTLS: false)
            leftover.stopNow()
        }
    }

    private static func findBinaries() -> URL? {
        let manager = FileManager.default
        let versions = ((try? manager.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
            .compactMap(Int.init).sorted(by: >)
        for version in versions {
            let folder = URL(fileURLWithPath: "/usr/lib/postgresql/\(version)/bin")
            if manager.isExecutableFile(atPath: folder.appendingPathComponent("initdb").path) {
                return folder
            }
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for entry in path.split(separator: ":") {
            let folder = URL(fileURLWithPath: String(entry))
            let initdb = folder.appendingPathComponent("initdb").resolvingSymlinksInPath()
            if manager.isExecutableFile(atPath: initdb.path) { return initdb.deletingLastPathComponent() }
        }
        return nil
    }
}
