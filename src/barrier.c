/* barrier.c: a reusable barrier (Python's threading.Barrier).
 *
 * DESIGN: CPython's state machine (Lib/threading.py), under one mutex and one
 * monotonic condvar:
 *   FILLING   parties arrive; `count` of them are in wait();
 *   DRAINING  the round was released; arrivals for the next round block in
 *             the entry phase until the last of this round has left;
 *   RESETTING reset() ran while threads were waiting; they get WEFT_EBROKEN
 *             and the last to leave makes the barrier FILLING again;
 *   BROKEN    every waiter, now and later, gets WEFT_EBROKEN until reset().
 * Two differences, both because weft never runs user code under its lock:
 *   - The last arriver runs the action with the mutex released, in a fifth
 *     state, ACTION, which new arrivals treat like DRAINING (they wait) and
 *     the parties already waiting treat like FILLING (they keep waiting).
 *     In CPython the lock is held, so a waiter whose timeout passes during
 *     the action cannot act on it until the action is over, and then finds
 *     the round released; here a waiter whose deadline passed during ACTION
 *     likewise waits (untimed) for the outcome. Cancellation stays prompt: a
 *     cancelled waiter breaks the barrier even during the action, and the
 *     action's thread then gets WEFT_EBROKEN.
 *   - `released` counts rounds released. A waiter returns success when its
 *     round was released, even if the barrier was broken (abort(), another
 *     round's timeout) before it got the mutex back; in CPython that race
 *     turns a completed round into BrokenBarrierError for slow wakers.
 * As in CPython, the timeout covers only the wait for the other parties, not
 * the entry phase (waiting for the previous round to drain, which depends
 * only on threads that are already released): the timeout is validated at
 * the call but the deadline is (re)taken on arrival, after the entry phase,
 * so a slow drain cannot eat a short timeout and break the barrier. A thread
 * cancelled in the entry phase returns ECANCELED without breaking the
 * barrier: it never arrived.
 *
 * Deadlock detector (deadlock.c): a wait made while holding locks adds
 * edges from them to the barrier's class (the creator's address), checked
 * for cycles like a lock acquisition.
 *
 * Lock order: a cancel token's mutex before b->mu (cancel-internal.h protocol); no
 * other lock is ever taken with b->mu held.
 */
#include "deadlock-internal.h"
#include "cancel-internal.h"

enum state { FILLING, ACTION, DRAINING, RESETTING, BROKEN };

struct weft_barrier {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned parties;
    weft_barrier_action_fn *action;
    void *arg;
    enum state state;
    unsigned count;    /* threads that arrived and have not left wait() */
    uint64_t released; /* rounds released so far */
    weft__dl_obj dl;   /* class for the deadlock detector: the creator's site */
};

int weft_barrier_new(weft_barrier **out, unsigned parties, weft_barrier_action_fn *action,
                     void *arg)
{
    if (!out || parties == 0)
        return EINVAL;
    weft_barrier *b = weft__calloc(1, sizeof *b);
    if (!b)
        return ENOMEM;
    weft__mutex_init(&b->mu);
    weft__cond_init(&b->cv);
    b->parties = parties;
    b->action = action;
    b->arg = arg;
    b->state = FILLING;
    weft__dl_obj_init(&b->dl, "barrier", NULL, NULL, 0, __builtin_return_address(0));
    *out = b;
    return 0;
}

void weft_barrier_free(weft_barrier *b)
{
    if (!b)
        return;
    weft__dl_obj_destroy(&b->dl);
    WEFT__CHECK(pthread_cond_destroy(&b->cv));
    WEFT__CHECK(pthread_mutex_destroy(&b->mu));
    weft__free(b);
}

/* b->mu held. CPython's _break. */
static void break_barrier(weft_barrier *b)
{
    b->state = BROKEN;
    WEFT__CHECK(pthread_cond_broadcast(&b->cv));
}

/* b->mu held; the caller is the last arriver. Runs the action with b->mu
 * released and releases the round. Returns 0, the action's code, or
 * WEFT_EBROKEN when the barrier was broken or reset during the action. */
static int release_round(weft_barrier *b)
{
    if (b->action) {
        b->state = ACTION;
        weft__unlock(&b->mu);
        int arc = b->action(b->arg);
        weft__lock(&b->mu);
        if (arc != 0) {
            break_barrier(b);
            return arc;
        }
        if (b->state != ACTION)
            return WEFT_EBROKEN;
    }
    b->state = DRAINING;
    b->released++;
    WEFT__CHECK(pthread_cond_broadcast(&b->cv));
    return 0;
}

