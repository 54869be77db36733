/* stop.h: Ctrl-C (SIGINT) and SIGTERM as a stop flag, for the subcommands.
 *
 * DESIGN: each subcommand owns its flag (fetch's fetch_stop, crawl's own)
 * and its engine polls it between transfers and from curl's progress
 * callback; the handler only stores to it, which is async-signal-safe for a
 * lock-free atomic_bool. The second signal gets the default action, so a
 * stuck run can always be killed from the keyboard. SA_RESTART, so an
 * interrupted write of the rows goes on; fetch polls a stalled stdin with
 * a timeout before each read, so the run still ends. */
#ifndef WEFT_TOOL_STOP_H
#define WEFT_TOOL_STOP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>

/* From now on, SIGINT and SIGTERM set *flag (once each; the next one kills).
 * The flag must outlive the process's use of it (a static). */
void cli_stop_on_signals(atomic_bool *flag);

/* Flushes out and checks it for an earlier write error. Returns true when
 * everything written to it reached the system; otherwise prints once, to
 * stderr, "weft CMD: cannot write NAME: reason" (reason: err if not 0,
 * else what the flush said) and returns false. */
bool cli_output_ok(FILE *out, const char *cmd, const char *name, int err);

#endif
