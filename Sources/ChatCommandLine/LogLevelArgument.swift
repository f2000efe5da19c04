import ArgumentParser
import Logging

/// `--log-level trace|debug|info|notice|warning|error|critical`, parsed and listed by
/// ArgumentParser from swift-log's own names.
extension Logger.Level: @retroactive ExpressibleByArgument {}
