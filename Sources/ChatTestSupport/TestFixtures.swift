import Foundation

/// The files in `Tests/Fixtures`: the tutorial's server and client in Python, a TLS client that
/// closes without close_notify, the bench's TLS certificates.
public enum TestFixtures {
    /// `Tests/Fixtures`, found from this file's place in the source tree, as the tests run from it.
    public static let folder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Tests/Fixtures")

    /// The path of `name` (which may name a subfolder: "bench-tls/ca.pem").
    public static func path(_ name: String) -> String {
        folder.appendingPathComponent(name).path
    }

    /// Runs the Python script `name` with `arguments` (python3 from PATH).
    public static func python(_ name: String, _ arguments: [String]) throws -> ChildProcess {
        try ChildProcess(URL(fileURLWithPath: "/usr/bin/env"), ["python3", path(name)] + arguments)
    }
}
