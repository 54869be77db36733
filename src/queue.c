/* queue.c: thread-safe FIFO, LIFO and priority queues: Python's queue.Queue,
 * LifoQueue and PriorityQueue, with task_done/join and 3.13's shutdown.
 *
 * DESIGN
 * - As CPython's queue.py: one mutex and three monotonic condvars on it,
 *   not_empty (getters wait), not_full (putters wait) and all_tasks_done
 *   (joiners wait). Every wait loops on one weft__deadline and follows the
 *   cancellation protocol of cancel-internal.h.
 * - FIFO and LIFO items live in a power-of-two ring buffer that doubles when
 *   full, so a put allocates only while the queue grows past its largest size
 *   so far. PRIORITY is a binary min-heap of (priority, sequence, item); the
 *   sequence number makes equal priorities come out in put order (stable).
 *   Growth allocates the new array first and swaps it in only on success, so
 *   ENOMEM leaves the queue unchanged.
 * - Speed (the 1 -> 1 bounded case): a signal is sent only when a thread
 *   sleeps on that condvar and has not been signalled already (each condvar
 *   keeps counts of sleepers and of wakeups sent, under the mutex). When a
 *   consumer drains a full queue while the producer is still waking up, the
 *   gets after the first send no signal at all (this alone took the 1 -> 1
 *   benchmark from below a plain mutex+condvar ring to well above it). The
 *   mutex is glibc's adaptive one, which spins briefly under contention
 *   instead of sleeping at once: critical sections are a few dozen
 *   instructions. Nothing else spins: on a loaded 2-core machine a spin
 *   before sleeping, or a trylock loop, measured slower, not faster
 *   (bench/bench-queue.c).
 * - Timeouts start when the call finds it has to wait, after taking the
 *   mutex, as in queue.py; the fast path never reads the clock.
 * - Items handed to dispose (free, immediate shutdown) are first moved out
 *   of the queue under the lock, then disposed with no lock held: user code
 *   never runs under weft's lock.
 *
 * Lock order: a cancel token's mu before q->mu (cancel-internal.h); a waiter never
 * holds both.
 */
#include "cancel-internal.h"
#include "queue-internal.h"

#include <math.h>
#include <string.h>

/* The ring's first allocation, in items. */
#define MIN_CAP 16

/* A condvar with the counts that let wakers skip useless signals. Every
 * signal adds one to `woken` and every return from a wait takes one off,
 * whatever woke it (signal, timeout, spurious, a cancel broadcast), so
 * `woken` never exceeds the wakeups really on their way: the counts can only
 * err towards a signal too many, never one too few. */
typedef struct waitq {
    pthread_cond_t cond;
    unsigned sleeping; /* threads inside pthread_cond_(timed)wait */
    unsigned woken;    /* of those, how many a signal is already on its way to */
} waitq;

typedef struct entry {
    int64_t prio;
    uint64_t seq;
    void *item;
} entry;

struct weft_queue {
    pthread_mutex_t mu;
    waitq not_empty;      /* getters wait here */
    waitq not_full;       /* putters wait here */
    waitq all_tasks_done; /* joiners wait here */
    weft_queue_kind kind;
    size_t maxsize; /* 0: unbounded */
    /* Items in the queue. Written only under mu; atomic so that the
     * snapshots (qsize, empty, full) can read it without the lock. */
    atomic_size_t count;
    bool is_shutdown;
    /* FIFO/LIFO: ring[(head + i) & (cap - 1)] for i < count. */
    void **ring;
    size_t head;
    /* PRIORITY: heap[0..count) ordered by (prio, seq). */
    entry *heap;
    uint64_t seq;
    size_t cap; /* slots in ring or heap; 0 or a power of two */
    size_t unfinished;
};

static inline size_t count_of(const weft_queue *q)
{
    return atomic_load_explicit(&q->count, memory_order_relaxed);
}

static inline void set_count(weft_queue *q, size_t n)
{
    atomic_store_explicit(&q->count, n, memory_order_relaxed);
}

static inline bool shut(const weft_queue *q)
{
    return q->is_shutdown;
}

static inline bool is_full(const weft_queue *q, size_t n)
{
    return q->maxsize != 0 && n >= q->maxsize;
}

/* A timeout is WEFT_FOREVER, or a non-negative number; cheap enough to check
 * before the lock so that the fast path need not build a deadline. */
static inline bool bad_timeout(double timeout)
{
    return isnan(timeout) || (timeout < 0 && timeout != WEFT_FOREVER);
}

