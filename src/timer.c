/* timer.c: weft_timer, Python's threading.Timer.
 *
 * DESIGN: a timer is a weft thread that waits on the timer's own mutex and
 * monotonic condvar until a deadline fixed when the timer is started (so the
 * delay counts from weft_timer_start, not from when the thread got to run),
 * then runs fn unless cancelled first. `state` under `mu` decides the race
 * between the deadline and weft_timer_cancel: whoever moves it out of WAITING
 * wins, and cancel signals the condvar so the thread ends at once instead of
 * waiting out the delay. fn runs with no lock held. The timer struct is
 * shared by the owner and the thread (two references), like weft_thread.
 *
 * Lock order: the timer's mu is never held together with any other lock. */
#include "cancel-internal.h"

#include <math.h>

enum { WAITING, CANCELLED, STARTED };

struct weft_timer {
    atomic_int refs; /* owner + timer thread */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int state;
    weft__deadline due;
    weft_fn *fn;
    void *arg;
    weft_thread *thread;
};

static void release(weft_timer *t)
{
    if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1)
        return;
    WEFT__CHECK(pthread_cond_destroy(&t->cv));
    WEFT__CHECK(pthread_mutex_destroy(&t->mu));
    weft__free(t);
}

/* The timer thread's body. Returns fn's code (its message is taken by the
 * thread runner), or 0 with no result when cancelled. */
static int timer_main(void *arg, void **result)
{
    weft_timer *t = arg;
    weft__cancel *tok = weft__wait_enter(&t->mu, &t->cv);
    weft__lock(&t->mu);
    while (t->state == WAITING) {
        if (weft__wait_cancelled(tok)) {
            t->state = CANCELLED;
            break;
        }
        if (weft__cond_wait(&t->cv, &t->mu, &t->due) == ETIMEDOUT && t->state == WAITING)
            t->state = STARTED;
    }
    bool run = t->state == STARTED;
    weft__unlock(&t->mu);
    weft__wait_leave(tok);
    weft_fn *fn = t->fn;
    void *fn_arg = t->arg;
    release(t);
    return run ? fn(fn_arg, result) : 0;
}

int weft_timer_start(weft_timer **out, double delay, weft_fn *fn, void *arg,
                     const weft_thread_opts *opts)
{
    if (!out || !fn || isnan(delay) || delay < 0)
        return EINVAL;
    weft_timer *t = weft__calloc(1, sizeof *t);
    if (!t)
        return ENOMEM;
    WEFT__CHECK(weft__deadline_init(&t->due, delay));
    atomic_init(&t->refs, 2);
    weft__mutex_init(&t->mu);
    weft__cond_init(&t->cv);
    t->state = WAITING;
    t->fn = fn;
    t->arg = arg;
    /* The timer thread never reads t->thread, so writing it here races with
     * nothing. */
    int rc = weft_thread_start(&t->thread, timer_main, t, opts);
    if (rc) {
        atomic_store(&t->refs, 1);
        release(t);
        return rc;
    }
    *out = t;
    return 0;
}

int weft_timer_cancel(weft_timer *t)
{
    if (!t)
        return EINVAL;
    int rc = 0;
    weft__lock(&t->mu);
    if (t->state == WAITING) {
        t->state = CANCELLED;
        WEFT__CHECK(pthread_cond_signal(&t->cv));
    } else if (t->state == STARTED) {
        rc = EALREADY;
    }
    weft__unlock(&t->mu);
    return rc;
}

int weft_timer_join(weft_timer *t, double timeout)
{
    if (!t)
        return EINVAL;
    return weft_thread_join(t->thread, timeout);
}

weft_thread *weft_timer_thread(weft_timer *t)
{
    return t ? t->thread : NULL;
}

void weft_timer_free(weft_timer *t)
{
    if (!t)
        return;
    (void)weft_timer_cancel(t);
    weft_thread_free(t->thread);
    release(t);
}
