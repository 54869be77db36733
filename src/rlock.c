/* rlock.c: weft_rlock, the reentrant lock (Python's RLock), and the
 * WEFT_WITH_RLOCK scope guard.
 *
 * DESIGN: a weft_lock plus a level count. The inner lock's owner field is
 * the RLock's owner, so "do I own it?" is the same relaxed self-check as
 * weft_lock_held (see lock.c for why that is exact for the caller). The
 * count is touched only by the owner, between its acquire and release of the
 * inner lock, so it needs no atomics: a thread that does not own the lock
 * never reads it. Every acquisition and release goes through the inner
 * lock's single paths (sync-internal.h). */
#include "sync-internal.h"

#include <limits.h>
#include <stdio.h>

void weft__rlock_init(weft_rlock *l)
{
    weft__lock_init(&l->lock);
    l->count = 0;
}

void weft__rlock_destroy(weft_rlock *l)
{
    weft__lock_destroy(&l->lock);
}

int weft_rlock_new(weft_rlock **out)
{
    weft_rlock *l = weft__malloc(sizeof *l);
    if (!l)
        return ENOMEM;
    weft__rlock_init(l);
    *out = l;
    return 0;
}

void weft_rlock_free(weft_rlock *l)
{
    if (!l)
        return;
    weft__rlock_destroy(l);
    weft__free(l);
}

bool weft_rlock_is_owned(const weft_rlock *l)
{
    return weft_lock_held(&l->lock);
}

unsigned weft_rlock_count(const weft_rlock *l)
{
    return weft_lock_held(&l->lock) ? l->count : 0;
}

int weft_rlock_acquire(weft_rlock *l, double timeout)
{
    if (!(timeout >= 0 || timeout == WEFT_FOREVER))
        return EINVAL;
    if (weft_lock_held(&l->lock)) {
        if (l->count == UINT_MAX)
            return EOVERFLOW;
        l->count++;
        return 0;
    }
    int rc = weft__lock_acquire_(&l->lock, timeout, true);
    if (rc == 0)
        l->count = 1;
    return rc;
}

int weft_rlock_release(weft_rlock *l)
{
    if (!weft_lock_held(&l->lock))
        return EPERM;
    if (--l->count == 0)
        weft__lock_release_owned(&l->lock);
    return 0;
}

unsigned weft__rlock_release_all(weft_rlock *l)
{
    unsigned count = l->count;
    l->count = 0;
    weft__lock_release_owned(&l->lock);
    return count;
}

void weft__rlock_reacquire(weft_rlock *l, unsigned count)
{
    WEFT__CHECK(weft__lock_acquire_(&l->lock, WEFT_FOREVER, false));
    l->count = count;
}

weft_rlock *weft_rlock_guard_acquire_(weft_rlock *l)
{
    int rc = weft_rlock_acquire(l, WEFT_FOREVER);
    if (rc != 0) {
        fprintf(stderr, "weft: WEFT_WITH_RLOCK could not acquire the lock: %s\n",
                weft_strerror(rc));
        abort();
    }
    return l;
}

void weft_rlock_guard_release_(weft_rlock **l)
{
    int rc = weft_rlock_release(*l);
    if (rc != 0) {
        fprintf(stderr, "weft: WEFT_WITH_RLOCK scope ended without owning its lock: %s\n",
                weft_strerror(rc));
        abort();
    }
}
