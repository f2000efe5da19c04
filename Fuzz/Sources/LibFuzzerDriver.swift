#if FUZZING
    #if canImport(Glibc)
        import Glibc
    #elseif canImport(Darwin)
        import Darwin
    #endif

    /// libFuzzer's driver, from `-sanitize=fuzzer`'s runtime. SwiftPM links an executable's own
    /// `main`, so the fuzzer is started from it rather than from libFuzzer's `main`.
    @_silgen_name("LLVMFuzzerRunDriver")
    private func runDriver(
        _ argc: UnsafeMutablePointer<Int32>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
    ) -> Int32

    /// libFuzzer's runtime links its `main`, which calls this; ours runs first and never returns
    /// to it, so it is never called.
    @_cdecl("LLVMFuzzerTestOneInput")
    func unusedTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
        fatalError("chat-fuzz starts libFuzzer through LLVMFuzzerRunDriver")
    }

    /// The target chosen on the command line, for the C callback, which cannot capture it.
    nonisolated(unsafe) private var selectedTarget: FuzzTarget?

    extension ChatFuzz {
        /// Starts libFuzzer on `target`, with the arguments after the target's name; libFuzzer
        /// keeps the argument strings, so they are never freed.
        static func fuzz(_ target: @escaping FuzzTarget) -> Int32 {
            selectedTarget = target
            let arguments = [CommandLine.arguments[0]] + CommandLine.arguments.dropFirst(2)
            var pointers = arguments.map { strdup($0) } + [nil]
            var argc = Int32(arguments.count)
            return pointers.withUnsafeMutableBufferPointer { buffer in
                var argv = buffer.baseAddress!
                return runDriver(&argc, &argv) { data, size in
                    selectedTarget!(UnsafeBufferPointer(start: data, count: size))
                    return 0
                }
            }
        }
    }
#endif
