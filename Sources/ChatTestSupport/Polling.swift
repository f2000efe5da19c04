/// Looks every `interval` until `accepts` takes what `look` saw, and once more after the
/// deadline: a test thread that wakes late still finds what is there by then. The last look, and
/// whether it was taken.
func poll<Seen>(
    for timeout: Duration, every interval: Duration, look: () async throws -> Seen,
    until accepts: (Seen) -> Bool
) async throws -> (last: Seen, accepted: Bool) {
    let deadline = ContinuousClock.now + timeout
    while true {
        let seen = try await look()
        if accepts(seen) { return (seen, true) }
        guard ContinuousClock.now < deadline else { return (seen, false) }
        try await Task.sleep(for: interval)
    }
}
