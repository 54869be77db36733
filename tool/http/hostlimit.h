/* hostlimit.h: politeness: at most N requests in flight per host, and at
 * most R requests started per second overall.
 *
 * DESIGN: one weft_lock guards a small list of the hosts that have requests
 * in flight or waiting (an entry goes away when its host goes idle, so a run
 * over a million hosts holds only the few dozen active ones), and one
 * weft_cond over that lock wakes waiters when any host frees a slot. Waits
 * are in slices of 0.1 s so the stop flag (Ctrl-C) ends them promptly. The
 * rate limit hands out start times 1/R apart ("next slot"), then each caller
 * sleeps until its slot outside the lock. */
#ifndef WEFT_TOOL_HOSTLIMIT_H
#define WEFT_TOOL_HOSTLIMIT_H

#include <stdatomic.h>
#include <stdbool.h>

typedef struct hostlimit hostlimit;

/* per_host 0: no per-host limit; rate 0: no rate limit. stop may be NULL.
 * Returns 0 or ENOMEM. */
int hostlimit_new(hostlimit **out, unsigned per_host, double rate, atomic_bool *stop);
void hostlimit_free(hostlimit *h);

/* Waits for a slot on host (and for the rate limit's next start time).
 * Returns 0 with the slot held, or ECANCELED when stop was set or the
 * calling task was cancelled (no slot held then). */
int hostlimit_enter(hostlimit *h, const char *host);
/* Gives back the slot taken by hostlimit_enter. */
void hostlimit_leave(hostlimit *h, const char *host);

/* The most requests ever in flight at once on one host (for tests). */
unsigned hostlimit_peak(hostlimit *h);

/* Sleeps `seconds` in short slices, returning ECANCELED early when stop is
 * set or the calling task is cancelled; 0 otherwise. */
int hostlimit_sleep(double seconds, atomic_bool *stop);

#endif
