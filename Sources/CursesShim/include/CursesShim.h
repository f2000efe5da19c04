#pragma once
// C entry points for the full-screen client. Curses exposes much of its API as macros and global
// variables, which Swift cannot call or (under strict concurrency) touch; these functions stand
// in for them. Everything here except the signal functions belongs to the one UI thread.
#include "../../CNcursesw/shim.h"

// Attribute bits for chat_curses_put, mapped to curses' A_* values inside.
enum {
    CHAT_ATTRIBUTE_BOLD = 1,
    CHAT_ATTRIBUTE_DIM = 2,
    CHAT_ATTRIBUTE_REVERSE = 4,
    CHAT_ATTRIBUTE_UNDERLINE = 8,
};

// What chat_curses_read_key found.
enum {
    CHAT_KEY_NONE = 0,
    CHAT_KEY_CHARACTER = 1,
    CHAT_KEY_FUNCTION = 2,
    CHAT_KEY_CONTROL_LEFT = 3,
    CHAT_KEY_CONTROL_RIGHT = 4,
    CHAT_KEY_WHEEL_UP = 5,
    CHAT_KEY_WHEEL_DOWN = 6,
    // Something was read that is no key (another mouse event): read on.
    CHAT_KEY_IGNORED = 7,
};

// Signals delivered as events: bits of chat_signals_take().
enum {
    CHAT_SIGNAL_INTERRUPT = 1,
    CHAT_SIGNAL_TERMINATE = 2,
    CHAT_SIGNAL_HANGUP = 4,
    CHAT_SIGNAL_RESIZE = 8,
    // SIGTSTP from outside (`kill -TSTP`): stopped the way Ctrl-Z stops the client.
    CHAT_SIGNAL_SUSPEND = 16,
};

// Takes the locale from the environment; if its character set is not UTF-8, uses a UTF-8
// LC_CTYPE instead. Returns 1 when LC_CTYPE is UTF-8 afterwards.
int chat_locale_prepare_utf8(void);

// Columns the terminal gives `character`: wcwidth(3), -1 for non-printable.
int chat_wcwidth(unsigned int character);

// Starts curses on stdin/stdout. Returns 0, or -1 when the terminal cannot be used: an unknown
// TERM, or one that cannot address the cursor (TERM=dumb).
int chat_curses_begin(void);
// Restores the terminal exactly as it was before chat_curses_begin. Safe to call twice.
void chat_curses_end(void);

// Gives the terminal back, stops the job (SIGTSTP to the process group), and once continued
// takes the terminal again; the next refresh repaints every cell. Returns -1, changing nothing,
// where no job-control shell could continue the client.
int chat_curses_suspend(void);

int chat_curses_rows(void);
int chat_curses_columns(void);
// Takes the terminal's size after SIGWINCH; the next chat_curses_present repaints every cell.
void chat_curses_update_size(void);

// Asks the terminal to report the mouse wheel, if curses knows how (terminfo's kmous). While it
// reports, the terminal selects text with Shift held. Returns 1 when reporting is on.
int chat_curses_enable_wheel(void);

// Whether the window title can be set: 1 through terminfo's tsl and fsl, 2 through xterm's
// OSC 2 (terminals whose terminfo has the XT flag), 0 not at all.
int chat_curses_title_support(void);
// Sets the window title (UTF-8) where the terminal supports it; see chat_curses_title_support.
void chat_curses_set_title(const char *title);
// Rings the terminal's bell.
void chat_curses_bell(void);

// The colour pairs for senders: writes the first pair's number and returns how many there are,
// 16 from the 256-colour palette on terminals that have it, else the 4 basic colours that are
// neither the notices' red nor the remarks' cyan. 0 without colours.
int chat_curses_sender_pairs(int *first_pair);

// Reads one key without waiting. CHAT_KEY_FUNCTION puts a KEY_* code in `key`; Ctrl-Left and
// Ctrl-Right, which have none, come as CHAT_KEY_CONTROL_LEFT and CHAT_KEY_CONTROL_RIGHT.
int chat_curses_read_key(unsigned int *key);

// Draws one cell (two for a wide character): a spacing character and up to four combining ones.
void chat_curses_put(int row, int column, const unsigned int *characters, int count, int attributes,
                     int colour_pair);
void chat_curses_clear(void);
// Moves the cursor and sends the changes to the terminal.
void chat_curses_present(int cursor_row, int cursor_column);
// Makes the next chat_curses_present repaint every cell.
void chat_curses_repaint(void);

// Installs handlers for SIGINT, SIGTERM, SIGHUP, SIGWINCH, SIGTSTP and SIGCONT that record the
// signal and write a byte to `wake_descriptor`, so a loop blocked in poll wakes up and handles it
// as an event.
void chat_signals_install(int wake_descriptor);
// Puts back the default actions.
void chat_signals_restore(void);
// The CHAT_SIGNAL_* bits received since the last call.
int chat_signals_take(void);
