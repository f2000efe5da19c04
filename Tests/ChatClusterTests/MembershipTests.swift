import ChatTestSupport
import Foundation
import NIOCore
import Testing

@testable import ChatCluster

@Suite(.postgres, .enabled(if: postgresAvailable, postgresSkipReason))
struct MembershipTests {
    @Test func nodesJoiningAnEmptyDatabaseTogetherAllGetTheSchemaAndSeeEachOther() async throws {
        let url = try await postgres.makeDatabase()
        let nodes = try await withThrowingTaskGroup(of: TestNode.self) { group in
            for index in 0..<4 {
                group.addTask { try await TestNode.join(url, name: "racer\(index)") }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for node in nodes {
            try await node.waitUntil("all peers seen") { node.node.peers.count == 4 }
        }
        for node in nodes { await node.node.leave() }
        let versions = try await postgres.psql(
            "SELECT version FROM achat_schema", database: database(of: url))
        #expect(versions == "\(Schema.version)\n", "\(versions)")
    }

    /// A database a version-1 node made, with a batch on its way, is upgraded by the next node
    /// to join: the batch gets its place in the order of arrival, and is not yet taken.
    @Test func aDatabaseOfTheFirstSchemaIsUpgradedWithItsBatches() async throws {
        let url = try await postgres.makeDatabase()
        let firstSchema =
            Schema.upgrades[0].joined(separator: ";\n")
                + """
                ;
                CREATE TABLE achat_schema (version integer NOT NULL);
                INSERT INTO achat_schema VALUES (1);
                INSERT INTO achat_nodes (name, lease_expires) VALUES ('old', now() + interval '1 hour');
                INSERT INTO achat_batches (target, sender, sequence, payload)
                    SELECT id, id, 1, '\\x00' FROM achat_nodes
                """
        // As the cluster's own user, who must own the tables to change them.
        _ = try await postgres.psql("SET ROLE \(postgres.user);\n" + firstSchema, database: database(of: url))
        let node = try await TestNode.join(url, name: "upgrader")
        await node.node.leave()
        let after = try await postgres.psql(
            """
            SELECT version, (SELECT count(arrival) FROM achat_batches WHERE NOT taken),
                to_regclass('achat_bounces') IS NOT NULL
            FROM achat_schema
            """,
            database: database(of: url))
        #expect(after == "\(Schema.version)|1|t\n", "\(after)")
    }

    @Test(arguments: [
        ("wrong password", "password authentication failed"),
        ("unreachable", "connection refused"),
        ("no database", "does not exist"),
        ("no TLS", "the database does not accept TLS, which the URL's sslmode requires"),
        ("no password", "the database asks for a password and the URL gives none"),
    ])
    func aBadDatabaseIsOneClearLine(_ problem: String, _ expected: String) async throws {
        let server = try postgres
        let url =
            switch problem {
            case "wrong password": server.url(database: "postgres", password: "nope")
            case "unreachable": "postgres://achat:x@127.0.0.1:1/achat"
            case "no TLS": server.url(database: "postgres") + "?sslmode=require"
            case "no password": "postgres://\(server.user)@127.0.0.1:\(server.port)/postgres"
            default: server.url(database: "missing")
            }
        let error = await #expect(throws: ClusterError.self) {
            _ = try await TestNode.join(url, name: "doomed")
        }
        let description = try #require(error).description
        #expect(description.contains(expected), "\(description)")
        #expect(description.hasPrefix("cannot join the cluster at postgres://achat@127.0.0.1:"))
        #expect(!description.contains("\n"))
        #expect(!description.contains(server.password))
    }

    @Test(arguments: [
        ("http://x@h/db", "must start with postgres://"),
        ("postgres://h/db", "names no user"),
        ("postgres://u@h", "names no database"),
        ("postgres://u@h:99999/db", "port"),
        ("postgres://u@[::1]:99999/db", "port"),
        ("not a url", "postgres://"),
    ])
    func aBadURLIsOneClearLine(_ url: String, _ expected: String) async throws {
        let error = await #expect(throws: ClusterError.self) {
            _ = try await TestNode.join(url, name: "doomed")
        }
        #expect(try #require(error).description.contains(expected), "\(String(describing: error))")
    }

