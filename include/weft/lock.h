/* weft/lock.h: the mutual-exclusion lock (Python's threading.Lock).
 *
 * Unlike Python's Lock, a weft_lock has an owner: only the thread that
 * acquired it may release it (EPERM otherwise), and acquiring it again from
 * the owner returns EDEADLK instead of hanging. Uncontended acquire and
 * release are one atomic operation each; waiters sleep in the kernel.
 *
 * The `with lock:` idiom in C. Python releases the lock however the block is
 * left. In C, use WEFT_WITH_LOCK (gcc and clang), which releases it when the
 * enclosing scope ends by any path, early return and break included:
 *
 *     int deposit(account *a, long amount)
 *     {
 *         WEFT_WITH_LOCK(a->lock);       // blocks until held
 *         if (amount <= 0)
 *             return EINVAL;             // released here
 *         a->balance += amount;
 *         return 0;                      // and here
 *     }
 *
 * Portable C: acquire, then leave the function only through one `out:` label
 * that releases. */
#ifndef WEFT_LOCK_H
#define WEFT_LOCK_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_lock weft_lock;

/* Creates an unlocked lock. Returns 0 or ENOMEM.
 *
 * Every lock belongs to a class, which is what the deadlock detector
 * (weft/deadlock.h) orders: its name, or else the place it was created.
 * weft_lock_new is a macro that passes __FILE__ and __LINE__ to
 * weft_lock_new_at, so each creation site is its own class; the function
 * weft_lock_new (for callers that take its address, or write
 * (weft_lock_new)(&l)) names the class after its caller's address. */
WEFT_API int weft_lock_new(weft_lock **out);

/* As weft_lock_new, with the class named `name` (copied): locks given the
 * same name are one class. Returns 0, ENOMEM, or EINVAL when name is NULL. */
WEFT_API int weft_lock_new_named(weft_lock **out, const char *name);

/* As weft_lock_new, with the class "file:line". `file` is not copied: it
 * must live as long as the lock (__FILE__ does). Returns 0 or ENOMEM. */
WEFT_API int weft_lock_new_at(weft_lock **out, const char *file, int line);
#define weft_lock_new(out) weft_lock_new_at((out), __FILE__, __LINE__)

/* Frees the lock. NULL-safe. It must not be held or waited on. */
WEFT_API void weft_lock_free(weft_lock *l);

/* Acquires the lock, waiting up to `timeout` seconds (WEFT_FOREVER: no limit;
 * 0: do not block). Returns 0 once held; EBUSY when timeout is 0 and another
 * thread holds it; ETIMEDOUT when the time passed; EDEADLK when the caller
 * already holds it, whatever the timeout, 0 included (Python's
 * acquire(blocking=False) would return False: weft says the caller has a
 * bug), or (deadlock detector on, weft/deadlock.h) when waiting would close
 * a wait-for cycle, such as the holder waiting for the result of the task
 * that calls this (reported); ECANCELED when the calling task was
 * cancelled; EINVAL for a NULL lock or a bad timeout. Blocks. */
WEFT_API int weft_lock_acquire(weft_lock *l, double timeout);

/* Releases the lock. Returns 0, EPERM when the caller does not hold it
 * (nothing changes then; Python lets any thread release a Lock, weft does
 * not), or EINVAL for NULL. Never blocks. */
WEFT_API int weft_lock_release(weft_lock *l);

/* True when some thread holds the lock (a snapshot). Never blocks. */
WEFT_API bool weft_lock_locked(const weft_lock *l);

/* True when the calling thread holds the lock. Never blocks. */
WEFT_API bool weft_lock_held(const weft_lock *l);

/* Scope guard for WEFT_WITH_LOCK; not for direct use. */
WEFT_API weft_lock *weft_lock_guard_acquire_(weft_lock *l);
WEFT_API void weft_lock_guard_release_(weft_lock **l);

#define WEFT_CAT2_(a, b) a##b
#define WEFT_CAT_(a, b)  WEFT_CAT2_(a, b)
/* Acquires l (no timeout) until the end of the enclosing scope. If the wait
 * is cancelled (the calling task was cancelled), the process aborts with a
 * message rather than run the block unlocked: use weft_lock_acquire where a
 * cancel must be survived. */
#define WEFT_WITH_LOCK(l)                                                                          \
    weft_lock *WEFT_CAT_(weft_guard_, __LINE__)                                                    \
        __attribute__((cleanup(weft_lock_guard_release_), unused)) = weft_lock_guard_acquire_(l)

#ifdef __cplusplus
}
#endif
#endif
