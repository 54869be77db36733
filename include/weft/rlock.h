/* weft/rlock.h: the reentrant lock (Python's threading.RLock): the owner may
 * acquire it again; it is free when released as many times as acquired. */
#ifndef WEFT_RLOCK_H
#define WEFT_RLOCK_H

#include "lock.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_rlock weft_rlock;

/* Creates an unowned reentrant lock. Returns 0 or ENOMEM. Its class for the
 * deadlock detector is its creation site, as for weft_lock_new (a macro over
 * weft_rlock_new_at; the function remains for its address). */
WEFT_API int weft_rlock_new(weft_rlock **out);

/* As weft_rlock_new, with the class named `name` (copied). Returns 0, ENOMEM,
 * or EINVAL when name is NULL. */
WEFT_API int weft_rlock_new_named(weft_rlock **out, const char *name);

/* As weft_rlock_new, with the class "file:line" (`file` not copied: it must
 * outlive the lock, as __FILE__ does). Returns 0 or ENOMEM. */
WEFT_API int weft_rlock_new_at(weft_rlock **out, const char *file, int line);
#define weft_rlock_new(out) weft_rlock_new_at((out), __FILE__, __LINE__)

/* Frees it. NULL-safe. It must not be held or waited on. */
WEFT_API void weft_rlock_free(weft_rlock *l);

/* Acquires it, or counts one more level if the caller owns it already (never
 * blocks then). Returns 0, EBUSY (timeout 0, another owner), ETIMEDOUT,
 * ECANCELED, EINVAL (bad timeout), EOVERFLOW (recursion count would
 * overflow), EDEADLK (deadlock detector on: waiting would close a wait-for
 * cycle, as for weft_lock_acquire). Blocks. */
WEFT_API int weft_rlock_acquire(weft_rlock *l, double timeout);

/* Drops one level; the lock is free at level 0. Returns 0, or EPERM when the
 * caller does not own it. Never blocks. */
WEFT_API int weft_rlock_release(weft_rlock *l);

/* True when the calling thread owns it (Python's _is_owned()). */
WEFT_API bool weft_rlock_is_owned(const weft_rlock *l);

/* The caller's recursion level: 0 when it does not own the lock. */
WEFT_API unsigned weft_rlock_count(const weft_rlock *l);

/* Scope guard: Python's `with rlock:`. Acquires one level of l (no
 * timeout) until the end of the enclosing scope, by any path; nested guards
 * on the same lock add levels. Aborts with a message if the acquisition
 * fails (cancelled, overflow, NULL) rather than run the block unlocked, and
 * if the scope ends without owning the lock. Reference:
 * docs/ref/WEFT_WITH_RLOCK.md. */
WEFT_API weft_rlock *weft_rlock_guard_acquire_(weft_rlock *l);
WEFT_API void weft_rlock_guard_release_(weft_rlock **l);
#define WEFT_WITH_RLOCK(l)                                                                         \
    weft_rlock *WEFT_CAT_(weft_rguard_, __LINE__)                                                  \
        __attribute__((cleanup(weft_rlock_guard_release_), unused)) = weft_rlock_guard_acquire_(l)

#ifdef __cplusplus
}
#endif
#endif
