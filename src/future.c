/* future.c: futures (Python's concurrent.futures.Future), weft_futures_wait
 * and as_completed; the executor drives them through future-internal.h.
 *
 * DESIGN
 * - A future is one allocation (its name is stored inline). Unnamed ones
 *   (every executor task) are recycled through a bounded cache (below),
 *   which keeps their mutex, condvar and token initialised. The reference
 *   count is atomic and lock-free; everything else lives under the future's
 *   own mutex `mu`. `state` is also an atomic so snapshots never lock, and
 *   a worker starts a task (PENDING -> RUNNING) with a CAS and no lock;
 *   so every other change out of PENDING is a CAS (made under mu), and
 *   cancel racing a worker's begin has exactly one winner.
 * - The first member is the executor's run-queue link (future-internal.h).
 * - Waiting on one future (result) first spins briefly (a few microseconds,
 *   with one sched_yield; see spin_until_done), then blocks on the future's
 *   monotonic condvar.
 *   `nwaiting` counts those threads, so completion broadcasts only when
 *   someone waits: the executor's hot path (begin, finish with nobody
 *   watching) is one uncontended lock/unlock pair (finish) and no syscall.
 * - Waiting on many futures (wait, as_completed) uses CPython's _Waiter: a
 *   refcounted `waiter` (mutex, condvar, counters and a FIFO of completed
 *   futures) with one `wlink` per future, hooked into that future's list.
 *   On completion, the future detaches its whole list under `mu` (it never
 *   completes again), takes a reference on each waiter, then notifies them
 *   after releasing `mu`; the reference keeps a waiter alive even if its
 *   owner unregisters and returns meanwhile.
 * - Done callbacks are detached the same way and run after `mu` is
 *   released, so a callback may call anything on the same future.
 * - A worker's running future is kept in a thread-local (`running`) so that
 *   a wait from inside a task can tell what could end it (classify): only
 *   the caller's own task (EDEADLK at once), only its own executor's pool
 *   (ask the executor through owner_check, which reports a pool where every
 *   worker is blocked that way, and otherwise keeps the wait's record for
 *   the workers that block after it; see future-internal.h), or anything
 *   else (a plain wait). The hook is called with no weft lock held, once
 *   per wait, and outside the wait's weft__wait_enter/_leave bracket: the
 *   token has one registration slot, so a weft wait inside the hook would
 *   otherwise clear ours and a cancel request arriving after it could not
 *   wake us.
 * - Deadlock detector hooks (deadlock.c), kept apart: a task's future
 *   records its worker (`runner`) and weft_future_result registers in the
 *   wait-for graph, so "T holds a lock the task needs and waits for the
 *   task" is EDEADLK instead of a hang; and each EDEADLK for a pool that can
 *   never start the awaited work is also reported.
 *
 * Lock order: a future's `mu` and a waiter's `mu` are never held together
 * (registration, notification and unregistration each take one at a time).
 * The cancellation protocol takes a token's mutex before either (internal.h);
 * weft__cancel_request is never called with a future's `mu` held.
 */
#include "deadlock-internal.h"
#include "error-internal.h"
#include "future-internal.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sched.h>
#include <unistd.h>

struct waiter;

/* One future's membership in one waiter. Linked into the future's list while
 * `attached`; both fields are guarded by that future's mu. */
struct wlink {
    struct wlink *next, **pprev;
    struct waiter *w;
    weft_future *f;
    bool attached;
};

/* CPython's _Waiter. Freed when the last reference (its owner's, or a
 * completing future's in flight) goes. */
struct waiter {
    atomic_int refs;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t ndone, nfailed; /* completions seen (guarded by mu) */
    weft_future **fifo;    /* as_completed only: completed futures, in order */
    size_t head, tail;
    size_t nlinks;
    struct wlink links[];
};

struct callback {
    struct callback *next;
    weft_future_callback_fn *fn;
    void *ud;
};

struct weft_future {
    /* What every task touches comes first, on as few cache lines as we can:
     * a recycled future was last touched by a worker on another core, so
     * each line the submitter writes is a cache miss. The mutex and condvar
     * are only touched by waiters, callbacks and cancellers; last. */
    weft__qnode q; /* first: see future-internal.h */
    atomic_int refs;
    /* weft_future_state. Every change is made under mu, except the
     * worker's PENDING -> RUNNING (weft__future_begin), a lock-free CAS,
     * and the sole owner's finish (see weft__future_finish); so every
     * change out of PENDING is a CAS (see complete_locked). */
    atomic_int state;
    unsigned nwaiting; /* threads blocked on cv */
    int error;         /* 0, or the task's code */
    void *result;
    char *message; /* owned; NULL: weft_strerror(error) */
    struct callback *cbs, **cbs_tail;
    struct wlink *waiters;
    void *owner;
    weft__deadlock_check_fn *owner_check;
    /* Saved by weft__future_begin, restored by finish (worker thread only). */
    weft__cancel *prev_token;
    weft_future *prev_running;
    atomic_uint_fast64_t runner; /* deadlock detector: the worker running it */
    char *name;                  /* points into name_buf, or NULL */
    bool error_read;
    weft__cancel token;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* result() waiters */
    char name_buf[];
};

_Static_assert(offsetof(struct weft_future, q) == 0, "weft__qnode_future casts");

/* The future this thread is running as a task (weft__future_begin). */
static _Thread_local weft_future *running;

static inline int state_of(const weft_future *f)
{
    return atomic_load_explicit((atomic_int *)&f->state, memory_order_acquire);
}

static inline bool is_done(int st)
{
    return st == WEFT_FUTURE_CANCELLED || st == WEFT_FUTURE_FINISHED;
}

