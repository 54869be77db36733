/* lock.c: weft_lock, the owned mutual-exclusion lock (Python's Lock), and
 * the WEFT_WITH_LOCK scope guard.
 *
 * DESIGN: a three-state word, as in Drepper's "Futexes Are Tricky" mutex,
 * with a pthread mutex and condvar standing in for the futex so that waits
 * can have monotonic deadlines and be cancelled by the protocol of
 * cancel-internal.h.
 *   state 0: unlocked; 1: locked, no waiter; 2: locked, maybe waiters.
 * Fast path: acquire is one CAS 0->1, release one exchange to 0; neither
 * touches m. Slow path, under m: a waiter does exchange(state, 2); if that
 * returned 0 the lock was free and is now its own (state 2 then may cause
 * one needless signal later: harmless). Otherwise it sleeps on c. A releaser
 * whose exchange(state, 0) returned 2 locks m, signals c and unlocks m.
 *
 * Why no wakeup is lost: a waiter sleeps only after its exchange, done under
 * m, saw the lock held and left state = 2. Only the holder's release can
 * change state next (a CAS 0->1 fails on 2), so that release reads 2 and
 * then must take m, which it can only get once the waiter is inside
 * pthread_cond_wait: the signal finds it (or another sleeper, who will
 * re-run the same protocol). A waiter that leaves without the lock (timeout,
 * cancel) does so only right after an exchange that set state 2 while
 * someone held the lock, so a wakeup it may have consumed is handed on: that
 * holder's release will signal again.
 *
 * Owner: weft__self_id() of the holder, written only by the holder (after
 * acquiring, and 0 before releasing), so relaxed accesses suffice for the
 * one question they answer: "is it me?". A thread reads its own id there
 * only if it stored it and has not since stored 0 (read-coherence orders a
 * thread's own stores for itself); any other value, however stale, means
 * "not me". The data the lock protects is ordered by the acquire/release
 * operations on state, not by owner.
 *
 * Deadlock detector: when on (deadlock.c), acquisitions take a separate,
 * out-of-line path (acquire_checked) that checks the lock order before
 * waiting; while off, the fast path pays one relaxed load of a global flag.
 *
 * Lock order: l->m is a leaf, except that a cancel request takes tok->mu
 * then l->m (cancel-internal.h). No user code runs in here. */
#include "cancel-internal.h"
#include "sync-internal.h"

#include <stdio.h>

/* Spins before sleeping: a lock is usually held for a few instructions, and
 * a short spin saves two context switches. Kept small: 2 cores are common. */
#define SPIN_TRIES 64

void weft__lock_init(weft_lock *l, const char *kind, char *name, const char *file, unsigned line,
                     const void *pc)
{
    atomic_init(&l->state, 0);
    atomic_init(&l->owner, 0);
    weft__mutex_init(&l->m);
    weft__cond_init(&l->c);
    weft__dl_obj_init(&l->dl, kind, name, file, line, pc);
}

void weft__lock_destroy(weft_lock *l)
{
    weft__dl_obj_destroy(&l->dl);
    /* A releaser that handed the lock over under m may still be signalling:
     * taking m waits for it to be done with l. */
    weft__lock(&l->m);
    weft__unlock(&l->m);
    WEFT__CHECK(pthread_cond_destroy(&l->c));
    WEFT__CHECK(pthread_mutex_destroy(&l->m));
}

static int lock_new(weft_lock **out, char *name, const char *file, unsigned line, const void *pc)
{
    if (!out) {
        weft__free(name);
        return EINVAL;
    }
    weft_lock *l = weft__malloc(sizeof *l);
    if (!l) {
        weft__free(name);
        return ENOMEM;
    }
    weft__lock_init(l, "lock", name, file, line, pc);
    *out = l;
    return 0;
}

/* Parenthesised: weft_lock_new is also a macro (lock.h). */
int(weft_lock_new)(weft_lock **out)
{
    return lock_new(out, NULL, NULL, 0, __builtin_return_address(0));
}

int weft_lock_new_at(weft_lock **out, const char *file, int line)
{
    return lock_new(out, NULL, file, (unsigned)line, __builtin_return_address(0));
}

int weft_lock_new_named(weft_lock **out, const char *name)
{
    if (!name)
        return EINVAL;
    char *copy = weft__strdup(name);
    if (!copy)
        return ENOMEM;
    return lock_new(out, copy, NULL, 0, NULL);
}

void weft_lock_free(weft_lock *l)
{
    if (!l)
        return;
    weft__lock_destroy(l);
    weft__free(l);
}

static inline bool try_fast(weft_lock *l)
{
    unsigned expected = 0;
    return atomic_compare_exchange_strong_explicit(&l->state, &expected, 1, memory_order_acquire,
                                                   memory_order_relaxed);
}

/* The contended part of weft__lock_acquire_; timeout is already valid and
 * the caller is not the holder. */
