#include <fcntl.h>
#include <unistd.h>

// A closed stdin, stdout or stderr (`<&-`, `>&-`) would be handed to the next file the process
// opens, and the runtime opens its own (the event loop's epoll, dispatch's eventfd) before any
// Swift code runs: input would then be read from, and output written to, one of those. So the
// gaps are filled with /dev/null first, as a constructor: a closed stdin reads as empty input
// and a closed stdout is a sink.
__attribute__((constructor)) static void chat_reopen_closed_standard_descriptors(void) {
    for (int descriptor = STDIN_FILENO; descriptor <= STDERR_FILENO; descriptor++) {
        // open() takes the lowest free descriptor, which is this one: the lower ones are open.
        if (fcntl(descriptor, F_GETFD) == -1) {
            (void)open("/dev/null", descriptor == STDIN_FILENO ? O_RDONLY : O_WRONLY);
        }
    }
}
