/* cond.c: weft_cond, condition variables over a weft_lock or weft_rlock
 * (Python's Condition), with FIFO wakeups.
 *
 * DESIGN: as CPython's Condition, each waiter brings its own node (on its
 * stack) with its own monotonic condvar and a `notified` flag, and appends it
 * to the condition's list while it still holds the user's lock; then it
 * releases that lock (fully, for an RLock, remembering the level) and sleeps
 * until its flag is set. notify(n) pops the n oldest nodes, sets their flags
 * and signals each one's condvar: FIFO, and no thundering herd. A waiter that
 * times out or is cancelled unlinks its own node, so a later notify never
 * spends a wakeup on a thread that has gone. Because the node is queued
 * before the user's lock is released, a notify issued by the next holder of
 * that lock always finds it. Every return path but EPERM/EINVAL re-acquires
 * the user's lock, uncancellably: the caller always gets it back.
 *
 * Deadlock detector: the wait drops the user's lock through the one release
 * path and takes it back through the one acquisition path, so the held-lock
 * stack pops and pushes it (a condition wait is no lock-order edge of its
 * own). A condition made without a lock names its RLock's class after the
 * caller of weft_cond_new.
 *
 * Lock order: the user's lock, then c->m (a notifier holds the first and
 * takes the second; a waiter never acquires the user's lock while holding
 * c->m). A cancel request takes tok->mu, then c->m (cancel-internal.h). */
#include "cancel-internal.h"
#include "sync-internal.h"

typedef struct waiter {
    struct waiter *prev, *next;
    pthread_cond_t cv;
    bool notified; /* guarded by the condition's m */
} waiter;

struct weft_cond {
    weft_lock *lock; /* exactly one of lock and rlock is set */
    weft_rlock *rlock;
    bool own_rlock;    /* rlock was made by weft_cond_new and is freed with it */
    pthread_mutex_t m; /* guards the list and every node's flag */
    waiter *head, *tail;
};

static int cond_alloc(weft_cond **out)
{
    if (!out)
        return EINVAL;
    weft_cond *c = weft__calloc(1, sizeof *c);
    if (!c)
        return ENOMEM;
    weft__mutex_init(&c->m);
    *out = c;
    return 0;
}

int weft_cond_new(weft_cond **out, weft_lock *lock)
{
    if (!out)
        return EINVAL;
    weft_rlock *own = NULL;
    if (!lock) {
        int rc = weft__rlock_new_pc(&own, __builtin_return_address(0));
        if (rc)
            return rc;
    }
    weft_cond *c;
    if (cond_alloc(&c)) {
        weft_rlock_free(own);
        return ENOMEM;
    }
    c->lock = lock;
    c->rlock = own;
    c->own_rlock = own != NULL;
    *out = c;
    return 0;
}

int weft_cond_new_rlock(weft_cond **out, weft_rlock *lock)
{
    if (!out || !lock)
        return EINVAL;
    weft_cond *c;
    if (cond_alloc(&c))
        return ENOMEM;
    c->rlock = lock;
    *out = c;
    return 0;
}

void weft_cond_free(weft_cond *c)
{
    if (!c)
        return;
    if (c->own_rlock)
        weft_rlock_free(c->rlock);
    WEFT__CHECK(pthread_mutex_destroy(&c->m));
    weft__free(c);
}

int weft_cond_acquire(weft_cond *c, double timeout)
{
    if (!c)
        return EINVAL;
    const void *pc = __builtin_return_address(0);
    return c->lock ? weft__lock_acquire_(c->lock, timeout, true, pc)
                   : weft__rlock_acquire_pc(c->rlock, timeout, pc);
}

int weft_cond_release(weft_cond *c)
{
    if (!c)
        return EINVAL;
    return c->lock ? weft_lock_release(c->lock) : weft_rlock_release(c->rlock);
}

static bool held(const weft_cond *c)
{
    return c->lock ? weft_lock_held(c->lock) : weft_rlock_is_owned(c->rlock);
}

static void unlink_waiter(weft_cond *c, waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        c->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        c->tail = w->prev;
    w->prev = w->next = NULL;
}

/* One wait on a valid deadline; the caller holds the user's lock. Returns 0,
 * ETIMEDOUT or ECANCELED, holding the lock again. */
static int wait_dl(weft_cond *c, const weft__deadline *dl, const void *pc)
{
    waiter w = {.prev = NULL, .next = NULL, .notified = false};
    weft__cond_init(&w.cv);
    weft__lock(&c->m);
    w.prev = c->tail;
    if (c->tail)
        c->tail->next = &w;
    else
        c->head = &w;
    c->tail = &w;
    weft__unlock(&c->m);

    unsigned levels = 0;
    if (c->lock)
        weft__lock_release_owned(c->lock);
    else
        levels = weft__rlock_release_all(c->rlock);

    int rc;
    bool timed_out = false;
    weft__cancel *tok = weft__wait_enter(&c->m, &w.cv);
    weft__lock(&c->m);
    for (;;) {
        /* A notify that raced with a timeout or cancel wins: it already
         * spent itself on this waiter. */
        if (w.notified) {
            rc = 0;
            break;
        }
        if (weft__wait_cancelled(tok)) {
            rc = ECANCELED;
            break;
        }
        if (timed_out) {
            rc = ETIMEDOUT;
            break;
        }
        timed_out = weft__cond_wait(&w.cv, &c->m, dl) == ETIMEDOUT;
    }
    if (!w.notified)
        unlink_waiter(c, &w);
    weft__unlock(&c->m);
    weft__wait_leave(tok);
    /* Nobody can touch w.cv now: notifiers signal it only under m, and only
     * while it is linked. */
    WEFT__CHECK(pthread_cond_destroy(&w.cv));

    if (c->lock)
        WEFT__CHECK(weft__lock_acquire_(c->lock, WEFT_FOREVER, false, pc));
    else
        weft__rlock_reacquire(c->rlock, levels, pc);
    return rc;
}

int weft_cond_wait(weft_cond *c, double timeout)
{
    if (!c)
        return EINVAL;
    if (!held(c))
        return EPERM;
    weft__deadline dl;
    int rc = weft__deadline_init(&dl, timeout);
    if (rc)
        return rc;
    return wait_dl(c, &dl, __builtin_return_address(0));
}

int weft_cond_wait_for(weft_cond *c, weft_cond_pred_fn *pred, void *arg, double timeout)
{
    if (!c || !pred)
        return EINVAL;
    if (!held(c))
        return EPERM;
    weft__deadline dl;
    int rc = weft__deadline_init(&dl, timeout);
    if (rc)
        return rc;
    while (!pred(arg)) {
        if (rc == ETIMEDOUT || weft__deadline_passed(&dl))
            return ETIMEDOUT;
        rc = wait_dl(c, &dl, __builtin_return_address(0));
        if (rc == ECANCELED)
            return rc;
    }
    return 0;
}

static void wake(weft_cond *c, unsigned n)
{
    weft__lock(&c->m);
    while (n > 0 && c->head) {
        waiter *w = c->head;
        unlink_waiter(c, w);
        w->notified = true;
        WEFT__CHECK(pthread_cond_signal(&w->cv));
        n--;
    }
    weft__unlock(&c->m);
}

int weft_cond_notify(weft_cond *c, unsigned n)
{
    if (!c)
        return EINVAL;
    if (!held(c))
        return EPERM;
    wake(c, n);
    return 0;
}

int weft_cond_notify_all(weft_cond *c)
{
    if (!c)
        return EINVAL;
    if (!held(c))
        return EPERM;
    wake(c, (unsigned)-1);
    return 0;
}