/* ------------------------------------------------------------ lifetime */

/* The free-future cache (Bonwick's magazines, one size: unnamed futures).
 * An executor's futures are allocated by the submitting thread and freed by
 * a worker, so a per-thread free list alone would never be reused (the
 * submitter never frees, the workers never allocate) and glibc's malloc,
 * whose free goes back to the allocating thread's arena, takes a contended
 * arena lock on both sides. So each thread keeps up to two chains of
 * CACHE_MAG free futures (cur, partial; spare, full), and full chains move
 * between threads through a global depot of at most DEPOT_MAX chains: one
 * depot lock per CACHE_MAG allocations or frees. Bounded: a thread holds at
 * most 2 * CACHE_MAG futures, the depot DEPOT_MAX * CACHE_MAG; what does
 * not fit is freed. A thread's chains are freed when it exits (a pthread
 * key destructor), so nothing is lost to exited threads. Chains link
 * through the free future's `result` field. Measured (bench-executor, 2
 * workers, detached tiny tasks): CPU per task -20%.
 * The depot is deep (DEPOT_MAX chains: 32768 futures, ~10 MB) because a
 * submitter running ahead of its workers builds a backlog of tens of
 * thousands of futures that the workers free while the submitter is
 * descheduled: with 32 chains, 9 in 10 futures of `bench-lib-weft tasks 2
 * 1000000` were malloc'd (and their pthread objects set up) afresh; with
 * 2048, fewer than 1 in 10. What a burst leaves behind is given back by
 * weft__future_cache_trim, which an executor's worker calls when it goes
 * to sleep: the depot keeps DEPOT_KEEP chains once nobody has drawn from it
 * for DEPOT_IDLE_NS. The depot mutex is re-created in a forked child (a
 * pthread_atfork handler), so the child of a multithreaded parent can make
 * futures. */
#define CACHE_MAG     16
#define DEPOT_MAX     2048
#define DEPOT_KEEP    32
#define DEPOT_IDLE_NS 50000000L

static _Thread_local struct {
    weft_future *cur, *spare; /* cur: ncur futures; spare: NULL or CACHE_MAG */
    unsigned ncur;
    bool keyed; /* the exit destructor is armed for this thread */
} cache;

static pthread_mutex_t depot_mu = PTHREAD_MUTEX_INITIALIZER;
static weft_future *depot[DEPOT_MAX]; /* full chains */
static unsigned ndepot;
static atomic_uint ndepot_hint;    /* ndepot, for trim's lock-free look */
static struct timespec depot_used; /* last take from the depot */
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

/* Frees a future's memory and its pthread objects, which a cached future
 * keeps initialised (see weft__future_new_task). */
static void future_free_mem(weft_future *f)
{
    weft__cancel_destroy(&f->token);
    WEFT__CHECK(pthread_cond_destroy(&f->cv));
    WEFT__CHECK(pthread_mutex_destroy(&f->mu));
    weft__free(f);
}

static void chain_free(weft_future *f)
{
    while (f) {
        weft_future *next = f->result;
        future_free_mem(f);
        f = next;
    }
}

static void cache_drain(void *unused)
{
    WEFT__UNUSED(unused);
    chain_free(cache.cur);
    chain_free(cache.spare);
    cache.cur = cache.spare = NULL;
    cache.ncur = 0;
    cache.keyed = false; /* a later free (another destructor) re-arms it */
}

static bool cache_usable; /* the key exists (set once, under cache_once) */

static void depot_prepare(void)
{
    weft__lock(&depot_mu);
}

static void depot_parent(void)
{
    weft__unlock(&depot_mu);
}

/* The child's only thread is the forker, which holds depot_mu (prepare):
 * a fresh mutex. The depot's chains are the child's copy: still valid. */
static void depot_child(void)
{
    weft__mutex_init(&depot_mu);
}

static void cache_key_init(void)
{
    /* Out of keys: no cache, rather than futures lost at thread exit. Out
     * of memory for the fork handler: no cache, rather than a child that
     * blocks on a depot lock held by a thread it does not have. */
    cache_usable = pthread_key_create(&cache_key, cache_drain) == 0;
    if (cache_usable && pthread_atfork(depot_prepare, depot_parent, depot_child) != 0) {
        WEFT__CHECK(pthread_key_delete(cache_key));
        cache_usable = false;
    }
}

/* Before this thread holds any cached future: makes sure its exit frees
 * them. False when that cannot be arranged (then it caches nothing). */
static bool cache_arm(void)
{
    if (WEFT__LIKELY(cache.keyed))
        return true;
    WEFT__CHECK(pthread_once(&cache_once, cache_key_init));
    /* Any non-NULL value: the destructor only needs to be called. It may
     * need memory. */
    if (!cache_usable || pthread_setspecific(cache_key, &cache) != 0)
        return false;
    cache.keyed = true;
    return true;
}

/* A recycled future (its memory only), or NULL. */
static weft_future *cache_get(void)
{
    if (cache.ncur == 0) {
        if (cache.spare) {
            cache.cur = cache.spare;
            cache.spare = NULL;
        } else {
            if (!cache_arm())
                return NULL;
            weft__lock(&depot_mu);
            if (ndepot) {
                cache.cur = depot[--ndepot];
                atomic_store_explicit(&ndepot_hint, ndepot, memory_order_relaxed);
                weft__now(&depot_used);
            }
            weft__unlock(&depot_mu);
            if (!cache.cur)
                return NULL;
        }
        cache.ncur = CACHE_MAG;
    }
    weft_future *f = cache.cur;
    cache.cur = f->result;
    cache.ncur--;
    return f;
}

