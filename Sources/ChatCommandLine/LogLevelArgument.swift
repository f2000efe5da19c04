import ArgumentParser
import Logging

/// `--log-level trace|debug|info|notice|warning|error|critical`, parsed and listed by
/// ArgumentParser from swift-log's own names. Retroactive on purpose: swift-log does not depend
/// on ArgumentParser, so the conformance can only live with a command line.
// swift-format-ignore: AvoidRetroactiveConformances
extension Logger.Level: @retroactive ExpressibleByArgument {}
