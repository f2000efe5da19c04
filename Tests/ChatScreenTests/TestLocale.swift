import ChatScreen

/// Widths come from wcwidth, which needs a UTF-8 locale. setlocale is process-wide and not safe
/// to call while other threads use the locale, so it runs once, before any test measures text.
let utf8LocaleIsReady: Bool = TerminalLocale.prepare()