/* Takes f (unnamed, unreferenced; its pthread objects still initialised). */
static void cache_put(weft_future *f)
{
    if (!cache_arm()) {
        future_free_mem(f);
        return;
    }
    if (cache.ncur == CACHE_MAG) {
        weft_future *full = cache.spare;
        if (full) {
            weft__lock(&depot_mu);
            if (ndepot < DEPOT_MAX) {
                depot[ndepot++] = full;
                atomic_store_explicit(&ndepot_hint, ndepot, memory_order_relaxed);
                full = NULL;
            }
            weft__unlock(&depot_mu);
            chain_free(full);
        }
        cache.spare = cache.cur;
        cache.cur = NULL;
        cache.ncur = 0;
    }
    f->result = cache.cur;
    cache.cur = f;
    cache.ncur++;
}

void weft__future_cache_trim(void)
{
    if (atomic_load_explicit(&ndepot_hint, memory_order_relaxed) <= DEPOT_KEEP)
        return;
    struct timespec now;
    weft__now(&now);
    weft_future *excess = NULL; /* chains, linked through prev_running */
    weft__lock(&depot_mu);
    long idle =
        (long)(now.tv_sec - depot_used.tv_sec) * 1000000000L + (now.tv_nsec - depot_used.tv_nsec);
    if (idle >= DEPOT_IDLE_NS) {
        while (ndepot > DEPOT_KEEP) {
            weft_future *c = depot[--ndepot];
            c->prev_running = excess;
            excess = c;
        }
        atomic_store_explicit(&ndepot_hint, ndepot, memory_order_relaxed);
    }
    weft__unlock(&depot_mu);
    while (excess) {
        weft_future *next = excess->prev_running;
        chain_free(excess);
        excess = next;
    }
}

int weft__future_new_task(weft_future **out, const char *name, void *owner,
                          weft__deadlock_check_fn *owner_check)
{
    size_t len = name ? strlen(name) + 1 : 0;
    weft_future *f = len ? NULL : cache_get();
    if (f && !weft__alloc_charge()) {
        /* Fault injection counts a cache hit as the allocation it saves. */
        cache_put(f);
        return ENOMEM;
    }
    if (f) {
        /* A cached future keeps its mutex, condvar and token initialised:
         * unused since its last unref (nobody else held a reference, so
         * nobody waits on them), they are as good as new, and re-creating
         * them cost 5% of a tiny task (cond_destroy, condattr set-up). */
        atomic_store_explicit(&f->token.requested, false, memory_order_relaxed);
        f->token.m = NULL;
        f->token.c = NULL;
    } else {
        f = weft__malloc(sizeof *f + len);
        if (!f)
            return ENOMEM;
        weft__mutex_init(&f->mu);
        weft__cond_init(&f->cv);
        weft__cancel_init(&f->token);
    }
    atomic_init(&f->refs, 1);
    atomic_init(&f->state, WEFT_FUTURE_PENDING);
    atomic_init(&f->runner, 0);
    f->nwaiting = 0;
    f->error = 0;
    f->error_read = false;
    f->result = NULL;
    f->message = NULL;
    f->cbs = NULL;
    f->cbs_tail = &f->cbs;
    f->waiters = NULL;
    f->owner = owner;
    f->owner_check = owner_check;
    f->prev_token = NULL;
    f->prev_running = NULL;
    if (name) {
        memcpy(f->name_buf, name, len);
        f->name = f->name_buf;
    } else {
        f->name = NULL;
    }
    *out = f;
    return 0;
}

int weft_future_new(weft_future **out, const char *name)
{
    return weft__future_new_task(out, name, NULL, NULL);
}

weft_future *weft_future_ref(weft_future *f)
{
    atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
    return f;
}

void weft_future_unref(weft_future *f)
{
    if (!f)
        return;
    /* acq_rel rather than release + fence: gcc's TSan cannot model fences. */
    if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1)
        return;
    /* Last reference: nobody else can touch f, so no lock is needed. */
    if (state_of(f) == WEFT_FUTURE_FINISHED && f->error && !f->error_read)
        weft_report_unhandled(f->name ? f->name : "task", f->error,
                              f->message ? f->message : weft_strerror(f->error));
    /* Callbacks of a future that never completed never run (as in Python). */
    for (struct callback *c = f->cbs, *next; c; c = next) {
        next = c->next;
        weft__free(c);
    }
    weft__free(f->message);
    if (f->name)
        future_free_mem(f); /* a bigger allocation: not cached */
    else
        cache_put(f);
}

/* ------------------------------------------------------------ queries */

weft_future_state weft_future_state_of(const weft_future *f)
{
    return (weft_future_state)state_of(f);
}

bool weft_future_cancelled(const weft_future *f)
{
    return state_of(f) == WEFT_FUTURE_CANCELLED;
}

bool weft_future_running(const weft_future *f)
{
    return state_of(f) == WEFT_FUTURE_RUNNING;
}

bool weft_future_done(const weft_future *f)
{
    return is_done(state_of(f));
}

const char *weft_future_name(const weft_future *f)
{
    return f->name;
}

void *weft__future_owner(const weft_future *f)
{
    return f->owner;
}

weft__cancel *weft__future_token(weft_future *f)
{
    return &f->token;
}

/* ------------------------------------------------------------ waiters */

static void waiter_unref(struct waiter *w)
{
    if (atomic_fetch_sub_explicit(&w->refs, 1, memory_order_acq_rel) != 1)
        return;
    WEFT__CHECK(pthread_cond_destroy(&w->cv));
    WEFT__CHECK(pthread_mutex_destroy(&w->mu));
    weft__free(w);
}