static __attribute__((noinline)) int acquire_slow(weft_lock *l, double timeout, bool cancellable)
{
    if (timeout == 0)
        return EBUSY;
    /* The deadline starts before spinning: the time spent is the caller's. */
    weft__deadline dl;
    WEFT__CHECK(weft__deadline_init(&dl, timeout));
    for (int i = 0; i < SPIN_TRIES; i++) {
        if (atomic_load_explicit(&l->state, memory_order_relaxed) == 0 && try_fast(l))
            return 0;
    }
    weft__cancel *tok = cancellable ? weft__wait_enter(&l->m, &l->c) : NULL;
    int rc;
    bool timed_out = false;
    weft__lock(&l->m);
    for (;;) {
        /* Every exit follows this exchange: see "Why no wakeup is lost". */
        if (atomic_exchange_explicit(&l->state, 2, memory_order_acquire) == 0) {
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
        timed_out = weft__cond_wait(&l->c, &l->m, &dl) == ETIMEDOUT;
    }
    weft__unlock(&l->m);
    weft__wait_leave(tok);
    return rc;
}

/* The detector's side of weft__lock_acquire_: order check before any wait,
 * push after success. Out of line so the fast path stays small. */
static __attribute__((noinline)) int acquire_checked(weft_lock *l, double timeout, bool cancellable,
                                                     const void *pc)
{
    bool on = weft__dl_on();
    /* A try-acquire cannot block, so it cannot deadlock: no edge. */
    if (on && timeout != 0)
        weft__dl_before_wait(&l->dl, pc);
    uint64_t self = weft__self_id();
    int rc;
    if (try_fast(l)) {
        rc = 0;
    } else if (atomic_load_explicit(&l->owner, memory_order_relaxed) == self) {
        return EDEADLK;
    } else if (on && timeout != 0 && cancellable) {
        /* Wait-for graph: EDEADLK rather than wait on a chain of threads
         * that leads back here. Not for a condition re-taking its lock,
         * which must succeed. */
        weft__dl_wait wf;
        if (weft__dl_wait_lock(&wf, l, pc) != 0)
            return EDEADLK;
        rc = acquire_slow(l, timeout, cancellable);
        weft__dl_wait_done(&wf);
    } else {
        rc = acquire_slow(l, timeout, cancellable);
    }
    if (rc != 0)
        return rc;
    atomic_store_explicit(&l->owner, self, memory_order_relaxed);
    if (on)
        weft__dl_acquired(&l->dl, l, pc, timeout == 0);
    return 0;
}

int weft__lock_acquire_(weft_lock *l, double timeout, bool cancellable, const void *pc)
{
    /* NaN fails both comparisons. */
    if (WEFT__UNLIKELY(!(timeout >= 0 || timeout == WEFT_FOREVER)))
        return EINVAL;
    /* The detector's whole cost while off: one relaxed load. */
    if (weft__dl_maybe_on())
        return acquire_checked(l, timeout, cancellable, pc);
    uint64_t self = weft__self_id();
    if (WEFT__LIKELY(try_fast(l))) {
        atomic_store_explicit(&l->owner, self, memory_order_relaxed);
        return 0;
    }
    if (atomic_load_explicit(&l->owner, memory_order_relaxed) == self)
        return EDEADLK;
    int rc = acquire_slow(l, timeout, cancellable);
    if (rc == 0)
        atomic_store_explicit(&l->owner, self, memory_order_relaxed);
    return rc;
}

int weft_lock_acquire(weft_lock *l, double timeout)
{
    if (WEFT__UNLIKELY(!l))
        return EINVAL;
    return weft__lock_acquire_(l, timeout, true, __builtin_return_address(0));
}

void weft__lock_release_owned(weft_lock *l)
{
    if (weft__dl_maybe_on() && weft__dl_on())
        weft__dl_released(l);
    atomic_store_explicit(&l->owner, 0, memory_order_relaxed);
    unsigned held = 1;
    if (WEFT__LIKELY(atomic_compare_exchange_strong_explicit(
            &l->state, &held, 0, memory_order_release, memory_order_relaxed)))
        return;
    /* State 2: there may be sleepers. Free the lock only while holding m, so
     * that whoever takes the lock next and frees it (legal the moment it is
     * unlocked, as for a pthread mutex) waits in weft__lock_destroy until we
     * are done signalling. While the state is 2 only the holder changes it, and
     * under m no waiter is between its exchange and its sleep: no lost wakeup. */
    weft__lock(&l->m);
    atomic_store_explicit(&l->state, 0, memory_order_release);
    WEFT__CHECK(pthread_cond_signal(&l->c));
    weft__unlock(&l->m);
}

int weft_lock_release(weft_lock *l)
{
    if (WEFT__UNLIKELY(!l))
        return EINVAL;
    if (WEFT__UNLIKELY(atomic_load_explicit(&l->owner, memory_order_relaxed) != weft__self_id()))
        return EPERM;
    weft__lock_release_owned(l);
    return 0;
}

bool weft_lock_locked(const weft_lock *l)
{
    return l && atomic_load_explicit(&((weft_lock *)l)->state, memory_order_relaxed) != 0;
}

bool weft_lock_held(const weft_lock *l)
{
    return l &&
           atomic_load_explicit(&((weft_lock *)l)->owner, memory_order_relaxed) == weft__self_id();
}

weft_lock *weft_lock_guard_acquire_(weft_lock *l)
{
    int rc = !l ? EINVAL : weft__lock_acquire_(l, WEFT_FOREVER, true, __builtin_return_address(0));
    if (rc != 0) {
        /* Running the guarded block unlocked would be worse than stopping. */
        fprintf(stderr, "weft: WEFT_WITH_LOCK could not acquire the lock: %s\n", weft_strerror(rc));
        abort();
    }
    return l;
}

void weft_lock_guard_release_(weft_lock **l)
{
    int rc = weft_lock_release(*l);
    if (rc != 0) {
        fprintf(stderr, "weft: WEFT_WITH_LOCK scope ended without holding its lock: %s\n",
                weft_strerror(rc));
        abort();
    }
}
