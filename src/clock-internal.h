/* clock-internal.h: time and the pthread helpers every wait uses
 * (clock.c; weft__ names, never exported).
 *
 * DESIGN: a relative double timeout becomes an absolute CLOCK_MONOTONIC
 * deadline once, at the API edge (weft__deadline_init). Every wait loops on
 * that deadline, so spurious wakeups never stretch a timeout. Condvars are
 * created by weft__cond_init, on the monotonic clock. Nothing here knows
 * about cancellation (cancel-internal.h is built on this, not the reverse). */
#ifndef WEFT_CLOCK_INTERNAL_H
#define WEFT_CLOCK_INTERNAL_H

#include "base-internal.h"

/* ------------------------------------------------------------ time */

typedef struct weft__deadline {
    struct timespec at; /* absolute, CLOCK_MONOTONIC; meaningless when forever */
    bool forever;
} weft__deadline;

/* Converts a relative timeout to a deadline. Returns 0 or EINVAL (NaN, or
 * negative other than WEFT_FOREVER). Huge timeouts saturate. */
int weft__deadline_init(weft__deadline *d, double timeout);
/* True when the deadline is not forever and has passed. */
bool weft__deadline_passed(const weft__deadline *d);
/* Seconds left (0 when passed, WEFT_FOREVER when forever): for handing a
 * deadline to a nested weft call that takes a relative timeout. */
double weft__deadline_remaining(const weft__deadline *d);
void weft__now(struct timespec *ts);

/* ------------------------------------------------------------ pthreads */

void weft__mutex_init(pthread_mutex_t *m);
/* A condvar on CLOCK_MONOTONIC. */
void weft__cond_init(pthread_cond_t *c);
#define weft__lock(m)   WEFT__CHECK(pthread_mutex_lock(m))
#define weft__unlock(m) WEFT__CHECK(pthread_mutex_unlock(m))
/* Waits on c (m held) until signalled or the deadline passes. Returns 0 or
 * ETIMEDOUT; the caller re-checks its predicate either way. */
int weft__cond_wait(pthread_cond_t *c, pthread_mutex_t *m, const weft__deadline *d);

#endif