/* One allocation: the waiter, n links, and (for as_completed) a FIFO of n. */
static struct waiter *waiter_new(size_t n, bool fifo)
{
    size_t size = sizeof(struct waiter) + n * sizeof(struct wlink);
    size_t fifo_off = size;
    if (fifo)
        size += n * sizeof(weft_future *);
    struct waiter *w = weft__malloc(size);
    if (!w)
        return NULL;
    atomic_init(&w->refs, 1);
    weft__mutex_init(&w->mu);
    weft__cond_init(&w->cv);
    w->ndone = w->nfailed = 0;
    w->fifo = fifo ? (weft_future **)((char *)w + fifo_off) : NULL;
    w->head = w->tail = 0;
    w->nlinks = n;
    for (size_t i = 0; i < n; i++) {
        w->links[i].next = NULL;
        w->links[i].pprev = NULL;
        w->links[i].w = w;
        w->links[i].f = NULL;
        w->links[i].attached = false;
    }
    return w;
}

/* Records that f completed (failed: finished with an error). */
static void waiter_notify(struct waiter *w, weft_future *f, bool failed)
{
    weft__lock(&w->mu);
    w->ndone++;
    if (failed)
        w->nfailed++;
    if (w->fifo)
        w->fifo[w->tail++] = f;
    WEFT__CHECK(pthread_cond_broadcast(&w->cv));
    weft__unlock(&w->mu);
}

/* Hooks link l into f, or, when f is already done, records it at once. */
static void link_register(struct wlink *l, weft_future *f)
{
    l->f = f;
    weft__lock(&f->mu);
    int st = state_of(f);
    if (!is_done(st)) {
        l->next = f->waiters;
        l->pprev = &f->waiters;
        if (f->waiters)
            f->waiters->pprev = &l->next;
        f->waiters = l;
        l->attached = true;
        weft__unlock(&f->mu);
        return;
    }
    bool failed = st == WEFT_FUTURE_FINISHED && f->error;
    weft__unlock(&f->mu);
    waiter_notify(l->w, f, failed);
}

static void link_unregister(struct wlink *l)
{
    weft_future *f = l->f;
    if (!f)
        return;
    weft__lock(&f->mu);
    if (l->attached) {
        *l->pprev = l->next;
        if (l->next)
            l->next->pprev = l->pprev;
        l->attached = false;
    }
    weft__unlock(&f->mu);
}

/* ------------------------------------------------------------ completion */

static void run_callback(weft_future *f, struct callback *c)
{
    /* A callback may attach a message with weft_fail; start it clean. The
     * completing thread may be a task that already set its own failure
     * message and has not returned yet: keep that one for it. */
    weft__error_saved saved;
    weft__error_save(&saved);
    int rc = c->fn(f, c->ud);
    if (rc != 0) {
        char who[256];
        snprintf(who, sizeof who, "done callback of %s", f->name ? f->name : "task");
        char *msg = weft__error_take(rc);
        weft_report_unhandled(who, rc, msg ? msg : weft_strerror(rc));
        weft__free(msg);
    }
    weft__error_restore(&saved);
}

/* Called with f->mu held, seeing f in state `from` (not done); moves f to
 * `st` and releases mu, then wakes every kind of waiter and runs the
 * callbacks, lock-free. Returns false, changing nothing and with mu still
 * held, when f left `from` meanwhile: only weft__future_begin changes the
 * state without mu, so f was PENDING and is RUNNING now; the caller decides
 * again. f is used after its waiters are woken, so every completer (worker,
 * producer, canceller) must hold a reference for the duration of the call. */
static bool complete_locked(weft_future *f, int from, int st, int code, void *result, char *message)
{
    /* error, result and message are published by the CAS (release); nobody
     * reads them before seeing a done state (acquire). A failed CAS leaves
     * them to the caller's next attempt, or to finish (RUNNING). */
    f->error = code;
    f->result = result;
    f->message = message;
    if (!atomic_compare_exchange_strong_explicit(&f->state, &from, st, memory_order_acq_rel,
                                                 memory_order_acquire)) {
        f->error = 0;
        f->result = NULL;
        f->message = NULL;
        return false;
    }
    struct wlink *links = f->waiters;
    f->waiters = NULL;
    for (struct wlink *l = links; l; l = l->next) {
        l->attached = false;
        atomic_fetch_add_explicit(&l->w->refs, 1, memory_order_relaxed);
    }
    struct callback *cbs = f->cbs;
    f->cbs = NULL;
    f->cbs_tail = &f->cbs;
    if (f->nwaiting)
        WEFT__CHECK(pthread_cond_broadcast(&f->cv));
    weft__unlock(&f->mu);

    if (WEFT__UNLIKELY(links != NULL)) {
        bool failed = st == WEFT_FUTURE_FINISHED && code;
        for (struct wlink *l = links, *next; l; l = next) {
            /* Our reference keeps l (inside its waiter) alive; read next
             * before dropping it. Nobody rewrites a detached list. */
            next = l->next;
            struct waiter *w = l->w;
            waiter_notify(w, f, failed);
            waiter_unref(w);
        }
    }
    for (struct callback *c = cbs, *next; c; c = next) {
        next = c->next;
        run_callback(f, c);
        weft__free(c);
    }
    return true;
}

bool weft__future_begin(weft_future *f)
{
    /* Lock-free: a CAS, so a concurrent cancel (which CASes PENDING ->
     * CANCELLED under mu) either wins, and we skip the task, or fails and
     * answers EALREADY. Nobody waits for RUNNING, so nobody needs waking;
     * waiters, callbacks and the cancel token are only touched by
     * completion, under mu. Measured: one lock pair less per task. */
    int st = WEFT_FUTURE_PENDING;
    if (!atomic_compare_exchange_strong_explicit(&f->state, &st, WEFT_FUTURE_RUNNING,
                                                 memory_order_acq_rel, memory_order_acquire))
        return false;
    f->prev_running = running;
    running = f;
    f->prev_token = weft__cancel_swap(&f->token);
    atomic_store_explicit(&f->runner, weft__self_id(), memory_order_relaxed);
    return true;
}

