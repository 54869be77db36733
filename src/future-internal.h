/* future-internal.h: how executor.c (and group.c) drive futures (future.c).
 *
 * DESIGN: an executor task is a future created by weft__future_new_task and
 * carried through the executor's own run queue. The worker calls
 * weft__future_begin (PENDING -> RUNNING; false if it was cancelled while
 * queued), runs the task with the future's cancel token installed as the
 * thread's current token, then weft__future_finish. Waiters are woken and
 * done-callbacks run inside finish, on the worker, with no weft lock held.
 *
 * Self-deadlock: weft_future_result/_wait/as_completed called on a PENDING
 * future whose owner is the caller's own executor ask owner_check(owner);
 * when it says no worker can ever pick the future up (all are busy, none can
 * start), the wait returns EDEADLK instead of hanging. */
#ifndef WEFT_FUTURE_INTERNAL_H
#define WEFT_FUTURE_INTERNAL_H

#include "internal.h"

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

/* True when a pending task of `owner` can never start, because the calling
 * worker would block and no other worker is free or can be started. */
typedef bool weft__deadlock_check_fn(void *owner);

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

/* Fails a PENDING future without running it (broken executor): as
 * weft_future_set_error, but does not count as a task the user's code ran.
 * Returns 0, or EALREADY when f was done already (e.g. cancelled). */
int weft__future_fail_pending(weft_future *f, int code, const char *message);

/* weft__self_id() of the worker running f as a task (between
 * weft__future_begin and _finish), else 0: the deadlock detector's wait-for
 * graph follows "waits for f" to that thread. */
uint64_t weft__future_runner(const weft_future *f);

/* The cancel token that weft__future_begin installs (for the group, which
 * asks running siblings to stop). */
weft__cancel *weft__future_token(weft_future *f);

#endif
