/* clock.c: deadlines and monotonic condvars (weft_sleep, which is
 * cancellable, is in sleep.c: this file is below cancellation).
 *
 * DESIGN: relative timeouts are converted once to an absolute CLOCK_MONOTONIC
 * deadline; waits loop on the deadline, never on a fresh relative time, so
 * spurious wakeups and retries cannot stretch a timeout. */
#include "clock-internal.h"

#include <math.h>

/* About 317 years: beyond this a timeout is "a very long time", and the sum
 * with the current time still fits a 64-bit time_t with room to spare. */
#define MAX_TIMEOUT 1e10

void weft__now(struct timespec *ts)
{
    WEFT__CHECK(clock_gettime(CLOCK_MONOTONIC, ts) == 0 ? 0 : EINVAL);
}

double weft_monotonic(void)
{
    struct timespec ts;
    weft__now(&ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int weft__deadline_init(weft__deadline *d, double timeout)
{
    if (isnan(timeout))
        return EINVAL;
    if (timeout < 0) {
        if (timeout != WEFT_FOREVER)
            return EINVAL;
        d->forever = true;
        d->at.tv_sec = 0;
        d->at.tv_nsec = 0;
        return 0;
    }
    d->forever = false;
    if (timeout > MAX_TIMEOUT)
        timeout = MAX_TIMEOUT;
    weft__now(&d->at);
    /* A cast, not floor(): timeout is in [0, MAX_TIMEOUT], and libweft
     * should not need libm (clang calls floor out of line). */
    double whole = (double)(time_t)timeout;
    long nsec = (long)((timeout - whole) * 1e9);
    d->at.tv_sec += (time_t)whole;
    d->at.tv_nsec += nsec;
    if (d->at.tv_nsec >= 1000000000L) {
        d->at.tv_sec++;
        d->at.tv_nsec -= 1000000000L;
    }
    return 0;
}

bool weft__deadline_passed(const weft__deadline *d)
{
    if (d->forever)
        return false;
    struct timespec now;
    weft__now(&now);
    return now.tv_sec > d->at.tv_sec ||
           (now.tv_sec == d->at.tv_sec && now.tv_nsec >= d->at.tv_nsec);
}

double weft__deadline_remaining(const weft__deadline *d)
{
    if (d->forever)
        return WEFT_FOREVER;
    struct timespec now;
    weft__now(&now);
    double left = (double)(d->at.tv_sec - now.tv_sec) + (double)(d->at.tv_nsec - now.tv_nsec) / 1e9;
    return left > 0 ? left : 0;
}

void weft__mutex_init(pthread_mutex_t *m)
{
    WEFT__CHECK(pthread_mutex_init(m, NULL));
}

void weft__cond_init(pthread_cond_t *c)
{
    pthread_condattr_t attr;
    WEFT__CHECK(pthread_condattr_init(&attr));
    WEFT__CHECK(pthread_condattr_setclock(&attr, CLOCK_MONOTONIC));
    WEFT__CHECK(pthread_cond_init(c, &attr));
    WEFT__CHECK(pthread_condattr_destroy(&attr));
}

int weft__cond_wait(pthread_cond_t *c, pthread_mutex_t *m, const weft__deadline *d)
{
    if (d == NULL || d->forever) {
        WEFT__CHECK(pthread_cond_wait(c, m));
        return 0;
    }
    int rc = pthread_cond_timedwait(c, m, &d->at);
    if (rc == ETIMEDOUT)
        return ETIMEDOUT;
    WEFT__CHECK(rc);
    return 0;
}
