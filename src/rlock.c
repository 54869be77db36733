/* rlock.c: weft_rlock, the reentrant lock (Python's RLock), and the
 * WEFT_WITH_RLOCK scope guard.
 *
 * DESIGN: a weft_lock plus a level count. The inner lock's owner field is
 * the RLock's owner, so "do I own it?" is the same relaxed self-check as
 * weft_lock_held (see lock.c for why that is exact for the caller). The
 * count is touched only by the owner, between its acquire and release of the
 * inner lock, so it needs no atomics: a thread that does not own the lock
 * never reads it. Every acquisition and release goes through the inner
 * lock's single paths (sync-internal.h), which is where the deadlock
 * detector looks: a re-entry touches only the count, so it is no edge. */
#include "sync-internal.h"

#include <limits.h>
#include <stdio.h>

static int rlock_new(weft_rlock **out, char *name, const char *file, unsigned line, const void *pc)
{
    if (!out) {
        weft__free(name);
        return EINVAL;
    }
    weft_rlock *l = weft__malloc(sizeof *l);
    if (!l) {
        weft__free(name);
        return ENOMEM;
    }
    weft__lock_init(&l->lock, "rlock", name, file, line, pc);
    l->count = 0;
    *out = l;
    return 0;
}

/* Parenthesised: weft_rlock_new is also a macro (rlock.h). */
int(weft_rlock_new)(weft_rlock **out)
{
    return rlock_new(out, NULL, NULL, 0, __builtin_return_address(0));
}

int weft_rlock_new_at(weft_rlock **out, const char *file, int line)
{
    return rlock_new(out, NULL, file, (unsigned)line, __builtin_return_address(0));
}

int weft_rlock_new_named(weft_rlock **out, const char *name)
{
    if (!name)
        return EINVAL;
    char *copy = weft__strdup(name);
    if (!copy)
        return ENOMEM;
    return rlock_new(out, copy, NULL, 0, NULL);
}

int weft__rlock_new_pc(weft_rlock **out, const void *pc)
{
    return rlock_new(out, NULL, NULL, 0, pc);
}

void weft_rlock_free(weft_rlock *l)
{
    if (!l)
        return;
    weft__lock_destroy(&l->lock);
    weft__free(l);
}

bool weft_rlock_is_owned(const weft_rlock *l)
{
    return l && weft_lock_held(&l->lock);
}

unsigned weft_rlock_count(const weft_rlock *l)
{
    return l && weft_lock_held(&l->lock) ? l->count : 0;
}

int weft__rlock_acquire_pc(weft_rlock *l, double timeout, const void *pc)
{
    if (!l || !(timeout >= 0 || timeout == WEFT_FOREVER))
        return EINVAL;
    if (weft_lock_held(&l->lock)) {
        if (l->count == UINT_MAX)
            return EOVERFLOW;
        l->count++;
        return 0;
    }
    int rc = weft__lock_acquire_(&l->lock, timeout, true, pc);
    if (rc == 0)
        l->count = 1;
    return rc;
}

int weft_rlock_acquire(weft_rlock *l, double timeout)
{
    return weft__rlock_acquire_pc(l, timeout, __builtin_return_address(0));
}

int weft_rlock_release(weft_rlock *l)
{
    if (!l)
        return EINVAL;
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

void weft__rlock_reacquire(weft_rlock *l, unsigned count, const void *pc)
{
    WEFT__CHECK(weft__lock_acquire_(&l->lock, WEFT_FOREVER, false, pc));
    l->count = count;
}

weft_rlock *weft_rlock_guard_acquire_(weft_rlock *l)
{
    int rc = weft__rlock_acquire_pc(l, WEFT_FOREVER, __builtin_return_address(0));
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
