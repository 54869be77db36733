/* deque.c: weft_deque, a thread-safe collections.deque.
 *
 * DESIGN: one mutex over a power-of-two ring buffer: ring[(head + i) & mask]
 * for i < count, so both ends are O(1) and an append at either end only
 * moves `head` or grows `count`. The ring doubles when full (unwrapping into
 * a fresh array, allocated before anything changes, so ENOMEM leaves the
 * deque as it was) and never shrinks; with a maxlen it never grows past the
 * smallest power of two that holds maxlen items. At maxlen, an append takes
 * the item at the other end out first; that item goes to the `dropped`
 * callback after the mutex is released (user code never runs under weft's
 * lock). Nothing waits, so there is no condvar and no cancellation point.
 * The mutex is glibc's adaptive one, as the queue's (queue.c says why). The
 * count is also an atomic so that len() takes no lock.
 *
 * Lock order: d->mu is a leaf. */
#include "clock-internal.h"

/* The ring's first allocation, in items. */
#define MIN_CAP 16

struct weft_deque {
    pthread_mutex_t mu;
    void **ring;
    size_t head;
    size_t cap;          /* 0 or a power of two */
    atomic_size_t count; /* written under mu */
    size_t maxlen;       /* 0: unbounded */
    weft_queue_dispose_fn *dropped;
    void *ud;
};

static void init_mutex(pthread_mutex_t *m)
{
#if defined(PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP)
    pthread_mutexattr_t attr;
    WEFT__CHECK(pthread_mutexattr_init(&attr));
    WEFT__CHECK(pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP));
    WEFT__CHECK(pthread_mutex_init(m, &attr));
    WEFT__CHECK(pthread_mutexattr_destroy(&attr));
#else
    weft__mutex_init(m);
#endif
}

static inline size_t count_of(const weft_deque *d)
{
    return atomic_load_explicit(&d->count, memory_order_relaxed);
}

int weft_deque_new(weft_deque **out, const weft_deque_opts *opts)
{
    static const weft_deque_opts defaults = {0};
    if (!out)
        return EINVAL;
    if (!opts)
        opts = &defaults;
    weft_deque *d = weft__calloc(1, sizeof *d);
    if (!d)
        return ENOMEM;
    init_mutex(&d->mu);
    atomic_init(&d->count, 0);
    d->maxlen = opts->maxlen;
    d->dropped = opts->dropped;
    d->ud = opts->ud;
    *out = d;
    return 0;
}

void weft_deque_free(weft_deque *d, weft_queue_dispose_fn *dispose, void *ud)
{
    if (!d)
        return;
    /* No other thread may use d: no lock needed. */
    if (dispose) {
        size_t n = count_of(d);
        for (size_t i = 0; i < n; i++)
            dispose(ud, d->ring[(d->head + i) & (d->cap - 1)]);
    }
    weft__free(d->ring);
    WEFT__CHECK(pthread_mutex_destroy(&d->mu));
    weft__free(d);
}

/* Makes room for one more item (mu held, count < maxlen or no maxlen).
 * Returns 0 or ENOMEM with the deque unchanged. */
static int grow(weft_deque *d)
{
    size_t n = count_of(d);
    if (WEFT__LIKELY(n < d->cap))
        return 0;
    size_t cap = d->cap ? d->cap * 2 : MIN_CAP;
    if (cap < d->cap || cap > SIZE_MAX / sizeof(void *))
        return ENOMEM;
    void **r = weft__malloc(cap * sizeof *r);
    if (!r)
        return ENOMEM;
    for (size_t i = 0; i < n; i++)
        r[i] = d->ring[(d->head + i) & (d->cap - 1)];
    weft__free(d->ring);
    d->ring = r;
    d->head = 0;
    d->cap = cap;
    return 0;
}

/* Appends at the right (left false) or left end. */
static int add(weft_deque *d, void *item, bool left)
{
    if (!d)
        return EINVAL;
    bool drop = false;
    void *dropped = NULL;
    int rc = 0;
    weft__lock(&d->mu);
    size_t n = count_of(d);
    if (d->maxlen != 0 && n >= d->maxlen) {
        /* Full: the item at the other end makes room. */
        size_t mask = d->cap - 1;
        drop = true;
        if (left) {
            dropped = d->ring[(d->head + n - 1) & mask];
        } else {
            dropped = d->ring[d->head];
            d->head = (d->head + 1) & mask;
        }
        n--;
        atomic_store_explicit(&d->count, n, memory_order_relaxed);
    } else {
        rc = grow(d);
    }
    if (rc == 0) {
        size_t mask = d->cap - 1;
        if (left) {
            d->head = (d->head - 1) & mask;
            d->ring[d->head] = item;
        } else {
            d->ring[(d->head + n) & mask] = item;
        }
        atomic_store_explicit(&d->count, n + 1, memory_order_relaxed);
    }
    weft_queue_dispose_fn *cb = d->dropped;
    void *ud = d->ud;
    weft__unlock(&d->mu);
    if (drop && cb)
        cb(ud, dropped);
    return rc;
}

int weft_deque_append(weft_deque *d, void *item)
{
    return add(d, item, false);
}

int weft_deque_appendleft(weft_deque *d, void *item)
{
    return add(d, item, true);
}

/* Removes from the right (left false) or left end. */
static int take(weft_deque *d, void **item, bool left)
{
    if (!d || !item)
        return EINVAL;
    weft__lock(&d->mu);
    size_t n = count_of(d);
    if (n == 0) {
        weft__unlock(&d->mu);
        return EAGAIN;
    }
    size_t mask = d->cap - 1;
    if (left) {
        *item = d->ring[d->head];
        d->head = (d->head + 1) & mask;
    } else {
        *item = d->ring[(d->head + n - 1) & mask];
    }
    atomic_store_explicit(&d->count, n - 1, memory_order_relaxed);
    weft__unlock(&d->mu);
    return 0;
}

int weft_deque_pop(weft_deque *d, void **item)
{
    return take(d, item, false);
}

int weft_deque_popleft(weft_deque *d, void **item)
{
    return take(d, item, true);
}

size_t weft_deque_len(const weft_deque *d)
{
    return d ? count_of(d) : 0;
}

size_t weft_deque_maxlen(const weft_deque *d)
{
    return d ? d->maxlen : 0;
}
