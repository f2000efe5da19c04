import ArgumentParser
import ChatServer

/// What one connection may send and how long it may take to log in and to leave.
struct ConnectionOptions: ParsableArguments {
    @Option(help: "Longest line accepted, in bytes; longer lines get a notice and are discarded.")
    var maxLineBytes = 64 * 1024

    @Option(help: "Seconds a new connection has to send its login before it is closed.")
    var loginTimeout = 30.0

    @Option(help: "Seconds a leaving connection has to take what is queued for it before it is closed.")
    var drainTimeout = 30.0

    func validate() throws {
        try FlowControlOptions.validateSize(maxLineBytes, "--max-line-bytes")
        try TimeoutOption.validate(loginTimeout, "--login-timeout")
        try TimeoutOption.validate(drainTimeout, "--drain-timeout")
    }

    func apply(to configuration: inout ChatServerConfiguration) {
        configuration.maximumLineBytes = maxLineBytes
        configuration.loginTimeout = TimeoutOption.amount(loginTimeout)
        configuration.drainTimeout = TimeoutOption.amount(drainTimeout)
    }
}
