// wcwidth is an X/Open function: glibc declares it only when asked to.
#define _GNU_SOURCE 1

#include "CursesShim.h"

#include <errno.h>
#include <langinfo.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int is_utf8_ctype(void) {
    const char *codeset = nl_langinfo(CODESET);
    return codeset && (strcmp(codeset, "UTF-8") == 0 || strcmp(codeset, "utf8") == 0);
}

int chat_locale_prepare_utf8(void) {
    setlocale(LC_ALL, "");
    if (is_utf8_ctype()) return 1;
    const char *fallbacks[] = {"C.UTF-8", "C.utf8", "en_US.UTF-8"};
    for (size_t i = 0; i < sizeof fallbacks / sizeof fallbacks[0]; i++) {
        if (setlocale(LC_CTYPE, fallbacks[i]) && is_utf8_ctype()) return 1;
    }
    return 0;
}

int chat_wcwidth(unsigned int character) { return wcwidth((wchar_t)character); }

static SCREEN *screen;
static int title_mode;
static int title_stack;
static int sender_pair_first, sender_pair_count;

// Sender colours on terminals with 256 colours: greens, golds, blues and purples from xterm's
// colour cube, none near red (the notices') or cyan (the remarks').
static const short sender_colours_256[] = {34,  70, 112, 35, 142, 178, 220, 172,
                                           33,  69, 63,  27, 99,  135, 171, 213};
enum { sender_colour_count_256 = sizeof sender_colours_256 / sizeof sender_colours_256[0] };

// The title stack (xterm's CSI 22/23 t) goes with xterm's title escape: where terminfo's `tsl`
// is that escape (tmux's entries, rxvt's) the terminal is xterm-like, and one without a stack
// ignores the request. A `tsl` that is something else (a hardware status line) is left alone.
static int detect_title_support(void) {
    const char *to_status = tigetstr("tsl");
    const char *from_status = tigetstr("fsl");
    if (to_status && to_status != (char *)-1 && from_status && from_status != (char *)-1) {
        title_stack = strncmp(to_status, "\033]", 2) == 0;
        return 1;
    }
    title_stack = tigetflag("XT") > 0;
    return title_stack ? 2 : 0;
}

static void write_sequence(const char *sequence) {
    fputs(sequence, stdout);
    fflush(stdout);
}

// The terminal modes the screen asks for, off whenever the terminal is given back (at the end,
// and while suspended). Bracketed paste (xterm's mode 2004): pasted text arrives between marks,
// so a Tab in it is text, not the completion key; terminals without the mode ignore the request.
// Focus reports (mode 1004), where titles work: the client learns when its window loses the
// focus. And the title the terminal had, kept on xterm's title stack while the client has the
// terminal and given back with it, so a suspended client's frozen unread count does not stand
// over the shell either.
static void set_terminal_modes(int on) {
    if (on && title_stack) write_sequence("\033[22;0t");
    write_sequence(on ? "\033[?2004h" : "\033[?2004l");
    if (title_mode != 0) write_sequence(on ? "\033[?1004h" : "\033[?1004l");
    if (!on && title_stack) write_sequence("\033[23;0t");
}

// Ctrl-Left and Ctrl-Right have no KEY_* constant. xterm-like terminfo entries list them as the
// extended capabilities kLFT5 and kRIT5, which ncurses numbers at run time; other entries lack
// them although the terminal (tmux, any xterm-like one) still sends xterm's sequences. So each
// known sequence is looked up, and bound to a free code of ours when terminfo did not bind it.
enum { maximum_key_codes = 4 };
struct key_codes {
    int codes[maximum_key_codes];
    int count;
};
static struct key_codes control_left, control_right;

static int unbound_key_code(void) {
    // Far above KEY_MAX and the few hundred codes ncurses numbers extended capabilities with.
    for (int code = 0x7000; code < 0x7fff; code++) {
        if (!has_key(code)) return code;
    }
    return -1;
}

static void learn_key(struct key_codes *keys, const char *sequence) {
    if (!sequence || sequence == (char *)-1 || keys->count == maximum_key_codes) return;
    int code = key_defined(sequence);
    // Negative: the sequence is a prefix of, or conflicts with, another key's; leave it alone.
    if (code < 0) return;
    if (code == 0) {
        code = unbound_key_code();
        if (code < 0 || define_key(sequence, code) != OK) return;
    }
    for (int i = 0; i < keys->count; i++) {
        if (keys->codes[i] == code) return;
    }
    keys->codes[keys->count++] = code;
}

static int is_key(const struct key_codes *keys, int code) {
    for (int i = 0; i < keys->count; i++) {
        if (keys->codes[i] == code) return 1;
    }
    return 0;
}

static void learn_word_movement_keys(void) {
    control_left.count = 0;
    control_right.count = 0;
    learn_key(&control_left, tigetstr("kLFT5"));
    learn_key(&control_left, "\033[1;5D");
    learn_key(&control_left, "\033Od");
    learn_key(&control_right, tigetstr("kRIT5"));
    learn_key(&control_right, "\033[1;5C");
    learn_key(&control_right, "\033Oc");
}

