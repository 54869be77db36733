/* future-wait.c: every wait on futures: weft_future_result and
 * weft_future_exception on one, weft_futures_wait and as_completed on many,
 * the waiter (CPython's _Waiter) behind the latter, and the self-deadlock
 * classification shared by all of them. See the DESIGN at the top of
 * future.c. */
#include "cancel-internal.h"
#include "deadlock-internal.h"
#include "future-layout-internal.h"

#include <sched.h>
#include <unistd.h>

/* ------------------------------------------------------------ waiters */

void weft__waiter_unref(struct waiter *w)
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
void weft__waiter_notify(struct waiter *w, weft_future *f, bool failed)
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
    weft__waiter_notify(l->w, f, failed);
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

/* ------------------------------------------------------------ waiting */

/* True when f is running as a task on this thread (the innermost task or
 * one it runs nested): it completes only after the caller returns. */
static bool runs_here(const weft_future *f)
{
    for (const weft_future *cur = weft__future_running; cur; cur = cur->prev_running)
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
    weft_future *cur = weft__future_running;
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

/* One wait in progress: the protocol every wait on futures follows (result,
 * exception, wait, as_completed), written once: the cancellation protocol
 * of cancel-internal.h on (m, c), the self-deadlock check once before the first
 * sleep, and the deadline. */
typedef struct await {
    pthread_mutex_t *m; /* guards what met() reads */
    pthread_cond_t *c;  /* signalled when that changes */
    const weft__deadline *dl;
    bool (*met)(void *ctx); /* the wait's condition, m held */
    void *ctx;
    unsigned *nwaiting; /* counts this thread while it waits (or NULL) */
    weft__blocked blk;  /* what it waits for, for the self-deadlock check */
    weft__cancel *tok;  /* set by await_begin */
    weft_future *reg;
} await;

/* Called without a->m. Waits until a->met(a->ctx) (returns 0), the calling
 * task is cancelled (ECANCELED), the deadline passes with the condition
 * still unmet (ETIMEDOUT), or the wait can never end (EDEADLK, see
 * block_begin). Returns with a->m held either way: the caller reads the
 * outcome under it, then calls await_end. */
static int await_begin(await *a)
{
    bool check = weft__future_running != NULL;
    a->reg = NULL;
    a->tok = weft__wait_enter(a->m, a->c);
    weft__lock(a->m);
    if (a->nwaiting)
        (*a->nwaiting)++;
    for (;;) {
        if (a->met(a->ctx))
            return 0;
        if (weft__wait_cancelled(a->tok))
            return ECANCELED;
        if (check) {
            /* The executor's hook takes its lock: call it unlocked, once
             * (its record stands until await_end), then look again. Outside
             * the cancel bracket: a weft wait inside the hook would
             * unregister our token on its way out (see DESIGN). */
            check = false;
            weft__unlock(a->m);
            weft__wait_leave(a->tok);
            bool dead = block_begin(&a->blk, &a->reg);
            a->tok = weft__wait_enter(a->m, a->c);
            weft__lock(a->m);
            if (dead && !a->met(a->ctx))
                return EDEADLK;
            continue;
        }
        if (weft__cond_wait(a->c, a->m, a->dl) == ETIMEDOUT && !a->met(a->ctx))
            return ETIMEDOUT;
    }
}

/* Ends the wait await_begin started: releases a->m, leaves the cancel
 * bracket, withdraws the self-deadlock record. */
static void await_end(await *a)
{
    if (a->nwaiting)
        (*a->nwaiting)--;
    weft__unlock(a->m);
    weft__wait_leave(a->tok);
    block_end(a->reg, &a->blk);
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

static bool future_done(void *f)
{
    return is_done(state_of(f));
}

/* Waits until f is done, for result() and exception(); call names the
 * caller and pc is the user's call site (for deadlock reports). Returns 0
 * when f is done, ETIMEDOUT, ECANCELED, EDEADLK or EINVAL. */
static int wait_one(weft_future *f, double timeout, const char *call, const void *pc)
{
    weft__deadline dl;
    if (weft__deadline_init(&dl, timeout) != 0)
        return EINVAL;
    if (!is_done(state_of(f)) && timeout != 0)
        spin_until_done(f);
    if (is_done(state_of(f)))
        return 0;
    /* A task waiting on its own future would wait forever. */
    if (runs_here(f))
        return EDEADLK;

    /* Deadlock detector (deadlock.c): register in the wait-for graph. */
    weft__dl_wait wf;
    bool wf_on = weft__dl_maybe_on() && weft__dl_on();
    if (wf_on && weft__dl_wait_future(&wf, &f->runner, f->name, pc) != 0)
        return EDEADLK;

    weft_future *one[1] = {f};
    await a = {.m = &f->mu,
               .c = &f->cv,
               .dl = &dl,
               .met = future_done,
               .ctx = f,
               .nwaiting = &f->nwaiting,
               .blk = {one, 1, 0, WEFT_FIRST_COMPLETED, dl.forever}};
    int rc = await_begin(&a);
    await_end(&a);
    if (wf_on)
        weft__dl_wait_done(&wf);
    if (rc == EDEADLK)
        weft__dl_report_pool(call, true, f->name);
    return rc;
}

int weft_future_result(weft_future *f, double timeout, void **result)
{
    if (!f)
        return EINVAL;
    int rc = wait_one(f, timeout, "weft_future_result", __builtin_return_address(0));
    if (rc)
        return rc;
    weft__lock(&f->mu);
    rc = outcome_locked(f, result);
    weft__unlock(&f->mu);
    return rc;
}

int weft_future_exception(weft_future *f, double timeout, int *code, const char **message)
{
    if (!f)
        return EINVAL;
    int rc = wait_one(f, timeout, "weft_future_exception", __builtin_return_address(0));
    if (rc)
        return rc;
    weft__lock(&f->mu);
    if (state_of(f) == WEFT_FUTURE_CANCELLED) {
        weft__unlock(&f->mu);
        return ECANCELED;
    }
    int err = f->error;
    const char *msg = err ? (f->message ? f->message : weft_strerror(err)) : NULL;
    f->error_read = true;
    weft__unlock(&f->mu);
    if (code)
        *code = err;
    if (message)
        *message = msg;
    return 0;
}

int weft_future_error(weft_future *f, const char **message)
{
    if (message)
        *message = NULL;
    if (!f)
        return EINVAL;
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

struct set_wait {
    struct waiter *w;
    weft_wait_mode mode;
    size_t n;
};

static bool set_met(void *ctx)
{
    struct set_wait *sw = ctx;
    return wait_met(sw->mode, sw->n, sw->w->ndone, sw->w->nfailed);
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

    struct set_wait sw = {w, mode, n};
    await a = {.m = &w->mu,
               .c = &w->cv,
               .dl = &dl,
               .met = set_met,
               .ctx = &sw,
               .blk = {fs, n, 0, mode, dl.forever}};
    int rc = await_begin(&a);
    await_end(&a);

    for (size_t i = 0; i < n; i++)
        link_unregister(&w->links[i]);
    weft__waiter_unref(w);
    /* Report what is true now: a future may have completed since. */
    wait_scan(fs, n, done, &ndone, &nfailed);
    if (rc == ETIMEDOUT && wait_met(mode, n, ndone, nfailed))
        rc = 0;
    if (rc == EDEADLK)
        weft__dl_report_pool("weft_futures_wait", false, NULL);
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

static bool fifo_nonempty(void *w)
{
    return ((struct waiter *)w)->head < ((struct waiter *)w)->tail;
}

int weft_as_completed_next(weft_as_completed *it, weft_future **f)
{
    if (!it || !f)
        return EINVAL;
    if (it->yielded == it->n)
        return ENOENT;
    struct waiter *w = it->w;
    await a = {.m = &w->mu,
               .c = &w->cv,
               .dl = &it->dl,
               .met = fifo_nonempty,
               .ctx = w,
               .blk = {it->fs, it->n, it->yielded, WEFT_FIRST_COMPLETED, it->dl.forever}};
    int rc = await_begin(&a);
    if (rc == 0) {
        *f = w->fifo[w->head++];
        it->yielded++;
    }
    await_end(&a);
    if (rc == EDEADLK)
        weft__dl_report_pool("weft_as_completed_next", false, NULL);
    return rc;
}

void weft_as_completed_free(weft_as_completed *it)
{
    if (!it)
        return;
    for (size_t i = 0; i < it->n; i++)
        link_unregister(&it->w->links[i]);
    weft__waiter_unref(it->w);
    for (size_t i = 0; i < it->n; i++)
        weft_future_unref(it->fs[i]);
    weft__free(it->fs);
    weft__free(it);
}
