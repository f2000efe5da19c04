import ArgumentParser
import ChatServer

/// `--tls-cert` and `--tls-key`: with both, the server speaks TLS only.
struct TLSOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp("PEM certificate chain: with --tls-key, serve TLS only.", valueName: "pem-file"))
    var tlsCert: String?

    @Option(help: ArgumentHelp("PEM private key of --tls-cert.", valueName: "pem-file"))
    var tlsKey: String?

    func validate() throws {
        guard (tlsCert == nil) == (tlsKey == nil) else {
            throw ValidationError("--tls-cert and --tls-key go together")
        }
    }

    func apply(to configuration: inout ChatServerConfiguration) {
        guard let tlsCert, let tlsKey else { return }
        configuration.tls = TLSFiles(certificateChainPath: tlsCert, privateKeyPath: tlsKey)
    }
}