/* glibc's adaptive mutex spins briefly on contention before sleeping in the
 * kernel: the critical sections here are a few dozen instructions long. */
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

int weft_queue_new(weft_queue **out, const weft_queue_opts *opts)
{
    static const weft_queue_opts defaults = {0};
    if (!out)
        return EINVAL;
    *out = NULL;
    if (!opts)
        opts = &defaults;
    if (opts->kind != WEFT_QUEUE_FIFO && opts->kind != WEFT_QUEUE_LIFO &&
        opts->kind != WEFT_QUEUE_PRIORITY)
        return EINVAL;
    weft_queue *q = weft__calloc(1, sizeof *q);
    if (!q)
        return ENOMEM;
    init_mutex(&q->mu);
    weft__cond_init(&q->not_empty.cond);
    weft__cond_init(&q->not_full.cond);
    weft__cond_init(&q->all_tasks_done.cond);
    q->kind = opts->kind;
    q->maxsize = opts->maxsize;
    atomic_init(&q->count, 0);
    *out = q;
    return 0;
}

/* ------------------------------------------------------------ storage */

static inline bool before(const entry *a, const entry *b)
{
    return a->prio < b->prio || (a->prio == b->prio && a->seq < b->seq);
}

static void heap_push(entry *h, size_t n, entry e)
{
    size_t i = n;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(&e, &h[parent]))
            break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = e;
}

/* Removes h[0] from a heap of n > 0 entries and returns its item. */
static void *heap_pop(entry *h, size_t n)
{
    void *top = h[0].item;
    entry last = h[--n];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= n)
            break;
        if (child + 1 < n && before(&h[child + 1], &h[child]))
            child++;
        if (!before(&h[child], &last))
            break;
        h[i] = h[child];
        i = child;
    }
    if (n > 0)
        h[i] = last;
    return top;
}

/* Makes room for one more item (mu held, queue not shut down). Returns 0 or
 * ENOMEM with the queue unchanged. */
static int grow(weft_queue *q)
{
    size_t n = count_of(q);
    if (WEFT__LIKELY(n < q->cap))
        return 0;
    size_t cap = q->cap ? q->cap * 2 : MIN_CAP;
    if (cap < q->cap)
        return ENOMEM;
    if (q->kind == WEFT_QUEUE_PRIORITY) {
        if (cap > SIZE_MAX / sizeof(entry))
            return ENOMEM;
        entry *h = weft__realloc(q->heap, cap * sizeof *h);
        if (!h)
            return ENOMEM; /* realloc left the old heap in place */
        q->heap = h;
    } else {
        if (cap > SIZE_MAX / sizeof(void *))
            return ENOMEM;
        /* Unwrap into a fresh array so the ring starts at 0 again. */
        void **r = weft__malloc(cap * sizeof *r);
        if (!r)
            return ENOMEM;
        size_t mask = q->cap - 1;
        for (size_t i = 0; i < n; i++)
            r[i] = q->ring[(q->head + i) & mask];
        weft__free(q->ring);
        q->ring = r;
        q->head = 0;
    }
    q->cap = cap;
    return 0;
}

/* Adds item (mu held, room made by grow). */
static inline void push(weft_queue *q, void *item, int64_t prio)
{
    size_t n = count_of(q);
    if (q->kind == WEFT_QUEUE_PRIORITY) {
        entry e = {prio, q->seq++, item};
        heap_push(q->heap, n, e);
    } else {
        q->ring[(q->head + n) & (q->cap - 1)] = item;
    }
    set_count(q, n + 1);
}

/* Removes the next item (mu held, count > 0). */
static inline void *pop(weft_queue *q)
{
    size_t n = count_of(q);
    void *item;
    if (q->kind == WEFT_QUEUE_FIFO) {
        item = q->ring[q->head];
        q->head = (q->head + 1) & (q->cap - 1);
    } else if (q->kind == WEFT_QUEUE_LIFO) {
        item = q->ring[(q->head + n - 1) & (q->cap - 1)];
    } else {
        item = heap_pop(q->heap, n);
    }
    set_count(q, n - 1);
    return item;
}

/* What was in a queue, moved out of it so it can be disposed of without the
 * lock, in the order gets would have returned it. */
typedef struct drained {
    weft_queue_kind kind;
    void **ring;
    entry *heap;
    size_t head, cap, count;
} drained;

/* Moves every item out of q (mu held). Never allocates: the storage itself
 * changes hands. */
static drained drain(weft_queue *q)
{
    drained d = {q->kind, q->ring, q->heap, q->head, q->cap, count_of(q)};
    q->ring = NULL;
    q->heap = NULL;
    q->head = 0;
    q->cap = 0;
    set_count(q, 0);
    return d;
}