uint64_t weft__future_runner(const weft_future *f)
{
    return atomic_load_explicit(&((weft_future *)f)->runner, memory_order_relaxed);
}

static void finish(weft_future *f, int rc, void *result, char *message, bool held)
{
    atomic_store_explicit(&f->runner, 0, memory_order_relaxed);
    weft__cancel_swap(f->prev_token);
    running = f->prev_running;
    f->prev_token = NULL;
    f->prev_running = NULL;
    if (rc == 0) {
        weft__free(message);
        message = NULL;
    } else {
        result = NULL;
    }
    if (held && atomic_load_explicit(&f->refs, memory_order_acquire) == 1 && !f->cbs &&
        !f->waiters) {
        /* The caller's reference is the only one (a detached task, or
         * every other holder let go; a result() waiter holds one too) and
         * nobody left a callback or a set waiter: nobody but us can see f
         * any more, so no lock and no wakeup. The acquire pairs with the
         * release of every other reference, so what they did under mu
         * (cbs, waiters) is visible here. Measured (bench-lib-weft tasks 2,
         * 7 runs each): 0.170-0.183 s -> 0.149-0.150 s for 440k tasks. */
        f->error = rc;
        f->result = result;
        f->message = message;
        atomic_store_explicit(&f->state, WEFT_FUTURE_FINISHED, memory_order_release);
        return;
    }
    weft__lock(&f->mu);
    /* RUNNING since our begin; only completion under mu (set_result or
     * set_error on a running task) could have changed it, and then our
     * outcome overwrites theirs, as it always did. */
    bool done = complete_locked(f, state_of(f), WEFT_FUTURE_FINISHED, rc, result, message);
    WEFT__CHECK(done ? 0 : EINVAL); /* cannot fail: f is not PENDING */
}

void weft__future_finish(weft_future *f, int rc, void *result, char *message)
{
    finish(f, rc, result, message, false);
}

void weft__future_finish_held(weft_future *f, int rc, void *result, char *message)
{
    finish(f, rc, result, message, true);
}

int weft_future_cancel(weft_future *f)
{
    weft__lock(&f->mu);
    int st = state_of(f);
    if (st == WEFT_FUTURE_PENDING && complete_locked(f, st, WEFT_FUTURE_CANCELLED, 0, NULL, NULL))
        return 0;
    st = state_of(f); /* a worker may have begun it meanwhile */
    weft__unlock(&f->mu);
    return st == WEFT_FUTURE_CANCELLED ? 0 : EALREADY;
}

int weft_future_interrupt(weft_future *f)
{
    weft__lock(&f->mu);
    int st = state_of(f);
    if (st == WEFT_FUTURE_PENDING && complete_locked(f, st, WEFT_FUTURE_CANCELLED, 0, NULL, NULL))
        return 0;
    st = state_of(f); /* a worker may have begun it meanwhile */
    weft__unlock(&f->mu);
    if (st == WEFT_FUTURE_RUNNING) {
        /* Outside mu: the request locks whatever the task waits on. */
        weft__cancel_request(&f->token);
        return EINPROGRESS;
    }
    return st == WEFT_FUTURE_CANCELLED ? 0 : EALREADY;
}

int weft_future_set_running(weft_future *f)
{
    weft__lock(&f->mu);
    int st = WEFT_FUTURE_PENDING;
    int rc = 0;
    /* A CAS: a worker's begin may race us (executor futures). */
    if (!atomic_compare_exchange_strong_explicit(&f->state, &st, WEFT_FUTURE_RUNNING,
                                                 memory_order_acq_rel, memory_order_acquire))
        rc = st == WEFT_FUTURE_CANCELLED ? ECANCELED : EALREADY;
    weft__unlock(&f->mu);
    return rc;
}

int weft_future_set_result(weft_future *f, void *result)
{
    weft__lock(&f->mu);
    for (;;) {
        int st = state_of(f);
        if (is_done(st)) {
            weft__unlock(&f->mu);
            return EALREADY;
        }
        if (complete_locked(f, st, WEFT_FUTURE_FINISHED, 0, result, NULL))
            return 0;
    }
}

/* Shared by set_error and fail_pending; `from_running` allows RUNNING. */
static int fail(weft_future *f, int code, const char *message, bool from_running)
{
    if (code == 0)
        return EINVAL;
    /* Copy before locking; when memory is short the code still gets through
     * and weft_strerror(code) stands in for the text. */
    char *copy = message ? weft__strdup(message) : NULL;
    weft__lock(&f->mu);
    for (;;) {
        int st = state_of(f);
        if (is_done(st) || (st == WEFT_FUTURE_RUNNING && !from_running)) {
            weft__unlock(&f->mu);
            weft__free(copy);
            return EALREADY;
        }
        if (complete_locked(f, st, WEFT_FUTURE_FINISHED, code, NULL, copy))
            return 0;
    }
}

int weft_future_set_error(weft_future *f, int code, const char *message)
{
    return fail(f, code, message, true);
}

int weft__future_fail_pending(weft_future *f, int code, const char *message)
{
    return fail(f, code, message, false);
}

