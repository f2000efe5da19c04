/// The version all three programs print for `--version`.
public enum AChatVersion {
    public static let current = "0.9.0"
}
