import ChatProtocol
import Foundation

/// One entry point for every fuzz target: `chat-fuzz TARGET [libFuzzer arguments...]`.
///
/// Built by Fuzz/run.sh with `-sanitize=fuzzer,address -DFUZZING`, it hands the target to
/// libFuzzer's driver. Any other build (the package's plain `swift build`) replays files instead:
/// `chat-fuzz TARGET FILE_OR_DIRECTORY...`, to reproduce a crash libFuzzer saved. An invariant
/// that does not hold stops the process with a message, which libFuzzer records as a crash.
@main
enum ChatFuzz {
    static let targets: [String: FuzzTarget] = [
        "framer": FramerTarget.run,
        "message-line": MessageLineTarget.run,
        "login": LoginTarget.run,
    ]

    static func main() {
        let arguments = CommandLine.arguments
        guard arguments.count >= 2, let target = targets[arguments[1]] else {
            let names = targets.keys.sorted().joined(separator: "|")
            printError("usage: chat-fuzz \(names) [libFuzzer arguments or files...]")
            exit(64)
        }
        #if FUZZING
            exit(fuzz(target))
        #else
            exit(replay(target, paths: arguments.dropFirst(2)))
        #endif
    }

    /// Runs each file, or each file in a directory, through `target`.
    static func replay(_ target: FuzzTarget, paths: ArraySlice<String>) -> Int32 {
        var count = 0
        for path in paths {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path))?.sorted()
            for file in names?.map({ path + "/" + $0 }) ?? [path] {
                guard let bytes = FileManager.default.contents(atPath: file) else {
                    printError("chat-fuzz: cannot read \(file)")
                    return 1
                }
                Array(bytes).withUnsafeBufferPointer { target($0) }
                count += 1
            }
        }
        print("\(count) inputs, every invariant held")
        return 0
    }
}

/// Checks every invariant on one input; stops the process if one does not hold.
typealias FuzzTarget = @Sendable (UnsafeBufferPointer<UInt8>) -> Void

/// Like `precondition`, but also in optimized builds, and with what was found.
func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError(message()) }
}

private func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
