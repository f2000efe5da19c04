/// When and how often the client connects again after a connection is lost.
public struct ReconnectPolicy: Equatable, Sendable {
    /// Off: a lost connection ends the session, as plain mode does unless `--reconnect` is given.
    public var isEnabled: Bool
    /// The wait before the first attempt; each failed attempt doubles it.
    public var baseDelay: Duration
    /// The longest wait between attempts, however many failed.
    public var maximumDelay: Duration
    /// How many times a login the server says is already online is tried again when the client
    /// was logged in with it before: most likely the server has not yet noticed that the lost
    /// connection is gone.
    public var heldLoginRetries: Int
    /// A connection that stayed up this long worked: the next loss starts the back-off afresh.
    public var stableAfter: Duration

    public static let standardBaseDelay = Duration.seconds(1)
    public static let standardMaximumDelay = Duration.seconds(30)

    public init(
        isEnabled: Bool,
        baseDelay: Duration = standardBaseDelay,
        maximumDelay: Duration = standardMaximumDelay,
        heldLoginRetries: Int = 3,
        stableAfter: Duration = .seconds(10)
    ) {
        self.isEnabled = isEnabled
        self.baseDelay = baseDelay
        self.maximumDelay = max(baseDelay, maximumDelay)
        self.heldLoginRetries = heldLoginRetries
        self.stableAfter = stableAfter
    }

    /// The wait before attempt `attempt` (from 1): the base delay doubled for each attempt before
    /// it, at most the maximum, then shortened by up to a quarter by `jitter` (0 to 1), so that
    /// clients that lost the same server do not all come back in the same instant.
    public func delay(beforeAttempt attempt: Int, jitter: Double) -> Duration {
        var nominal = baseDelay
        var doublings = max(0, attempt - 1)
        while doublings > 0 && nominal < maximumDelay {
            nominal = nominal * 2
            doublings -= 1
        }
        nominal = min(nominal, maximumDelay)
        return nominal * (1 - 0.25 * min(1, max(0, jitter)))
    }
}