int chat_curses_begin(void) {
    // This thread inherits the signal mask of the dispatch thread that made it, which blocks
    // SIGTTIN and SIGTTOU, and the kernel lets a thread that blocks them read and set a terminal
    // its job does not own: continued with `bg` after Ctrl-Z, or started with `&`, the client
    // took raw mode and painted over the shell. Unblocked, the job stops until `fg`.
    sigset_t terminal_signals;
    sigemptyset(&terminal_signals);
    sigaddset(&terminal_signals, SIGTTIN);
    sigaddset(&terminal_signals, SIGTTOU);
    pthread_sigmask(SIG_UNBLOCK, &terminal_signals, NULL);
    screen = newterm(NULL, stdout, stdin);
    if (!screen) return -1;
    set_term(screen);
    // A terminal that cannot put the cursor on a given cell (TERM=dumb, a printing terminal)
    // gets every frame as a stream of garbled text; plain mode serves it better. Checked
    // before anything is drawn, so giving up leaves the terminal as it was.
    const char *cursor_address = tigetstr("cup");
    if (!cursor_address || cursor_address == (char *)-1 || tigetflag("hc") > 0 || tigetflag("gn") > 0) {
        chat_curses_end();
        return -1;
    }
    raw();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    // Escape is not a key of ours: a short delay only lets split escape sequences arrive whole.
    set_escdelay(25);
    // Home and End as the common terminals send them, whatever TERM's terminfo entry says.
    define_key("\033[1~", KEY_HOME);
    define_key("\033[7~", KEY_HOME);
    define_key("\033[H", KEY_HOME);
    define_key("\033OH", KEY_HOME);
    define_key("\033[4~", KEY_END);
    define_key("\033[8~", KEY_END);
    define_key("\033[F", KEY_END);
    define_key("\033OF", KEY_END);
    learn_word_movement_keys();
    sender_pair_first = 0;
    sender_pair_count = 0;
    if (has_colors()) {
        start_color();
        use_default_colors();
        // Pair 1, red, is for the server's notices only and pair 6, cyan, for the client's
        // remarks; senders get pairs 2 to 5, or 7 on with 256 colours.
        const short colours[] = {COLOR_RED, COLOR_GREEN, COLOR_YELLOW, COLOR_BLUE, COLOR_MAGENTA, COLOR_CYAN};
        for (short i = 0; i < 6; i++) init_pair((short)(i + 1), colours[i], -1);
        sender_pair_first = 2;
        sender_pair_count = 4;
        if (COLORS >= 256 && COLOR_PAIRS > 7 + sender_colour_count_256) {
            for (short i = 0; i < sender_colour_count_256; i++) {
                init_pair((short)(7 + i), sender_colours_256[i], -1);
            }
            sender_pair_first = 7;
            sender_pair_count = sender_colour_count_256;
        }
    }
    title_mode = detect_title_support();
    set_terminal_modes(1);
    return 0;
}

int chat_curses_enable_wheel(void) {
    mouseinterval(0);
    return mousemask(BUTTON4_PRESSED | BUTTON5_PRESSED, NULL) != 0;
}

int chat_curses_title_support(void) { return title_mode; }

void chat_curses_set_title(const char *title) {
    if (title_mode == 1) {
        putp(tigetstr("tsl"));
        fputs(title, stdout);
        putp(tigetstr("fsl"));
        fflush(stdout);
    } else if (title_mode == 2) {
        fputs("\033]2;", stdout);
        fputs(title, stdout);
        fputs("\007", stdout);
        fflush(stdout);
    }
}

void chat_curses_bell(void) { beep(); }

int chat_curses_sender_pairs(int *first_pair) {
    *first_pair = sender_pair_first;
    return sender_pair_count;
}

void chat_curses_end(void) {
    if (!screen) return;
    mousemask(0, NULL);
    set_terminal_modes(0);
    title_mode = 0;
    title_stack = 0;
    endwin();
    delscreen(screen);
    screen = NULL;
}

int chat_curses_suspend(void) {
    if (!screen) return -1;
    // Run straight by tmux, a terminal emulator or `setsid`, the client's process group is its
    // session's: no job-control shell put it there, so nothing would ever continue it.
    if (getpgrp() == getsid(0)) return -1;
    mmask_t mouse = 0;
    mousemask(0, &mouse);
    // The caller sets our title again once continued.
    set_terminal_modes(0);
    endwin();
    // The job stops as the terminal's own Ctrl-Z would stop it (raw mode turned that off),
    // pipeline partners included; `fg` continues it here. Sent with SIGTSTP blocked in this
    // thread, and unblocked before the handler is put back: either this thread takes it on the
    // way out of pthread_sigmask, or another thread already took it and the whole process is
    // stopping. Taken by another thread after the handler was back, it stopped nothing (CI).
    sigset_t stop_signal, mask;
    sigemptyset(&stop_signal);
    sigaddset(&stop_signal, SIGTSTP);
    pthread_sigmask(SIG_BLOCK, &stop_signal, &mask);
    struct sigaction stop, ours;
    memset(&stop, 0, sizeof stop);
    stop.sa_handler = SIG_DFL;
    sigemptyset(&stop.sa_mask);
    sigaction(SIGTSTP, &stop, &ours);
    kill(0, SIGTSTP);
    pthread_sigmask(SIG_UNBLOCK, &stop_signal, NULL);
    sigaction(SIGTSTP, &ours, NULL);
    pthread_sigmask(SIG_SETMASK, &mask, NULL);
    // Continued by `bg`, the client is not the terminal's foreground job: taking its terminal
    // modes back stops it (SIGTTOU) until `fg`, before anything is written over the shell's
    // screen or title.
    reset_prog_mode();
    if (mouse != 0) mousemask(mouse, NULL);
    set_terminal_modes(1);
    // The shell wrote over the screen meanwhile: the next refresh repaints every cell.
    clearok(curscr, TRUE);
    return 0;
}

