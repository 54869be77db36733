/* future.c: futures (Python's concurrent.futures.Future): lifetime and the
 * free-future cache, completion, cancellation and done callbacks; every
 * wait is in future-wait.c. The executor drives futures through
 * future-internal.h.
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
 * - A worker's running future is kept in a thread-local
 *   (`weft__future_running`) so that a wait from inside a task can tell what could end it
 * (classify): only the caller's own task (EDEADLK at once), only its own executor's pool (ask the
 * executor through owner_check, which reports a pool where every worker is blocked that way, and
 * otherwise keeps the wait's record for the workers that block after it; see future-internal.h), or
 * anything else (a plain wait). The hook is called with no weft lock held, once per wait, and
 * outside the wait's weft__wait_enter/_leave bracket: the token has one registration slot, so a
 * weft wait inside the hook would otherwise clear ours and a cancel request arriving after it could
 * not wake us.
 * - Deadlock detector hooks (deadlock.c), kept apart: a task's future
 *   records its worker (`runner`) and weft_future_result registers in the
 *   wait-for graph, so "T holds a lock the task needs and waits for the
 *   task" is EDEADLK instead of a hang; and each EDEADLK for a pool that can
 *   never start the awaited work is also reported.
 *
 * Lock order: a future's `mu` and a waiter's `mu` are never held together
 * (registration, notification and unregistration each take one at a time).
 * The cancellation protocol takes a token's mutex before either (cancel-internal.h);
 * weft__cancel_request is never called with a future's `mu` held.
 */
#include "cancel-internal.h"
#include "deadlock-internal.h"
#include "error-internal.h"
#include "future-layout-internal.h"

#include <stdio.h>
#include <string.h>

_Thread_local weft_future *weft__future_running;

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
    if (!out)
        return EINVAL;
    return weft__future_new_task(out, name, NULL, NULL);
}

weft_future *weft_future_ref(weft_future *f)
{
    if (!f)
        return NULL;
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
    if (!f)
        return WEFT_FUTURE_PENDING;
    return (weft_future_state)state_of(f);
}

bool weft_future_cancelled(const weft_future *f)
{
    if (!f)
        return false;
    return state_of(f) == WEFT_FUTURE_CANCELLED;
}

bool weft_future_running(const weft_future *f)
{
    if (!f)
        return false;
    return state_of(f) == WEFT_FUTURE_RUNNING;
}

bool weft_future_done(const weft_future *f)
{
    if (!f)
        return false;
    return is_done(state_of(f));
}

const char *weft_future_name(const weft_future *f)
{
    if (!f)
        return NULL;
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
            weft__waiter_notify(w, f, failed);
            weft__waiter_unref(w);
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
    f->prev_running = weft__future_running;
    weft__future_running = f;
    f->prev_token = weft__cancel_swap(&f->token);
    atomic_store_explicit(&f->runner, weft__self_id(), memory_order_relaxed);
    return true;
}

static void finish(weft_future *f, int rc, void *result, char *message, bool held)
{
    atomic_store_explicit(&f->runner, 0, memory_order_relaxed);
    weft__cancel_swap(f->prev_token);
    weft__future_running = f->prev_running;
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
    if (!f)
        return EINVAL;
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
    if (!f)
        return EINVAL;
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
    if (!f)
        return EINVAL;
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
    if (!f)
        return EINVAL;
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
    if (!f || code == 0)
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
    if (!f || !fn)
        return EINVAL;
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
