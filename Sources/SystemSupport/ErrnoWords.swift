import SystemPackage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension Errno {
    /// strerror's text in lower case, to fit mid-sentence: "no such file or directory".
    public var words: String {
        let text = String(cString: strerror(rawValue))
        return text.prefix(1).lowercased() + text.dropFirst()
    }
}