/* b->mu held; the caller arrived and is not the last. CPython's _wait. */
static int wait_round(weft_barrier *b, uint64_t round, const weft__deadline *dl, weft__cancel *tok)
{
    for (;;) {
        if (b->released != round)
            return 0;
        if (b->state == BROKEN || b->state == RESETTING)
            return WEFT_EBROKEN;
        if (weft__wait_cancelled(tok)) {
            break_barrier(b);
            return ECANCELED;
        }
        /* During the action every party has arrived: wait for its outcome
         * whatever the deadline says (see DESIGN). */
        bool timed = b->state == FILLING;
        if (weft__cond_wait(&b->cv, &b->mu, timed ? dl : NULL) == ETIMEDOUT &&
            b->released == round && b->state == FILLING) {
            break_barrier(b);
            return ETIMEDOUT;
        }
    }
}

int weft_barrier_wait(weft_barrier *b, double timeout, unsigned *index)
{
    if (!b)
        return EINVAL;
    weft__deadline dl;
    int rc = weft__deadline_init(&dl, timeout);
    if (rc)
        return rc;
    if (weft__dl_maybe_on() && weft__dl_on() && timeout != 0)
        weft__dl_before_wait(&b->dl, __builtin_return_address(0));
    weft__cancel *tok = weft__wait_enter(&b->mu, &b->cv);
    weft__lock(&b->mu);

    /* Entry phase (CPython's _enter): wait out the previous round. */
    bool entered_late = false;
    while (b->state == ACTION || b->state == DRAINING || b->state == RESETTING) {
        if (weft__wait_cancelled(tok)) {
            rc = ECANCELED;
            goto out;
        }
        (void)weft__cond_wait(&b->cv, &b->mu, NULL);
        entered_late = true;
    }
    /* The timeout covers only the wait for the other parties: start it on
     * arrival. Cannot fail: the timeout was validated above. */
    if (entered_late)
        (void)weft__deadline_init(&dl, timeout);
    if (b->state == BROKEN) {
        rc = WEFT_EBROKEN;
        goto out;
    }

    unsigned idx = b->count++;
    if (idx + 1 == b->parties)
        rc = release_round(b);
    else
        rc = wait_round(b, b->released, &dl, tok);
    if (rc == 0 && index)
        *index = idx;

    /* CPython's _exit: the last to leave a released or reset round opens
     * the barrier for the next one. */
    if (--b->count == 0 && (b->state == DRAINING || b->state == RESETTING)) {
        b->state = FILLING;
        WEFT__CHECK(pthread_cond_broadcast(&b->cv));
    }
out:
    weft__unlock(&b->mu);
    weft__wait_leave(tok);
    return rc;
}

void weft_barrier_reset(weft_barrier *b)
{
    if (!b)
        return;
    weft__lock(&b->mu);
    if (b->count > 0) {
        /* Waiters leave with WEFT_EBROKEN; the last one out reopens it. A
         * draining round is left to finish: its waiters already succeeded. */
        if (b->state == FILLING || b->state == ACTION || b->state == BROKEN)
            b->state = RESETTING;
    } else {
        b->state = FILLING;
    }
    WEFT__CHECK(pthread_cond_broadcast(&b->cv));
    weft__unlock(&b->mu);
}

void weft_barrier_abort(weft_barrier *b)
{
    if (!b)
        return;
    weft__lock(&b->mu);
    break_barrier(b);
    weft__unlock(&b->mu);
}

unsigned weft_barrier_parties(const weft_barrier *b)
{
    return b ? b->parties : 0; /* immutable after weft_barrier_new() */
}

unsigned weft_barrier_n_waiting(const weft_barrier *b)
{
    if (!b)
        return 0;
    /* Never really const: heap-allocated by weft_barrier_new(). */
    weft_barrier *m = (weft_barrier *)b;
    weft__lock(&m->mu);
    unsigned n = (m->state == FILLING || m->state == ACTION) ? m->count : 0;
    weft__unlock(&m->mu);
    return n;
}

bool weft_barrier_broken(const weft_barrier *b)
{
    if (!b)
        return false;
    weft_barrier *m = (weft_barrier *)b;
    weft__lock(&m->mu);
    bool broken = m->state == BROKEN;
    weft__unlock(&m->mu);
    return broken;
}
