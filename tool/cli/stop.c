/* stop.c: SIGINT and SIGTERM as a stop flag (see stop.h). */
#include "cli/stop.h"

#include <signal.h>
#include <stdbool.h>
#include <errno.h>
#include <string.h>

static atomic_bool *_Atomic target;

static void on_signal(int sig)
{
    atomic_bool *f = atomic_load(&target);
    if (f)
        atomic_store(f, true);
}

void cli_stop_on_signals(atomic_bool *flag)
{
    atomic_store(&target, flag);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* SA_RESTART: a write of the rows that the signal interrupts goes on
     * (else stdio loses it and the run would end "cannot write"). Reads
     * that may block poll first, and poll() is never restarted. */
    sa.sa_flags = SA_RESETHAND | SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

bool cli_output_ok(FILE *out, const char *cmd, const char *name, int err)
{
    errno = 0;
    bool bad = fflush(out) != 0;
    int e = err ? err : errno;
    bad |= ferror(out) != 0 || err != 0;
    if (!bad)
        return true;
    /* stderr itself may be what failed: the exit status still says so. */
    fprintf(stderr, "weft %s: cannot write %s: %s\n", cmd, name, e ? strerror(e) : "write error");
    return false;
}
