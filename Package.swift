// swift-tools-version:6.1
import PackageDescription

// Data flows protocol → server, protocol → client → screen and bench; the executables are thin
// shells.
//
// The server's state lives on one event loop thread and is never accessed overlapping; the
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
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // The wire contract: framing, login rules, line parsing, formatting; and the wording of
        // addresses and system errors that every program shares. No sockets.
        .target(
            name: "ChatProtocol",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: hotPathSettings
        ),
        // What the three executables share on their command lines: the server address flags, the
        // log level as an argument, the version.
        .target(
            name: "ChatCommandLine",
            dependencies: [
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The broker and the connections, on SwiftNIO.
        .target(
            name: "ChatServer",
            dependencies: [
                "ChatProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: hotPathSettings
        ),
        .executableTarget(
            name: "chat-server",
            dependencies: [
                "ChatCommandLine",
                "ChatProtocol",
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
        // The client's connection and the select loop that races socket lines against input lines.
        .target(
            name: "ChatClient",
            dependencies: [
                "ChatProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
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
                "ChatProtocol",
                // For the client's wording of connection errors.
                "ChatClient",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "chat-bench",
            dependencies: [
                "ChatBench",
                "ChatCommandLine",
                "ChatClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Helpers shared by the test targets: a raw line client, child processes, tmux.
        .target(
            name: "ChatTestSupport",
            dependencies: [
                "ChatServer",
                // Starts child processes the way chat-bench starts a server.
                "ChatBench",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "ChatProtocolTests", dependencies: ["ChatProtocol"]),
        .testTarget(
            name: "ChatClusterTests",
            dependencies: ["ChatCluster", "ChatTestSupport"]
        ),
        .testTarget(
            name: "ChatServerTests",
            dependencies: ["ChatServer", "ChatTestSupport", "chat-server"]
        ),
        .testTarget(
            name: "ChatClientTests",
            dependencies: ["ChatClient", "ChatTestSupport", "chat-client"]
        ),
        .testTarget(
            name: "ChatScreenTests",
            dependencies: ["ChatScreen", "ChatTestSupport", "chat-client"]
        ),
        .testTarget(
            name: "ChatBenchTests",
            dependencies: ["ChatBench", "ChatTestSupport", "chat-bench"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
