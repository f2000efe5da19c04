import ArgumentParser
import ChatServer

/// `--metrics-port` turns on the Prometheus endpoint; `--metrics-host` says where it listens.
struct MetricsOptions: ParsableArguments {
    @Option(
        parsing: .unconditional, help: "Serve Prometheus metrics at http://<metrics-host>:<port>/metrics.")
    var metricsPort: Int?

    @Option(help: "Address the metrics endpoint listens on; keep it off the public internet.")
    var metricsHost = "127.0.0.1"

    func validate() throws {
        if let metricsPort, !(0...65535).contains(metricsPort) {
            throw ValidationError("--metrics-port must be 0...65535")
        }
    }

    func apply(to configuration: inout ChatServerConfiguration) {
        guard let metricsPort else { return }
        configuration.metrics = MetricsEndpointConfiguration(host: metricsHost, port: metricsPort)
    }
}