int weft_future_add_done_callback(weft_future *f, weft_future_callback_fn *fn, void *ud)
{
    struct callback *c = weft__malloc(sizeof *c);
    if (!c)
        return ENOMEM;
    c->next = NULL;
    c->fn = fn;
    c->ud = ud;
    weft__lock(&f->mu);
    if (!is_done(state_of(f))) {
        *f->cbs_tail = c;
        f->cbs_tail = &c->next;
        weft__unlock(&f->mu);
        return 0;
    }
    weft__unlock(&f->mu);
    run_callback(f, c);
    weft__free(c);
    return 0;
}

/* ------------------------------------------------------------ waiting */

/* True when f is running as a task on this thread (the innermost task or
 * one it runs nested): it completes only after the caller returns. */
static bool runs_here(const weft_future *f)
{
    for (const weft_future *cur = running; cur; cur = cur->prev_running)
        if (cur == f)
            return true;
    return false;
}

/* Whether wait's condition holds, given completions counted so far. */
static bool wait_met(weft_wait_mode mode, size_t n, size_t ndone, size_t nfailed)
{
    switch (mode) {
    case WEFT_FIRST_COMPLETED:
        return ndone > 0 || n == 0;
    case WEFT_FIRST_EXCEPTION:
        return nfailed > 0 || ndone == n;
    default:
        return ndone == n;
    }
}

enum { WAIT_FREE, WAIT_POOL, WAIT_NEVER };

/* What can end the wait b: WAIT_FREE when it is met, or something outside
 * owner's pool could end it (a future of another executor, a standalone
 * one, or one set by hand); WAIT_NEVER when only futures running on the
 * calling thread could (`here`: the caller is the waiting thread);
 * WAIT_POOL when it needs owner's pool to make progress. Lock-free: states
 * are atomics, `owner` and `error` are published before the state. */
static int classify(const weft__blocked *b, const void *owner, bool here)
{
    size_t ndone = 0, nfailed = 0, nself = 0, npool = 0, nfree = 0;
    for (size_t i = 0; i < b->n; i++) {
        weft_future *f = b->fs[i];
        int st = state_of(f);
        if (is_done(st)) {
            ndone++;
            if (st == WEFT_FUTURE_FINISHED && f->error)
                nfailed++;
        } else if (here && runs_here(f)) {
            nself++;
        } else if (owner && f->owner == owner) {
            npool++;
        } else {
            nfree++;
        }
    }
    /* ndone >= base: what as_completed already yielded is done. */
    bool met = wait_met(b->mode, b->n, ndone - b->base, nfailed);
    if (met)
        return WAIT_FREE;
    if (b->mode == WEFT_ALL_COMPLETED) /* every one is needed */
        return nself ? WAIT_NEVER : npool ? WAIT_POOL : WAIT_FREE;
    return nfree ? WAIT_FREE : npool ? WAIT_POOL : nself ? WAIT_NEVER : WAIT_FREE;
}

bool weft__blocked_stuck(const weft__blocked *b, const void *owner)
{
    return classify(b, owner, false) != WAIT_FREE;
}

/* For a wait from inside a task, before it first sleeps: true (EDEADLK) when
 * it can never end: it needs the caller's own task, or its executor says
 * the whole pool is stuck (see future-internal.h). Otherwise the executor
 * may keep b, and *reg is the task whose executor must be told when the wait
 * ends (block_end). Called with no weft lock held and outside the wait's
 * cancellation bracket (see DESIGN). */
static bool block_begin(const weft__blocked *b, weft_future **reg)
{
    weft_future *cur = running;
    *reg = NULL;
    if (!cur)
        return false;
    void *owner = cur->owner_check ? cur->owner : NULL;
    int v = classify(b, owner, true);
    if (v == WAIT_NEVER)
        return true;
    if (v != WAIT_POOL)
        return false;
    if (cur->owner_check(owner, b, false))
        return true;
    *reg = cur;
    return false;
}

static void block_end(weft_future *reg, const weft__blocked *b)
{
    if (reg)
        reg->owner_check(reg->owner, b, true);
}

/* The outcome of a done future; f->mu held. */
static int outcome_locked(weft_future *f, void **result)
{
    if (state_of(f) == WEFT_FUTURE_CANCELLED)
        return ECANCELED;
    if (f->error) {
        f->error_read = true;
        return WEFT_EFAILED;
    }
    if (result)
        *result = f->result;
    return 0;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Spinning only pays when another core can finish the task meanwhile. */
static bool multicore(void)
{
    static atomic_int ncpu; /* 0: not asked yet */
    int n = atomic_load_explicit(&ncpu, memory_order_relaxed);
    if (WEFT__UNLIKELY(n == 0)) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 1 ? (int)c : 1;
        atomic_store_explicit(&ncpu, n, memory_order_relaxed);
    }
    return n > 1;
}

/* Before result() sleeps: watches f's state for up to RESULT_SPIN_NS.
 * A tiny task finishes within a microsecond or two of being submitted,
 * while sleeping on the condvar costs the waiter a futex sleep plus a
 * scheduler wakeup (10 us on a VM) and the worker a broadcast; while we
 * spin, nwaiting stays 0 and finish() makes no syscall at all.
 * A future still PENDING after PENDING_SPIN_NS is not being picked up by a
 * worker on another core: either it waits behind other tasks, or its worker
 * needs our CPU. One sched_yield() then hands that worker the CPU (measured
 * on a loaded 2-core VM: p50 10.3 -> 4.3 us; spinning without the yield made
 * that case worse, 18 us), and we sleep if that did not finish it.
 * Bounded, so a long task costs the waiter a few microseconds, once. */
#define RESULT_SPIN_NS  5000
#define PENDING_SPIN_NS 300

