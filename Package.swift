// swift-tools-version:6.1
import PackageDescription

// Data flows protocol → server (→ cluster), protocol → client → screen, and protocol → bench; the
// executables are thin shells.
//
// Each broker's state lives on its own event loop thread and is never accessed overlapping; the
// runtime's dynamic exclusivity checks on it cost about a third of the server's time per message
// (measured with chat-bench). Debug builds, which the tests use, keep the checks.
let hotPathSettings: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))
]

let package = Package(
    name: "a-chat",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "chat-server", targets: ["chat-server"]),
        .executable(name: "chat-client", targets: ["chat-client"]),
        .executable(name: "chat-bench", targets: ["chat-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-async-algorithms.git", from: "1.1.4"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // The wire contract: framing, login rules, line parsing, formatting; and the wording of
        // addresses and system errors that every program shares. No sockets.
        .target(
            name: "ChatProtocol",
            dependencies: [
                "SystemSupport",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: hotPathSettings
        ),
        // What the three executables share on their command lines: the server address flags and
        // the version; and the log level as an argument, which only chat-server takes.
        .target(
            name: "ChatCommandLine",
            dependencies: [
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Operating-system plumbing shared by every program and the tests: whole-line writes, the
        // open-file limit, /proc readings, child processes (see its documentation for why
        // swift-system and not swift-subprocess), errno in words.
        .target(
            name: "SystemSupport",
            dependencies: [.product(name: "SystemPackage", package: "swift-system")]
        ),
        // Checking a server's certificate, for everything that connects out over TLS.
        .target(
            name: "TLSTrust",
            dependencies: [
                "SystemSupport",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // The broker and the connections, on SwiftNIO.
        .target(
            name: "ChatServer",
            dependencies: [
                "ChatProtocol",
                // Several servers as one, when configured.
                "ChatCluster",
                // BoringSSL's reasons in words, for the log.
                "TLSTrust",
                // Whole writes for the log writer's thread.
                "SystemSupport",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                // TLS, and the metrics endpoint (Prometheus text over HTTP).
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: hotPathSettings
        ),
        .executableTarget(
            name: "chat-server",
            dependencies: [
                "ChatCluster",
                "ChatCommandLine",
                "ChatProtocol",
                "SystemSupport",
                .product(name: "SystemPackage", package: "swift-system"),
                "ChatServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Several servers as one over PostgreSQL: the login registry, routing between nodes, leases.
        // No chat logic: the server plugs it into its broker.
        .target(
            name: "ChatCluster",
            dependencies: [
                "TLSTrust",
                // errno in words, for a database that cannot be reached.
                "SystemSupport",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        // ncursesw from Debian's libncurses-dev, and the C functions that stand in for its macros.
        .systemLibrary(
            name: "CNcursesw",
            providers: [.apt(["libncurses-dev"])]
        ),
        .target(name: "CursesShim", dependencies: ["CNcursesw"]),
        // The client's connection and the select loop that races socket lines against input lines;
        // the connection's lifecycle; plain mode.
        .target(
            name: "ChatClient",
            dependencies: [
                "TLSTrust",
                "ChatProtocol",
                "SystemSupport",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
            ]
        ),
        // The full-screen front end: editing, wrapping and scrollback models, drawn with curses.
        .target(
            name: "ChatScreen",
            dependencies: [
                "ChatProtocol", "ChatClient", "CursesShim", .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "chat-client",
            dependencies: [
                "ChatCommandLine",
                "ChatProtocol",
                "ChatClient",
                "ChatScreen",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The load generator: many clients, every delivery checked.
        .target(
            name: "ChatBench",
            dependencies: [
                "TLSTrust",
                "ChatProtocol",
                "SystemSupport",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .executableTarget(
            name: "chat-bench",
            dependencies: [
                "ChatBench",
                "ChatCommandLine",
                "SystemSupport",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // libFuzzer targets over the framer, the message-line parser and login validation, built
        // by Fuzz/run.sh with the fuzzer; a plain build replays saved inputs through them.
        .executableTarget(
            name: "chat-fuzz",
            dependencies: ["ChatProtocol", .product(name: "NIOCore", package: "swift-nio")],
            path: "Fuzz/Sources"
        ),
        // Helpers shared by the test targets: a raw line client, an in-process server, child
        // processes, tmux, a TCP proxy, certificates, PostgreSQL, spare ports.
        .target(
            name: "ChatTestSupport",
            dependencies: [
                "ChatServer",
                "SystemSupport",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "ChatProtocolTests", dependencies: ["ChatProtocol"]),
        .testTarget(
            name: "SystemSupportTests",
            dependencies: ["SystemSupport", .product(name: "SystemPackage", package: "swift-system")]
        ),
        .testTarget(
            name: "ChatClusterTests",
            dependencies: ["ChatCluster", "ChatTestSupport"]
        ),
        .testTarget(
            name: "ChatServerTests",
            dependencies: [
                "ChatServer", "ChatTestSupport", "SystemSupport", "chat-server",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .testTarget(
            name: "ChatClientTests",
            dependencies: [
                "ChatClient", "ChatTestSupport", "chat-client",
                // A TLS server in front of the test server.
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .testTarget(
            name: "ChatScreenTests",
            dependencies: ["ChatScreen", "ChatTestSupport", "chat-client"]
        ),
        .testTarget(
            name: "ChatBenchTests",
            dependencies: [
                "ChatBench", "ChatCommandLine", "ChatTestSupport", "chat-bench",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