int chat_curses_rows(void) { return LINES; }
int chat_curses_columns(void) { return COLS; }

void chat_curses_update_size(void) {
    struct winsize size;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_row > 0 && size.ws_col > 0) {
        resize_term(size.ws_row, size.ws_col);
    }
    // Curses assumes the terminal kept its cells across the resize, but terminals reflow or cut
    // their lines when the size changes, so what curses thinks is on screen no longer is, and
    // its minimal update would leave the old layout's text standing. Repaint every cell.
    clearok(curscr, TRUE);
}

int chat_curses_read_key(unsigned int *key) {
    wint_t value = 0;
    switch (get_wch(&value)) {
    case OK: *key = (unsigned int)value; return CHAT_KEY_CHARACTER;
    case KEY_CODE_YES:
        if (value == KEY_MOUSE) {
            MEVENT event;
            if (getmouse(&event) != OK) return CHAT_KEY_IGNORED;
            if (event.bstate & BUTTON4_PRESSED) return CHAT_KEY_WHEEL_UP;
            if (event.bstate & BUTTON5_PRESSED) return CHAT_KEY_WHEEL_DOWN;
            return CHAT_KEY_IGNORED;
        }
        if (is_key(&control_left, (int)value)) return CHAT_KEY_CONTROL_LEFT;
        if (is_key(&control_right, (int)value)) return CHAT_KEY_CONTROL_RIGHT;
        *key = (unsigned int)value;
        return CHAT_KEY_FUNCTION;
    default: return CHAT_KEY_NONE;
    }
}

void chat_curses_put(int row, int column, const unsigned int *characters, int count, int attributes,
                     int colour_pair) {
    wchar_t text[CCHARW_MAX + 1];
    int length = count < CCHARW_MAX ? count : CCHARW_MAX;
    for (int i = 0; i < length; i++) text[i] = (wchar_t)characters[i];
    text[length] = L'\0';
    attr_t attrs = A_NORMAL;
    if (attributes & CHAT_ATTRIBUTE_BOLD) attrs |= A_BOLD;
    if (attributes & CHAT_ATTRIBUTE_DIM) attrs |= A_DIM;
    if (attributes & CHAT_ATTRIBUTE_REVERSE) attrs |= A_REVERSE;
    if (attributes & CHAT_ATTRIBUTE_UNDERLINE) attrs |= A_UNDERLINE;
    cchar_t cell;
    if (setcchar(&cell, text, attrs, (short)colour_pair, NULL) == OK) mvadd_wch(row, column, &cell);
}

void chat_curses_clear(void) { erase(); }

void chat_curses_present(int cursor_row, int cursor_column) {
    move(cursor_row, cursor_column);
    refresh();
}

void chat_curses_repaint(void) { clearok(curscr, TRUE); }

static atomic_int pending_signals;
static int wake_descriptor = -1;

static void record_signal(int number) {
    int saved_errno = errno;
    // SIGCONT after a stop the client did not ask for (SIGSTOP) counts as a resize: the size
    // may have changed meanwhile, and either way every cell is repainted.
    int bit = number == SIGINT ? CHAT_SIGNAL_INTERRUPT
              : number == SIGTERM ? CHAT_SIGNAL_TERMINATE
              : number == SIGHUP  ? CHAT_SIGNAL_HANGUP
              : number == SIGTSTP ? CHAT_SIGNAL_SUSPEND
                                  : CHAT_SIGNAL_RESIZE;
    atomic_fetch_or(&pending_signals, bit);
    if (wake_descriptor >= 0) {
        char byte = 0;
        (void)!write(wake_descriptor, &byte, 1);
    }
    errno = saved_errno;
}

static const int handled_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGWINCH, SIGTSTP, SIGCONT};

void chat_signals_install(int descriptor) {
    wake_descriptor = descriptor;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = record_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    for (size_t i = 0; i < sizeof handled_signals / sizeof handled_signals[0]; i++) {
        sigaction(handled_signals[i], &action, NULL);
    }
}

void chat_signals_restore(void) {
    for (size_t i = 0; i < sizeof handled_signals / sizeof handled_signals[0]; i++) {
        signal(handled_signals[i], SIG_DFL);
    }
    wake_descriptor = -1;
}

int chat_signals_take(void) { return atomic_exchange(&pending_signals, 0); }