static bool spin_until_done(weft_future *f)
{
    if (!multicore())
        return false;
    struct timespec t0, t;
    weft__now(&t0);
    for (;;) {
        for (int i = 0; i < 16; i++) {
            if (is_done(state_of(f)))
                return true;
            cpu_relax();
        }
        weft__now(&t);
        long ns = (long)(t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec);
        if (ns >= RESULT_SPIN_NS)
            return false;
        if (ns >= PENDING_SPIN_NS && state_of(f) == WEFT_FUTURE_PENDING) {
            sched_yield();
            return is_done(state_of(f));
        }
    }
}

int weft_future_result(weft_future *f, double timeout, void **result)
{
    weft__deadline dl;
    if (weft__deadline_init(&dl, timeout) != 0)
        return EINVAL;
    int rc;
    if (!is_done(state_of(f)) && timeout != 0)
        spin_until_done(f);
    weft__lock(&f->mu);
    if (is_done(state_of(f))) {
        rc = outcome_locked(f, result);
        weft__unlock(&f->mu);
        return rc;
    }
    weft__unlock(&f->mu);
    /* A task waiting on its own future would wait forever. */
    if (runs_here(f))
        return EDEADLK;

    /* Deadlock detector (deadlock.c): register in the wait-for graph. */
    weft__dl_wait wf;
    bool wf_on = weft__dl_maybe_on() && weft__dl_on();
    if (wf_on && weft__dl_wait_future(&wf, f, __builtin_return_address(0)) != 0)
        return EDEADLK;

    weft_future *one[1] = {f};
    weft__blocked blk = {one, 1, 0, WEFT_FIRST_COMPLETED, dl.forever};
    weft_future *reg = NULL;
    bool check = running != NULL;
    weft__cancel *tok = weft__wait_enter(&f->mu, &f->cv);
    weft__lock(&f->mu);
    f->nwaiting++;
    rc = -1;
    for (;;) {
        if (is_done(state_of(f)))
            break;
        if (weft__wait_cancelled(tok)) {
            rc = ECANCELED;
            break;
        }
        if (check) {
            /* The executor's hook takes its lock: call it unlocked, once
             * (its record stands until block_end), then look again. */
            check = false;
            weft__unlock(&f->mu);
            /* Outside the cancel bracket: a weft wait inside the hook
             * would unregister our token on its way out (see DESIGN). */
            weft__wait_leave(tok);
            bool dead = block_begin(&blk, &reg);
            tok = weft__wait_enter(&f->mu, &f->cv);
            weft__lock(&f->mu);
            if (dead && !is_done(state_of(f))) {
                rc = EDEADLK;
                break;
            }
            continue;
        }
        if (weft__cond_wait(&f->cv, &f->mu, &dl) == ETIMEDOUT && !is_done(state_of(f))) {
            rc = ETIMEDOUT;
            break;
        }
    }
    f->nwaiting--;
    if (rc < 0)
        rc = outcome_locked(f, result);
    weft__unlock(&f->mu);
    weft__wait_leave(tok);
    block_end(reg, &blk);
    if (wf_on)
        weft__dl_wait_done(&wf);
    if (rc == EDEADLK)
        weft__dl_report_pool("weft_future_result", f);
    return rc;
}

int weft_future_error(weft_future *f, const char **message)
{
    weft__lock(&f->mu);
    int code = 0;
    const char *msg = NULL;
    if (state_of(f) == WEFT_FUTURE_FINISHED && f->error) {
        code = f->error;
        msg = f->message ? f->message : weft_strerror(code);
        f->error_read = true;
    }
    weft__unlock(&f->mu);
    if (message)
        *message = msg;
    return code;
}

/* Snapshot: counts done and failed futures, fills done[] (may be NULL). */
static void wait_scan(weft_future *const *fs, size_t n, bool *done, size_t *ndone, size_t *nfailed)
{
    *ndone = *nfailed = 0;
    for (size_t i = 0; i < n; i++) {
        int st = state_of(fs[i]);
        bool d = is_done(st);
        if (done)
            done[i] = d;
        if (d)
            (*ndone)++;
        /* error is written before state (release); we read it after. */
        if (st == WEFT_FUTURE_FINISHED && fs[i]->error)
            (*nfailed)++;
    }
}

int weft_futures_wait(weft_future *const *fs, size_t n, double timeout, weft_wait_mode mode,
                      bool *done)
{
    weft__deadline dl;
    if (weft__deadline_init(&dl, timeout) != 0)
        return EINVAL;
    if (mode != WEFT_ALL_COMPLETED && mode != WEFT_FIRST_COMPLETED && mode != WEFT_FIRST_EXCEPTION)
        return EINVAL;
    if (n > 0 && !fs)
        return EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!fs[i])
            return EINVAL;

    size_t ndone, nfailed;
    wait_scan(fs, n, done, &ndone, &nfailed);
    if (wait_met(mode, n, ndone, nfailed))
        return 0;
    if (!dl.forever && weft__deadline_passed(&dl))
        return ETIMEDOUT;

    struct waiter *w = waiter_new(n, false);
    if (!w)
        return ENOMEM;
    for (size_t i = 0; i < n; i++)
        link_register(&w->links[i], fs[i]);

    weft__blocked blk = {fs, n, 0, mode, dl.forever};
    weft_future *reg = NULL;
    bool check = running != NULL;
    int rc = 0;
    weft__cancel *tok = weft__wait_enter(&w->mu, &w->cv);
    weft__lock(&w->mu);
    for (;;) {
        if (wait_met(mode, n, w->ndone, w->nfailed))
            break;
        if (weft__wait_cancelled(tok)) {
            rc = ECANCELED;
            break;
        }
        if (check) {
            check = false;
            weft__unlock(&w->mu);
            weft__wait_leave(tok); /* see weft_future_result */
            bool dead = block_begin(&blk, &reg);
            tok = weft__wait_enter(&w->mu, &w->cv);
            weft__lock(&w->mu);
            if (dead && !wait_met(mode, n, w->ndone, w->nfailed)) {
                rc = EDEADLK;
                break;
            }
            continue;
        }
        if (weft__cond_wait(&w->cv, &w->mu, &dl) == ETIMEDOUT &&
            !wait_met(mode, n, w->ndone, w->nfailed)) {
            rc = ETIMEDOUT;
            break;
        }
    }
    weft__unlock(&w->mu);
    weft__wait_leave(tok);
    block_end(reg, &blk);

    for (size_t i = 0; i < n; i++)
        link_unregister(&w->links[i]);
    waiter_unref(w);
    /* Report what is true now: a future may have completed since. */
    wait_scan(fs, n, done, &ndone, &nfailed);
    if (rc == ETIMEDOUT && wait_met(mode, n, ndone, nfailed))
        rc = 0;
    if (rc == EDEADLK)
        weft__dl_report_pool("weft_futures_wait", NULL);
    return rc;
}