/* Hands the drained items to dispose (no lock held) and frees the storage. */
static void dispose_all(drained *d, weft_queue_dispose_fn *dispose, void *ud)
{
    if (dispose) {
        size_t mask = d->cap - 1;
        for (size_t i = 0; i < d->count; i++) {
            void *item;
            if (d->kind == WEFT_QUEUE_FIFO)
                item = d->ring[(d->head + i) & mask];
            else if (d->kind == WEFT_QUEUE_LIFO)
                item = d->ring[(d->head + d->count - 1 - i) & mask];
            else
                item = heap_pop(d->heap, d->count - i);
            dispose(ud, item);
        }
    }
    weft__free(d->ring);
    weft__free(d->heap);
}

void weft_queue_free(weft_queue *q, weft_queue_dispose_fn *dispose, void *ud)
{
    if (!q)
        return;
    drained d = drain(q); /* no other thread may use q: no lock needed */
    dispose_all(&d, dispose, ud);
    WEFT__CHECK(pthread_cond_destroy(&q->all_tasks_done.cond));
    WEFT__CHECK(pthread_cond_destroy(&q->not_full.cond));
    WEFT__CHECK(pthread_cond_destroy(&q->not_empty.cond));
    WEFT__CHECK(pthread_mutex_destroy(&q->mu));
    weft__free(q);
}

/* ------------------------------------------------------------ waiting */

/* Wakes one sleeper on w, unless every sleeper has a wakeup coming (mu held). */
static inline void wake_one(waitq *w)
{
    if (w->sleeping > w->woken) {
        w->woken++;
        WEFT__CHECK(pthread_cond_signal(&w->cond));
    }
}

/* Wakes every sleeper on w (mu held). */
static inline void wake_all(waitq *w)
{
    if (w->sleeping > w->woken) {
        w->woken = w->sleeping;
        WEFT__CHECK(pthread_cond_broadcast(&w->cond));
    }
}

/* Sleeps on w until signalled or the deadline (mu held). */
static inline int sleep_on(weft_queue *q, waitq *w, const weft__deadline *dl)
{
    w->sleeping++;
    int rc = weft__cond_wait(&w->cond, &q->mu, dl);
    w->sleeping--;
    /* Assume this wakeup was one of those sent: if it was a timeout or a
     * spurious wakeup instead, the next waker signals once more than needed,
     * never once less. */
    if (w->woken > 0)
        w->woken--;
    return rc;
}

/* Called with mu held when the caller must wait on c until ready(q). Returns
 * with mu held: 0 when ready, ESHUTDOWN (if stop_on_shutdown), ETIMEDOUT or
 * ECANCELED.
 *
 * The cancellation protocol registers with the thread's token before taking
 * the mutex and unregisters after dropping it (lock order: token first). So
 * a thread with a token drops mu around both, and must re-check the
 * predicate when it retakes mu: another thread may have come in between. A
 * thread without a token (the common case) keeps mu throughout. Called and
 * returns with mu held. */
static int wait_for(weft_queue *q, waitq *w, bool (*ready)(const weft_queue *),
                    bool stop_on_shutdown, double timeout)
{
    weft__deadline dl;
    WEFT__CHECK(weft__deadline_init(&dl, timeout));
    for (;;) {
        weft__cancel *tok = NULL;
        if (weft__cancel_current()) {
            weft__unlock(&q->mu);
            tok = weft__wait_enter(&q->mu, &w->cond);
            weft__lock(&q->mu);
        }
        int rc = 0;
        for (;;) {
            if (ready(q))
                break;
            if (stop_on_shutdown && shut(q)) {
                rc = ESHUTDOWN;
                break;
            }
            if (weft__wait_cancelled(tok)) {
                rc = ECANCELED;
                break;
            }
            if (sleep_on(q, w, &dl) == ETIMEDOUT && !ready(q)) {
                rc = (stop_on_shutdown && shut(q)) ? ESHUTDOWN : ETIMEDOUT;
                break;
            }
        }
        /* A signal may have picked this waiter, which leaves without using
         * it (cancelled, shut down): pass it on so no wakeup is lost. */
        if (rc != 0 && ready(q))
            wake_one(w);
        if (!tok)
            return rc;
        weft__unlock(&q->mu);
        weft__wait_leave(tok);
        weft__lock(&q->mu);
        if (rc != 0 || ready(q))
            return rc;
        if (stop_on_shutdown && shut(q))
            return ESHUTDOWN;
        if (weft__deadline_passed(&dl))
            return ETIMEDOUT;
        /* Lost the race while unregistering: wait again, mu held. */
    }
}