    /// A database reached over IPv6, its address in brackets as psql takes it: the brackets were
    /// left on the host name, which then was "host name not found".
    @Test(.enabled(if: ipv6LoopbackWorks, "no IPv6 on this machine's loopback"))
    func aDatabaseAtAnIPv6AddressIsJoined() async throws {
        let url = try await postgres.makeDatabase()
        let proxy = try await TCPProxy(toPort: try postgres.port, listeningOn: "::1")
        defer { Task { await proxy.close() } }
        let overIPv6 = url.replacingOccurrences(
            of: "@127.0.0.1:\(try postgres.port)/", with: "@[::1]:\(proxy.port)/")
        #expect(overIPv6 != url)
        let node = try await TestNode.join(overIPv6, name: "six")
        #expect(await node.node.claim("bob") == .claimed)
        await node.node.leave()
    }

    /// The URL as logs and errors show it: an IPv6 host in brackets once, never the password.
    @Test func aURLIsDescribedWithItsIPv6HostInBracketsOnce() throws {
        let url = try DatabaseURL("postgres://achat:secret@[::1]:5433/chat")
        #expect(url.host == "::1")
        #expect(url.port == 5433)
        #expect(url.description == "postgres://achat@[::1]:5433/chat")
    }

    @Test func aThousandClaimsForOneLoginOnThreeNodesHaveOneWinner() async throws {
        try await withNodes(3) { nodes in
            let results = await withTaskGroup(of: ClaimResult.self) { group in
                for attempt in 0..<1000 {
                    let node = nodes[attempt % 3].node
                    group.addTask { await node.claim("alice") }
                }
                return await group.reduce(into: [ClaimResult]()) { $0.append($1) }
            }
            #expect(results.filter { $0 == .claimed }.count == 1)
            #expect(results.filter { $0 == .taken }.count == 999)
            let winner = try #require(nodes.first { $0.location(of: "alice") == $0.node.peer })
            for node in nodes {
                try await node.waitUntil("alice located") { node.location(of: "alice") == winner.node.peer }
            }
        }
    }

    @Test func aReleasedLoginCanBeClaimedOnAnotherNodeWhileItsHolderLivesOn() async throws {
        try await withNodes(3) { nodes in
            let (a, b, c) = (nodes[0], nodes[1], nodes[2])
            #expect(await a.node.claim("bob") == .claimed)
            #expect(await b.node.claim("bob") == .taken)
            try await c.waitUntil("bob on a") { c.location(of: "bob") == a.node.peer }
            a.node.release("bob")
            #expect(a.location(of: "bob") == nil)
            // a lives on and renews its lease, so only the release can free bob: within about a
            // second on an idle machine, and the wait allows for a loaded one.
            try await b.waitUntil("bob claimed on b") { await b.node.claim("bob") == .claimed }
            try await c.waitUntil("bob on b") { c.location(of: "bob") == b.node.peer }
        }
    }

    @Test func releasingAndClaimingAgainOnOneNodeKeepsTheirOrder() async throws {
        try await withNodes(1) { nodes in
            let node = nodes[0].node
            for _ in 0..<50 {
                #expect(await node.claim("carol") == .claimed)
                node.release("carol")
            }
        }
    }

    @Test func leavingFreesEveryLoginAtOnce() async throws {
        try await withNodes(2) { nodes in
            let (a, b) = (nodes[0], nodes[1])
            let logins = (0..<20).map { "user\($0)" }
            for login in logins { #expect(await a.node.claim(login) == .claimed) }
            let peerA = try #require(a.node.peer)
            await a.node.leave()
            for login in logins { #expect(await b.node.claim(login) == .claimed) }
            try await b.waitForEvent(.peerLeft(peerA))
        }
    }

    @Test func loginsAreComparedByteForByte() async throws {
        try await withNodes(2) { nodes in
            let (a, b) = (nodes[0], nodes[1])
            #expect(await a.node.claim("e\u{301}") == .claimed)
            #expect(await b.node.claim("\u{E9}") == .claimed)
            #expect(await b.node.claim("e\u{301}") == .taken)
            #expect(await b.node.claim("🦀'\\\"") == .claimed)
            try await a.waitUntil("emoji login located") { a.location(of: "🦀'\\\"") == b.node.peer }
            // Logins travel in notifications hex-encoded: even bytes a payload cannot hold pass.
            #expect(await b.node.claim("nul\u{0}'") == .claimed)
            try await a.waitUntil("NUL login located") { a.location(of: "nul\u{0}'") == b.node.peer }
            #expect(a.location(of: "nul") == nil)
        }
    }
}

func database(of url: String) -> String {
    String(url.split(separator: "/").last!)
}

/// Whether a socket can listen on `::1` here.
private let ipv6LoopbackWorks: Bool = {
    let descriptor = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { return false }
    defer { close(descriptor) }
    var address = sockaddr_in6()
    address.sin6_family = sa_family_t(AF_INET6)
    address.sin6_addr = in6addr_loopback
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) == 0
        }
    }
}()
