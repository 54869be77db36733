/* future-internal.h: how executor.c (and group.c) drive futures (future.c).
 *
 * DESIGN: an executor task is a future created by weft__future_new_task and
 * carried through the executor's own run queue. The worker calls
 * weft__future_begin (PENDING -> RUNNING; false if it was cancelled while
 * queued), runs the task with the future's cancel token installed as the
 * thread's current token, then weft__future_finish. Waiters are woken and
 * done-callbacks run inside finish, on the worker, with no weft lock held.
 *
 * Self-deadlock: a task that is about to block forever on futures of its
 * own executor (weft_future_result, weft_futures_wait, as_completed) hands
 * the executor a weft__blocked record through owner_check(owner, b, false).
 * The executor answers true (EDEADLK instead of a hang) only when the pool
 * can make no progress at all: no worker is idle or starting, no more can
 * start, and every other worker is itself blocked forever on futures of
 * the same pool that have not completed. Otherwise it keeps the record
 * (forever waits only) so that later callers can see this worker is stuck;
 * owner_check(owner, b, true) withdraws it when the wait ends. */
#ifndef WEFT_FUTURE_INTERNAL_H
#define WEFT_FUTURE_INTERNAL_H

#include "cancel-internal.h"

/* An executor's run-queue link (executor.c: an intrusive MPSC queue), the
 * first member of every future, so that the executor converts between the
 * two with a cast and queueing a task allocates nothing. Owned by the
 * executor from weft__executor_enqueue until the worker pops the task; a
 * future is queued at most once. */
typedef struct weft__qnode {
    _Atomic(struct weft__qnode *) next;
    weft_fn *fn;
    void *arg;
} weft__qnode;

static inline weft__qnode *weft__future_qnode(weft_future *f)
{
    return (weft__qnode *)(void *)f;
}

static inline weft_future *weft__qnode_future(weft__qnode *n)
{
    return (weft_future *)(void *)n;
}

/* What a blocked wait waits for: fs[0..n) (the waiter's own array, unchanged
 * while it is registered) under `mode`; for as_completed, mode is
 * WEFT_FIRST_COMPLETED and `base` futures of fs were already yielded (the
 * wait ends when more than `base` are done). `forever`: no deadline. */
typedef struct weft__blocked {
    weft_future *const *fs;
    size_t n;
    size_t base;
    weft_wait_mode mode;
    bool forever;
} weft__blocked;

/* The executor's hook (see above). With leave: the wait b ended; withdraw
 * it if the executor kept it, and return false. Called with no weft lock
 * held. */
typedef bool weft__deadlock_check_fn(void *owner, const weft__blocked *b, bool leave);

/* True when the wait b is unmet and only `owner`'s pool can end it: every
 * future that could meet it (ALL_COMPLETED: at least one) is unfinished and
 * belongs to owner. Reads the futures' states only (lock-free), so the
 * executor may call it with its own lock held. */
bool weft__blocked_stuck(const weft__blocked *b, const void *owner);

/* Creates a PENDING future for a task of `owner` (an executor), holding one
 * reference for the caller. name may be NULL. Returns 0 or ENOMEM. */
int weft__future_new_task(weft_future **out, const char *name, void *owner,
                          weft__deadlock_check_fn *owner_check);

/* Gives back to malloc what the free-future cache holds beyond its steady
 * size, if nobody has drawn from it lately (see future.c). For a thread
 * about to go idle; takes no lock but the cache's own. */
void weft__future_cache_trim(void);

/* The owner given to weft__future_new_task (NULL for standalone futures). */
void *weft__future_owner(const weft_future *f);

/* Worker side: PENDING -> RUNNING and installs f's cancel token as the
 * calling thread's current token. Returns false (and changes nothing) when f
 * was cancelled: skip the task. */
bool weft__future_begin(weft_future *f);

/* Worker side: RUNNING -> FINISHED with the task's return code, result and
 * message (malloc'd by weft__error_take, owned by f from here on; may be NULL
 * for rc == 0 or when memory was short), uninstalls the token, wakes waiters
 * and runs the done callbacks with no lock held. */
void weft__future_finish(weft_future *f, int rc, void *result, char *message);

/* The same, for a caller that holds a reference of its own until after the
 * call (the executor): when that reference is the only one left and nobody
 * registered a callback or a waiter, completes f without its lock. */
void weft__future_finish_held(weft_future *f, int rc, void *result, char *message);

/* Fails a PENDING future without running it (broken executor): as
 * weft_future_set_error, but does not count as a task the user's code ran.
 * Returns 0, or EALREADY when f was done already (e.g. cancelled). */
int weft__future_fail_pending(weft_future *f, int code, const char *message);

/* The cancel token that weft__future_begin installs (for the group, which
 * asks running siblings to stop). */
weft__cancel *weft__future_token(weft_future *f);

#endif
