/* sync-internal.h: what lock.c, rlock.c and cond.c share and nothing else
 * needs, and the test hooks into sem.c and event.c. The lock structs live here (not in their .c) so
 * that an RLock can embed its lock and a condition can release and re-acquire either kind without a
 * public API for "release fully".
 *
 * DESIGN: every acquisition, public or internal, goes through the single
 * function weft__lock_acquire_, and every release through
 * weft__lock_release_owned, so a future lock-order checker (lockdep-like) has
 * exactly one place to hook on each side: the deadlock detector
 * (deadlock.c) hooks there. */
#ifndef WEFT_SYNC_INTERNAL_H
#define WEFT_SYNC_INTERNAL_H

#include "deadlock-internal.h"
#include "base-internal.h"

struct weft_lock {
    /* 0 unlocked, 1 locked, 2 locked and maybe waiters (see lock.c). */
    atomic_uint state;
    /* weft__self_id() of the holder, 0 when free. Written only by the
     * holder; see lock.c for why relaxed accesses suffice. */
    atomic_uint_fast64_t owner;
    pthread_mutex_t m; /* slow path only: waiters sleep on c under m */
    pthread_cond_t c;
    weft__dl_obj dl; /* the lock's class for the deadlock detector */
};

struct weft_rlock {
    weft_lock lock;
    unsigned count; /* levels; read and written only by the owner */
};

/* In-place init/destroy (for embedding). The class arguments are those of
 * weft__dl_obj_init (name is taken over); kind is "lock" or "rlock". */
void weft__lock_init(weft_lock *l, const char *kind, char *name, const char *file, unsigned line,
                     const void *pc);
void weft__lock_destroy(weft_lock *l);

/* The one acquisition path: weft_lock_acquire with `cancellable` true.
 * False makes the wait ignore the calling task's cancel token (a condition
 * re-acquiring its lock, which must succeed on every path). pc is the user's
 * call site, for deadlock reports. */
int weft__lock_acquire_(weft_lock *l, double timeout, bool cancellable, const void *pc);
/* The one release path: the caller must hold l (checked by the callers). */
void weft__lock_release_owned(weft_lock *l);

/* For conditions over an RLock: drop every level the caller holds and
 * return how many there were (the caller must own l); then take it back
 * with the same count, not cancellable, waiting as long as it takes. */
unsigned weft__rlock_release_all(weft_rlock *l);
void weft__rlock_reacquire(weft_rlock *l, unsigned count, const void *pc);

/* weft_rlock_acquire for the user's call at pc (a condition's acquire). */
int weft__rlock_acquire_pc(weft_rlock *l, double timeout, const void *pc);

/* An RLock whose class is named after pc (a condition's own RLock). */
int weft__rlock_new_pc(weft_rlock **out, const void *pc);

/* Test hooks into sem.c and event.c. A test of FIFO order or of "set()
 * wakes waiters that are already blocked" must know that a thread is
 * blocked inside the call, not merely about to make it; the public API
 * cannot say so (Python's Semaphore and Event have no n_waiting), so these
 * snapshots exist for tests only. */

/* Threads queued in weft_sem_acquire now (a snapshot). */
unsigned weft__sem_n_waiting(const weft_sem *s);
/* Threads blocked in weft_event_wait now (a snapshot). */
unsigned weft__event_n_waiting(const weft_event *e);

#endif
