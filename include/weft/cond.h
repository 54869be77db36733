/* weft/cond.h: condition variables (Python's threading.Condition).
 *
 * A condition is bound to one lock, a weft_lock or a weft_rlock, as in
 * Python; without one it makes its own RLock. Waiting releases the lock
 * (fully, for an RLock held several levels) and re-acquires it before
 * returning, on every path. Wakeups are FIFO: notify(n) wakes the n
 * longest-waiting threads. Always wait in a loop that re-checks the
 * predicate, or use weft_cond_wait_for, which does. */
#ifndef WEFT_COND_H
#define WEFT_COND_H

#include "lock.h"
#include "rlock.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_cond weft_cond;

/* Creates a condition over `lock` (borrowed: it must outlive the condition),
 * or over a new RLock of its own when lock is NULL. Returns 0 or ENOMEM. */
WEFT_API int weft_cond_new(weft_cond **out, weft_lock *lock);
/* The same over a reentrant lock (borrowed). Returns 0, EINVAL, ENOMEM. */
WEFT_API int weft_cond_new_rlock(weft_cond **out, weft_rlock *lock);

/* Frees the condition (and the RLock it made, if any). NULL-safe. No thread
 * may wait on it. */
WEFT_API void weft_cond_free(weft_cond *c);

/* Acquire and release the underlying lock: the return codes of
 * weft_lock_acquire/_release or weft_rlock_acquire/_release. */
WEFT_API int weft_cond_acquire(weft_cond *c, double timeout);
WEFT_API int weft_cond_release(weft_cond *c);

/* Waits for a notify (Python's wait(timeout)); the caller must hold the
 * lock. Returns 0 when notified, ETIMEDOUT, ECANCELED (calling task
 * cancelled), EPERM (caller does not hold the lock; nothing waits), EINVAL
 * (bad timeout). The lock is held again on every return but EPERM/EINVAL.
 * Blocks. */
WEFT_API int weft_cond_wait(weft_cond *c, double timeout);

/* A predicate for weft_cond_wait_for, evaluated with the lock held. */
typedef bool weft_cond_pred_fn(void *arg);

/* Waits until pred(arg) is true (Python's wait_for), checking it first; the
 * whole wait shares one deadline. Returns 0 when pred is true, ETIMEDOUT when
 * the time passed with pred still false, and otherwise as weft_cond_wait.
 * Blocks. */
WEFT_API int weft_cond_wait_for(weft_cond *c, weft_cond_pred_fn *pred, void *arg, double timeout);

/* Wakes up to n waiters, longest-waiting first. The caller must hold the
 * lock: returns 0 or EPERM. Never blocks. */
WEFT_API int weft_cond_notify(weft_cond *c, unsigned n);
/* Wakes every waiter. Returns 0 or EPERM. Never blocks. */
WEFT_API int weft_cond_notify_all(weft_cond *c);

#ifdef __cplusplus
}
#endif
#endif