static bool can_get(const weft_queue *q)
{
    return count_of(q) > 0;
}

static bool can_put(const weft_queue *q)
{
    return !shut(q) && !is_full(q, count_of(q));
}

static bool all_done(const weft_queue *q)
{
    return q->unfinished == 0;
}

/* ------------------------------------------------------------ operations */

static int put(weft_queue *q, void *item, int64_t prio, double timeout)
{
    if (!q || bad_timeout(timeout))
        return EINVAL;
    weft__lock(&q->mu);
    int rc = 0;
    if (WEFT__UNLIKELY(!can_put(q))) {
        if (shut(q))
            rc = ESHUTDOWN;
        else if (timeout == 0)
            rc = EAGAIN;
        else
            rc = wait_for(q, &q->not_full, can_put, true, timeout);
    }
    if (rc == 0)
        rc = grow(q);
    if (rc == 0) {
        push(q, item, prio);
        q->unfinished++;
        wake_one(&q->not_empty);
    } else if (rc == ENOMEM && can_put(q)) {
        /* We may have been woken for room we now leave unused. */
        wake_one(&q->not_full);
    }
    weft__unlock(&q->mu);
    return rc;
}

int weft_queue_put(weft_queue *q, void *item, double timeout)
{
    return put(q, item, 0, timeout);
}

int weft_queue_put_priority(weft_queue *q, void *item, int64_t priority, double timeout)
{
    return put(q, item, priority, timeout);
}

int weft_queue_get(weft_queue *q, void **item, double timeout)
{
    if (!q || !item || bad_timeout(timeout))
        return EINVAL;
    weft__lock(&q->mu);
    int rc = 0;
    if (WEFT__UNLIKELY(!can_get(q))) {
        if (shut(q))
            rc = ESHUTDOWN;
        else if (timeout == 0)
            rc = EAGAIN;
        else
            rc = wait_for(q, &q->not_empty, can_get, true, timeout);
    }
    if (rc == 0) {
        *item = pop(q);
        wake_one(&q->not_full);
    }
    weft__unlock(&q->mu);
    return rc;
}

size_t weft_queue_qsize(const weft_queue *q)
{
    return q ? count_of(q) : 0;
}

bool weft_queue_empty(const weft_queue *q)
{
    return q && count_of(q) == 0;
}

bool weft_queue_full(const weft_queue *q)
{
    return q && is_full(q, count_of(q));
}

int weft_queue_task_done(weft_queue *q)
{
    if (!q)
        return EINVAL;
    weft__lock(&q->mu);
    int rc = 0;
    if (q->unfinished == 0) {
        rc = EINVAL;
    } else if (--q->unfinished == 0) {
        wake_all(&q->all_tasks_done);
    }
    weft__unlock(&q->mu);
    return rc;
}

int weft_queue_join(weft_queue *q, double timeout)
{
    if (!q || bad_timeout(timeout))
        return EINVAL;
    weft__lock(&q->mu);
    int rc = 0;
    if (!all_done(q)) {
        if (timeout == 0)
            rc = ETIMEDOUT; /* join has no "would block" code; its timeout expired */
        else
            rc = wait_for(q, &q->all_tasks_done, all_done, false, timeout);
    }
    weft__unlock(&q->mu);
    return rc;
}

void weft_queue_shutdown(weft_queue *q, bool immediate, weft_queue_dispose_fn *dispose, void *ud)
{
    if (!q)
        return;
    drained d = {0};
    weft__lock(&q->mu);
    q->is_shutdown = true;
    if (immediate) {
        d = drain(q);
        /* As queue.py: each discarded item counts as done, so join returns
         * once the items already gotten are marked done too. */
        q->unfinished = q->unfinished > d.count ? q->unfinished - d.count : 0;
        if (q->unfinished == 0)
            wake_all(&q->all_tasks_done);
    }
    wake_all(&q->not_empty);
    wake_all(&q->not_full);
    weft__unlock(&q->mu);
    dispose_all(&d, dispose, ud);
}

/* ------------------------------------------------------------ tests */

void weft__queue_waiters(weft_queue *q, unsigned *getters, unsigned *putters, unsigned *joiners)
{
    weft__lock(&q->mu);
    *getters = q->not_empty.sleeping;
    *putters = q->not_full.sleeping;
    *joiners = q->all_tasks_done.sleeping;
    weft__unlock(&q->mu);
}
