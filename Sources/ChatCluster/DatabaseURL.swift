import Foundation
import PostgresNIO

/// A failure a person can act on, said in one line.
public struct ClusterError: Error, CustomStringConvertible, Sendable {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// `postgres://USER:PASSWORD@HOST:PORT/DB?sslmode=…&sslrootcert=…`, read into a connection
/// configuration. postgres-nio takes its settings field by field; this is the one place that
/// reads the operator's URL.
struct DatabaseURL: Sendable, CustomStringConvertible {
    let host: String
    let port: Int
    let user: String
    let password: String?
    let database: String
    let tls: DatabaseTLS

    init(_ text: String) throws(ClusterError) {
        guard let components = URLComponents(string: text), let scheme = components.scheme else {
            throw ClusterError(
                "cluster URL is not a URL; write postgres://USER:PASSWORD@HOST:PORT/DATABASE")
        }
        guard scheme == "postgres" || scheme == "postgresql" else {
            throw ClusterError("cluster URL must start with postgres://, not \(scheme)://")
        }
        // An IPv6 address is written in brackets, which Foundation on Linux leaves on the host:
        // looked up with them, `[::1]` was "host name not found".
        guard let host = components.host.map(Self.withoutBrackets), !host.isEmpty else {
            throw ClusterError("cluster URL names no host; write postgres://USER:PASSWORD@HOST:PORT/DATABASE")
        }
        guard let user = components.user, !user.isEmpty else {
            throw ClusterError("cluster URL names no user; write postgres://USER:PASSWORD@HOST:PORT/DATABASE")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty else {
            throw ClusterError(
                "cluster URL names no database; write postgres://USER:PASSWORD@HOST:PORT/DATABASE")
        }
        var options: [String: String] = [:]
        for item in components.queryItems ?? [] {
            // The name only: libpq takes `password=` here too, and this line goes to the log.
            guard ["sslmode", "sslrootcert"].contains(item.name) else {
                throw ClusterError(
                    "cluster URL option '\(item.name)' is not supported; sslmode and sslrootcert are")
            }
            guard let value = item.value, !value.isEmpty else {
                throw ClusterError("cluster URL option \(item.name) needs a value")
            }
            options[item.name] = value
        }
        // URLComponents gives the port only if it is a number in range.
        if components.port == nil, Self.portText(of: text) != nil {
            throw ClusterError("cluster URL port is not a number from 1 to 65535")
        }
        let port = components.port ?? 5432
        guard (1...65535).contains(port) else {
            throw ClusterError("cluster URL port \(port) is not from 1 to 65535")
        }
        self.host = host
        self.port = port
        self.user = user.removingPercentEncoding ?? user
        self.password = components.password.map { $0.removingPercentEncoding ?? $0 }
        self.database = database.removingPercentEncoding ?? database
        self.tls = try DatabaseTLS(mode: options["sslmode"], rootCertificate: options["sslrootcert"])
    }

    private static func withoutBrackets(_ host: String) -> String {
        host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
    }

    /// What follows the host's `:` in the URL, if anything does: after the `]` of an IPv6
    /// address, whose own colons are not the port's.
    private static func portText(of text: String) -> Substring? {
        guard let authority = text.split(separator: "@").last?.split(separator: "/").first else { return nil }
        let afterHost =
            authority.hasPrefix("[")
            ? authority.drop(while: { $0 != "]" }).dropFirst() : authority.drop(while: { $0 != ":" })
        return afterHost.hasPrefix(":") ? afterHost.dropFirst() : nil
    }

    /// What logs and errors show: never the password.
    var description: String {
        "postgres://\(user)@\(host.contains(":") ? "[\(host)]" : host):\(port)/\(database)"
    }

    func connectionConfiguration(timeout: Duration) -> PostgresConnection.Configuration {
        var configuration = PostgresConnection.Configuration(
            host: host, port: port, username: user, password: password, database: database, tls: tls.setting)
        configuration.options.connectTimeout = .nanoseconds(Int64(timeout.nanoseconds))
        return configuration
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    var seconds: Double { Double(nanoseconds) / 1e9 }
}
