/* sem.c: counting and bounded semaphores (Python's threading.Semaphore and
 * BoundedSemaphore), with waiters served strictly in arrival order.
 *
 * DESIGN: permits are handed off directly. A thread that finds no free permit
 * queues a waiter node (on its own stack) at the tail of a FIFO list;
 * weft_sem_release() gives each released permit to the head of the list
 * (marks it granted, unlinks it, signals it) before any is left free. So the
 * invariant "value > 0 implies the queue is empty" holds whenever the mutex is
 * free, a late arrival can never overtake a queued waiter, and a waiter that
 * times out or is cancelled simply unlinks itself: it was never granted, so
 * no permit leaves with it (a granted waiter returns 0 even if its timeout or
 * a cancel request arrived meanwhile: it holds the permit). Each waiter has
 * its own monotonic condvar, so a release wakes exactly the waiters it
 * served instead of every queued thread (no thundering herd with hundreds of
 * waiters); the condvar is created only on the blocking path.
 *
 * Deadlock detector (deadlock.c): a wait that may block (timeout not 0) is
 * checked like a lock acquisition (edges from the locks the caller holds),
 * and a release adds edges from the semaphore to the locks its releaser
 * holds; the class is the creator's address.
 *
 * Lock order: a cancel token's mutex before s->mu (cancel-internal.h protocol); no
 * other lock is ever taken with s->mu held.
 */
#include "deadlock-internal.h"
#include "cancel-internal.h"
#include "sync-internal.h"

#include <limits.h>

typedef struct waiter {
    struct waiter *prev, *next;
    pthread_cond_t cv;
    bool granted; /* a permit was handed to this waiter; under s->mu */
} waiter;

struct weft_sem {
    pthread_mutex_t mu;
    unsigned value;   /* free permits; > 0 only while nobody is queued */
    unsigned initial; /* the bound of a bounded semaphore */
    bool bounded;
    unsigned n_waiting;
    waiter *head, *tail; /* FIFO of threads blocked in acquire */
    weft__dl_obj dl;     /* class for the deadlock detector: the creator's site */
};

static int sem_new(weft_sem **out, unsigned value, bool bounded, const void *pc)
{
    if (!out)
        return EINVAL;
    weft_sem *s = weft__calloc(1, sizeof *s);
    if (!s)
        return ENOMEM;
    weft__mutex_init(&s->mu);
    s->value = value;
    s->initial = value;
    s->bounded = bounded;
    weft__dl_obj_init(&s->dl, "semaphore", NULL, NULL, 0, pc);
    *out = s;
    return 0;
}

int weft_sem_new(weft_sem **out, unsigned value)
{
    return sem_new(out, value, false, __builtin_return_address(0));
}

int weft_sem_new_bounded(weft_sem **out, unsigned value)
{
    return sem_new(out, value, true, __builtin_return_address(0));
}

void weft_sem_free(weft_sem *s)
{
    if (!s)
        return;
    weft__dl_obj_destroy(&s->dl);
    WEFT__CHECK(pthread_mutex_destroy(&s->mu));
    weft__free(s);
}

static int acquire_dl(weft_sem *s, const weft__deadline *dl, double timeout);

static void enqueue(weft_sem *s, waiter *w)
{
    w->next = NULL;
    w->prev = s->tail;
    if (s->tail)
        s->tail->next = w;
    else
        s->head = w;
    s->tail = w;
    s->n_waiting++;
}

static void unlink_waiter(weft_sem *s, waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        s->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        s->tail = w->prev;
    s->n_waiting--;
}

int weft_sem_acquire(weft_sem *s, double timeout)
{
    if (!s)
        return EINVAL;
    weft__deadline dl;
    int rc = weft__deadline_init(&dl, timeout);
    if (rc)
        return rc;
    bool checked = weft__dl_maybe_on() && weft__dl_on();
    if (checked && timeout != 0)
        weft__dl_before_wait(&s->dl, __builtin_return_address(0));
    rc = acquire_dl(s, &dl, timeout);
    if (rc == 0 && checked)
        weft__dl_sem_acquired(s);
    return rc;
}

/* weft_sem_acquire once the deadline is valid and the detector has looked. */
static int acquire_dl(weft_sem *s, const weft__deadline *dl, double timeout)
{
    int rc = 0;

    /* Fast path: a free permit means nobody is queued, so taking it is fair. */
    weft__lock(&s->mu);
    if (s->value > 0) {
        s->value--;
        weft__unlock(&s->mu);
        return 0;
    }
    weft__unlock(&s->mu);
    if (timeout == 0)
        return EBUSY;

    /* Slow path. The token must be registered before s->mu is taken (lock
     * order), hence the unlock above and the second look at value below. */
    waiter w = {.granted = false};
    weft__cond_init(&w.cv);
    weft__cancel *tok = weft__wait_enter(&s->mu, &w.cv);
    weft__lock(&s->mu);
    if (s->value > 0) {
        s->value--;
    } else {
        enqueue(s, &w);
        while (!w.granted) {
            if (weft__wait_cancelled(tok)) {
                rc = ECANCELED;
                break;
            }
            if (weft__cond_wait(&w.cv, &s->mu, dl) == ETIMEDOUT && !w.granted) {
                rc = ETIMEDOUT;
                break;
            }
        }
        /* Not granted means still queued and no permit was ours to lose. */
        if (!w.granted)
            unlink_waiter(s, &w);
    }
    weft__unlock(&s->mu);
    weft__wait_leave(tok);
    /* Safe now: the releaser signalled with s->mu held, and the canceller
     * broadcast before weft__wait_leave() could take the token's mutex. */
    WEFT__CHECK(pthread_cond_destroy(&w.cv));
    return rc;
}

int weft_sem_release(weft_sem *s, unsigned n)
{
    if (!s || n == 0)
        return EINVAL;
    if (weft__dl_maybe_on() && weft__dl_on())
        weft__dl_sem_released(&s->dl, s, __builtin_return_address(0));
    weft__lock(&s->mu);
    /* While anyone is queued value is 0, so these bounds see every permit
     * currently held, including those granted but not yet returned. */
    unsigned room = s->bounded ? s->initial - s->value : UINT_MAX - s->value;
    if (n > room) {
        weft__unlock(&s->mu);
        return EOVERFLOW;
    }
    s->value += n;
    while (s->value > 0 && s->head) {
        waiter *w = s->head;
        unlink_waiter(s, w);
        w->granted = true;
        s->value--;
        /* Signalled under s->mu: the waiter cannot see `granted`, return
         * and destroy cv until we unlock. */
        WEFT__CHECK(pthread_cond_signal(&w->cv));
    }
    weft__unlock(&s->mu);
    return 0;
}

unsigned weft_sem_value(const weft_sem *s)
{
    /* The object is never really const (it is heap-allocated by us); the
     * mutex makes the snapshot coherent with releases in flight. */
    if (!s)
        return 0;
    weft_sem *m = (weft_sem *)s;
    weft__lock(&m->mu);
    unsigned v = m->value;
    weft__unlock(&m->mu);
    return v;
}

unsigned weft__sem_n_waiting(const weft_sem *s)
{
    weft_sem *m = (weft_sem *)s;
    weft__lock(&m->mu);
    unsigned n = m->n_waiting;
    weft__unlock(&m->mu);
    return n;
}
