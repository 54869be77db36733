/* alloc.c: libweft's allocator wrappers, with fault injection for tests.
 *
 * DESIGN: the hot path costs one relaxed atomic load of `armed`; only when a
 * test arms the countdown do allocations count down and then fail. */
#include "base-internal.h"

#include <string.h>

static atomic_bool armed;
static atomic_long countdown;
static atomic_long counted;

static bool should_fail(void)
{
    if (WEFT__LIKELY(!atomic_load_explicit(&armed, memory_order_relaxed)))
        return false;
    atomic_fetch_add(&counted, 1);
    return atomic_fetch_sub(&countdown, 1) <= 0;
}

void weft__alloc_fail_after(long n)
{
    atomic_store(&counted, 0);
    atomic_store(&countdown, n);
    atomic_store(&armed, n >= 0);
}

void weft__alloc_fail_reset(void)
{
    atomic_store(&armed, false);
    atomic_store(&counted, 0);
}

long weft__alloc_count(void)
{
    return atomic_load(&counted);
}

bool weft__alloc_charge(void)
{
    return !should_fail();
}

void *weft__malloc(size_t n)
{
    return should_fail() ? NULL : malloc(n);
}

void *weft__calloc(size_t count, size_t size)
{
    return should_fail() ? NULL : calloc(count, size);
}

void *weft__realloc(void *p, size_t n)
{
    return should_fail() ? NULL : realloc(p, n);
}

char *weft__strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = weft__malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

void weft__free(void *p)
{
    free(p);
}
