/* event.c: a flag threads wait for (Python's threading.Event).
 *
 * DESIGN: a mutex, one monotonic condvar and a generation counter. set()
 * bumps the generation when it turns the flag on and broadcasts; a waiter
 * records the generation when it starts blocking and returns 0 as soon as it
 * changes. So a waiter woken by set() succeeds even when clear() ran before
 * it got the mutex back (Python's Event gives the same answer, because its
 * Condition.wait returns True on notify whatever the flag is by then). The
 * flag is also an atomic, so is_set() takes no lock. wait() always takes the
 * mutex, even when the flag is already on: it must not return while a set()
 * still touches the event, or its caller could not free it (see wait()).
 *
 * Lock order: a cancel token's mutex before e->mu (cancel-internal.h protocol); no
 * other lock is ever taken with e->mu held.
 */
#include "cancel-internal.h"
#include "sync-internal.h"

struct weft_event {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_bool flag; /* written under mu, read anywhere */
    uint64_t gen;     /* times set() turned the flag on; under mu */
    unsigned n_waiting;
};

int weft_event_new(weft_event **out)
{
    if (!out)
        return EINVAL;
    weft_event *e = weft__calloc(1, sizeof *e);
    if (!e)
        return ENOMEM;
    weft__mutex_init(&e->mu);
    weft__cond_init(&e->cv);
    atomic_init(&e->flag, false);
    *out = e;
    return 0;
}

void weft_event_free(weft_event *e)
{
    if (!e)
        return;
    WEFT__CHECK(pthread_cond_destroy(&e->cv));
    WEFT__CHECK(pthread_mutex_destroy(&e->mu));
    weft__free(e);
}

void weft_event_set(weft_event *e)
{
    if (!e)
        return;
    weft__lock(&e->mu);
    if (!atomic_load_explicit(&e->flag, memory_order_relaxed)) {
        atomic_store_explicit(&e->flag, true, memory_order_release);
        e->gen++;
        WEFT__CHECK(pthread_cond_broadcast(&e->cv));
    }
    weft__unlock(&e->mu);
}

void weft_event_clear(weft_event *e)
{
    if (!e)
        return;
    weft__lock(&e->mu);
    atomic_store_explicit(&e->flag, false, memory_order_release);
    weft__unlock(&e->mu);
}

bool weft_event_is_set(const weft_event *e)
{
    return e && atomic_load_explicit(&e->flag, memory_order_acquire);
}

int weft_event_wait(weft_event *e, double timeout)
{
    if (!e)
        return EINVAL;
    weft__deadline dl;
    int rc = weft__deadline_init(&dl, timeout);
    if (rc)
        return rc;
    /* No lock-free "already set" return: set() stores the flag and then
     * still broadcasts and unlocks e->mu, so a waiter that returned on the
     * bare flag could free the event (the usual one-shot pattern) under the
     * setter. Taking e->mu, as every path below does, returns only after
     * set() has let go of the event. */
    weft__cancel *tok = weft__wait_enter(&e->mu, &e->cv);
    weft__lock(&e->mu);
    if (!atomic_load_explicit(&e->flag, memory_order_relaxed)) {
        uint64_t gen = e->gen;
        e->n_waiting++;
        while (e->gen == gen) {
            if (weft__wait_cancelled(tok)) {
                rc = ECANCELED;
                break;
            }
            if (weft__cond_wait(&e->cv, &e->mu, &dl) == ETIMEDOUT && e->gen == gen) {
                rc = ETIMEDOUT;
                break;
            }
        }
        e->n_waiting--;
    }
    weft__unlock(&e->mu);
    weft__wait_leave(tok);
    return rc;
}

unsigned weft__event_n_waiting(const weft_event *e)
{
    /* Never really const: heap-allocated by weft_event_new(). */
    weft_event *m = (weft_event *)e;
    weft__lock(&m->mu);
    unsigned n = m->n_waiting;
    weft__unlock(&m->mu);
    return n;
}