/* ------------------------------------------------------------ as_completed */

struct weft_as_completed {
    weft__deadline dl;
    size_t n;       /* distinct futures */
    size_t yielded; /* popped from the waiter's FIFO */
    struct waiter *w;
    weft_future **fs; /* n references, in first-seen input order */
};

struct seen {
    weft_future *f;
    bool taken;
};

static int seen_cmp(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const struct seen *)a)->f;
    uintptr_t y = (uintptr_t)((const struct seen *)b)->f;
    return x < y ? -1 : x > y;
}

/* Copies fs without duplicates, keeping first-seen order; returns the count
 * or (size_t)-1 when memory is short. */
static size_t dedup(weft_future *const *fs, size_t n, weft_future **out)
{
    if (n <= 8) {
        /* Small sets: quadratic, no allocation. */
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            size_t j = 0;
            while (j < m && out[j] != fs[i])
                j++;
            if (j == m)
                out[m++] = fs[i];
        }
        return m;
    }
    struct seen *s = weft__malloc(n * sizeof *s);
    if (!s)
        return (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        s[i].f = fs[i];
        s[i].taken = false;
    }
    qsort(s, n, sizeof *s, seen_cmp);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        struct seen key = {fs[i], false};
        struct seen *p = bsearch(&key, s, n, sizeof *s, seen_cmp);
        /* bsearch may land on any duplicate: use the first of the run. */
        while (p > s && p[-1].f == fs[i])
            p--;
        if (!p->taken) {
            p->taken = true;
            out[m++] = fs[i];
        }
    }
    weft__free(s);
    return m;
}

int weft_as_completed_new(weft_as_completed **out, weft_future *const *fs, size_t n, double timeout)
{
    weft__deadline dl;
    if (weft__deadline_init(&dl, timeout) != 0)
        return EINVAL;
    if (!out || (n > 0 && !fs))
        return EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!fs[i])
            return EINVAL;
    weft_as_completed *it = weft__malloc(sizeof *it);
    weft_future **uniq = weft__malloc((n ? n : 1) * sizeof *uniq);
    if (!it || !uniq)
        goto nomem;
    size_t m = dedup(fs, n, uniq);
    if (m == (size_t)-1)
        goto nomem;
    struct waiter *w = waiter_new(m, true);
    if (!w)
        goto nomem;
    it->dl = dl;
    it->n = m;
    it->yielded = 0;
    it->w = w;
    it->fs = uniq;
    for (size_t i = 0; i < m; i++) {
        weft_future_ref(uniq[i]);
        link_register(&w->links[i], uniq[i]);
    }
    *out = it;
    return 0;
nomem:
    weft__free(uniq);
    weft__free(it);
    return ENOMEM;
}

int weft_as_completed_next(weft_as_completed *it, weft_future **f)
{
    if (it->yielded == it->n)
        return ENOENT;
    struct waiter *w = it->w;
    weft__blocked blk = {it->fs, it->n, it->yielded, WEFT_FIRST_COMPLETED, it->dl.forever};
    weft_future *reg = NULL;
    bool check = running != NULL;
    int rc = 0;
    weft__cancel *tok = weft__wait_enter(&w->mu, &w->cv);
    weft__lock(&w->mu);
    for (;;) {
        if (w->head < w->tail) {
            *f = w->fifo[w->head++];
            it->yielded++;
            break;
        }
        if (weft__wait_cancelled(tok)) {
            rc = ECANCELED;
            break;
        }
        if (check) {
            check = false;
            weft__unlock(&w->mu);
            weft__wait_leave(tok); /* see weft_future_result */
            bool dead = block_begin(&blk, &reg);
            tok = weft__wait_enter(&w->mu, &w->cv);
            weft__lock(&w->mu);
            if (dead && w->head == w->tail) {
                rc = EDEADLK;
                break;
            }
            continue;
        }
        if (weft__cond_wait(&w->cv, &w->mu, &it->dl) == ETIMEDOUT && w->head == w->tail) {
            rc = ETIMEDOUT;
            break;
        }
    }
    weft__unlock(&w->mu);
    weft__wait_leave(tok);
    block_end(reg, &blk);
    if (rc == EDEADLK)
        weft__dl_report_pool("weft_as_completed_next", NULL);
    return rc;
}

void weft_as_completed_free(weft_as_completed *it)
{
    if (!it)
        return;
    for (size_t i = 0; i < it->n; i++)
        link_unregister(&it->w->links[i]);
    waiter_unref(it->w);
    for (size_t i = 0; i < it->n; i++)
        weft_future_unref(it->fs[i]);
    weft__free(it->fs);
    weft__free(it);
}
