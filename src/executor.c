/* executor.c: the thread-pool executor (Python's ThreadPoolExecutor): the
 * pool core (workers, wakeups, lazy starts, admission, shutdown). The run
 * queue is in runq-internal.h and runq.c, map in executor-map.c.
 *
 * DESIGN
 * - One run queue per executor (runq-internal.h): an intrusive MPSC queue
 *   whose link is the first member of the future, so submit allocates
 *   nothing but the future. The queue's `pushed` word also holds the pool's
 *   closed state (shut down, broken), the only place it is stored: a submit
 *   either reserved before the pool closed (and its task is run, cancelled
 *   or failed by the drain) or is refused.
 * - Fast path (the steady state: unbounded queue, every worker started):
 *   submit is the reservation, the link and three loads; no lock unless a
 *   sleeper must be woken. Everything else (lazy starts, max_queued
 *   admission, the first thread) goes through ex->mu (enqueue_slow).
 * - Workers start lazily: a submit starts one when the queue holds more
 *   tasks than there are idle and just-started workers to take them, and
 *   fewer than max_workers exist. A new worker, once up, starts the next
 *   one by the same rule, so a burst of blocking tasks does not make the
 *   submitter create every thread itself. Workers never exit before
 *   shutdown, so a worker's index (0 .. max_workers-1) is never reused,
 *   except a slot whose thread failed to start: the last one handed out is
 *   handed back (started--), one below it becomes a hole that the next
 *   start fills first (started - holes is the count of workers).
 *   While workers can still be started, a worker leaves the idle state
 *   (idle, fresh) in the same mu section in which it takes its task, so the
 *   rule never counts on a worker that is about to be busy; once all are
 *   started, a spinning worker takes its task without mu. A busy worker
 *   pops without mu.
 * - Wakeups: idle workers sleep on ex->work. A submit signals one sleeper,
 *   never broadcasts, and only when no spinning worker will take the task.
 *   sleeping/spinning/waking change under mu but are read by the fast path
 *   without it; the handshake is Dekker's, all seq_cst: the submitter
 *   reserves, then reads the counters; a worker changes its counter, then
 *   looks at q_len. One of the two sees the other. A worker that finds the
 *   queue empty first spins briefly (at most MAX_SPINNERS of them at once,
 *   so an oversubscribed pool does not burn its cores spinning) before
 *   sleeping: back-to-back tiny tasks then cost no futex syscalls, and an
 *   idle pool still sleeps (no polling). The spinner yields its CPU every
 *   SPIN_YIELD_EVERY pauses: on an oversubscribed machine the submitter (or
 *   a task) may be runnable on the same CPU, and a spinner that does not
 *   yield only delays it. A worker about to sleep trims the future cache.
 * - max_queued: every submit goes through mu, so admission is exact; a
 *   blocked submitter counts itself in `blocked`, then looks at q_len; a
 *   worker, after its pop, looks at `blocked` and signals room under mu.
 * - No user code (task, initializer, finalizer, done callback) runs with
 *   ex->mu held, and ex->mu is never held while calling into future.c, so
 *   future.c may call the self-deadlock check (which takes ex->mu) with a
 *   future's lock held. Lock order: a future's lock, then ex->mu, then
 *   the run queue's mu.
 * - Counters that every task touches (running, completed, failed,
 *   cancelled) are per worker, written by that worker alone (a load and a
 *   store, no lock prefix) and summed by weft_executor_stats_get.
 */
#include "cancel-internal.h"
#include "deadlock-internal.h"
#include "executor-pool-internal.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static atomic_uint pool_counter;

/* ------------------------------------------------------------ public */

/* The self-deadlock hook (future-internal.h), for a task of ex about to
 * block on futures only ex's pool can finish. The pool is stuck when no
 * worker is idle or starting, none can start, and every other worker is
 * blocked forever on unfinished futures of ex: nobody is left to run the
 * queued tasks or to finish the running ones. Then the caller gets EDEADLK
 * and its worker goes on; otherwise the caller's record is kept (forever
 * waits only; a timed wait ends by itself) for the callers after it. The
 * last worker to block is the one that sees the whole pool stuck, so a
 * deadlock never goes unreported, and a pool with a worker still busy on
 * other work never reports one. Under mu, so two workers blocking at once
 * see each other. */
static bool owner_check(void *owner, const weft__blocked *b, bool leave)
{
    weft_executor *ex = owner;
    if (weft__pool_self != ex || weft__pool_index < 0)
        return false;
    worker *me = &ex->workers[weft__pool_index];
    weft__lock(&ex->mu);
    bool stuck = false;
    if (leave) {
        if (me->blocked == b)
            me->blocked = NULL;
    } else {
        stuck = !(weft__runq_closed(&ex->rq) & WEFT__RUNQ_BROKEN) && ex->idle == 0 &&
                ex->fresh == 0 && ex->alive >= ex->max_workers;
        for (unsigned i = 0; stuck && i < ex->started; i++) {
            const worker *w = &ex->workers[i];
            if (w != me)
                stuck = w->blocked && weft__blocked_stuck(w->blocked, ex);
        }
        if (!stuck && b->forever && !me->blocked)
            me->blocked = b;
    }
    weft__unlock(&ex->mu);
    return stuck;
}

static unsigned default_workers(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    return n + 4 < 32 ? (unsigned)n + 4 : 32;
}

int weft_executor_new(weft_executor **out, const weft_executor_opts *opts)
{
    static const weft_executor_opts defaults;
    if (!out)
        return EINVAL;
    if (!opts)
        opts = &defaults;
    weft__deadline check; /* the timeout convention: NaN and negatives but FOREVER fail */
    if (weft__deadline_init(&check, opts->submit_timeout) != 0 ||
        (opts->admission != WEFT_ADMIT_BLOCK && opts->admission != WEFT_ADMIT_FAIL) ||
        (opts->stack_size && opts->stack_size < 16384))
        return EINVAL;
    weft_executor *ex = weft__calloc(1, sizeof *ex);
    if (!ex)
        return ENOMEM;
    ex->max_workers = opts->max_workers ? opts->max_workers : default_workers();
    if (opts->thread_name_prefix) {
        ex->prefix = weft__strdup(opts->thread_name_prefix);
    } else {
        char buf[32];
        snprintf(buf, sizeof buf, "weft-pool-%u", atomic_fetch_add(&pool_counter, 1));
        ex->prefix = weft__strdup(buf);
    }
    ex->workers = weft__calloc(ex->max_workers, sizeof *ex->workers);
    if (!ex->prefix || !ex->workers) {
        weft__free(ex->prefix);
        weft__free(ex->workers);
        weft__free(ex);
        return ENOMEM;
    }
    weft__runq_init(&ex->rq);
    /* Adaptive: submitter and workers hold mu for a few instructions, so a
     * short spin beats a futex sleep (measured: see bench-executor.c). */
    pthread_mutexattr_t ma;
    WEFT__CHECK(pthread_mutexattr_init(&ma));
    WEFT__CHECK(pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP));
    WEFT__CHECK(pthread_mutex_init(&ex->mu, &ma));
    WEFT__CHECK(pthread_mutexattr_destroy(&ma));
    weft__cond_init(&ex->work);
    weft__cond_init(&ex->room);
    weft__cond_init(&ex->exit_cv);
    ex->initializer = opts->initializer;
    ex->finalizer = opts->finalizer;
    ex->init_arg = opts->init_arg;
    ex->stack_size = opts->stack_size;
    ex->max_queued = opts->max_queued;
    ex->admission = opts->admission;
    ex->submit_timeout = opts->submit_timeout;
    *out = ex;
    return 0;
}

int weft__executor_task_new(weft_executor *ex, weft_future **out)
{
    return weft__future_new_task(out, NULL, ex, owner_check);
}

/* 0 when a task may be queued now, else why not. */
static int refusal(weft_executor *ex)
{
    uint64_t bits = weft__runq_closed(&ex->rq);
    return bits & WEFT__RUNQ_BROKEN ? WEFT_EBROKEN : bits ? ESHUTDOWN : 0;
}

/* No thread alive or starting: nobody will run what is queued. */
static bool no_thread(const weft_executor *ex)
{
    return ex->alive == 0 && !ex->starting;
}

/* Everything but the fast path: the first thread starts, lazy starts,
 * max_queued admission. Under mu, so admission is exact: with max_queued
 * every push comes here, and workers only ever shorten the queue. */
/* After a thread start failed, or a lock-free submit saw one fail: when no
 * thread is alive or starting, nobody will run f, queued a moment ago, so
 * it is taken back (EAGAIN: nothing scheduled), and any other task left
 * queued fails with EAGAIN. Returns 0 when f stays queued (a worker will
 * run it) or was already taken, by a worker or by that drain. */
static int take_back_if_stranded(weft_executor *ex, weft_future *f)
{
    int rc = 0;
    weft__lock(&ex->mu);
    if (ex->alive == 0 && !ex->starting) {
        if (weft__runq_remove(&ex->rq, weft__future_qnode(f)))
            rc = EAGAIN;
        /* Every task still queued: their submitters returned 0, counting on
         * a start that was in flight (reserve_start does not start another
         * while one is), so nobody would ever run them. Stops as soon as
         * another submitter gets a thread going. */
        weft__pool_drain(ex, no_thread, EAGAIN, "executor: no worker thread could be started");
    }
    weft__unlock(&ex->mu);
    return rc;
}

static int enqueue_slow(weft_executor *ex, weft_future *f, weft_fn *fn, void *arg)
{
    int rc;
    weft__cancel *tok = NULL;
    bool entered = false;
    weft__deadline dl;
    weft__lock(&ex->mu);
    for (;;) {
        if ((rc = refusal(ex)) != 0)
            break;
        if (!ex->max_queued || q_len(ex) < ex->max_queued)
            break;
        if (ex->admission == WEFT_ADMIT_FAIL || ex->submit_timeout == 0) {
            rc = EAGAIN; /* 0 does not block, as a queue's put */
            break;
        }
        if (!entered) {
            /* The cancellation protocol registers before taking mu. */
            weft__unlock(&ex->mu);
            tok = weft__wait_enter(&ex->mu, &ex->room);
            entered = true;
            WEFT__CHECK(weft__deadline_init(&dl, ex->submit_timeout));
            weft__lock(&ex->mu);
            continue;
        }
        if (weft__wait_cancelled(tok)) {
            rc = ECANCELED;
            break;
        }
        /* blocked++ before looking at the queue again (seq_cst): a worker
         * that pops after our look sees us and signals room (signal_room),
         * under mu, which we hold until we sleep. */
        atomic_fetch_add(&ex->blocked, 1);
        int w = 0;
        if (q_len(ex) >= ex->max_queued)
            w = weft__cond_wait(&ex->room, &ex->mu, &dl);
        atomic_fetch_sub(&ex->blocked, 1);
        if (w == ETIMEDOUT && !refusal(ex) && q_len(ex) >= ex->max_queued) {
            rc = ETIMEDOUT;
            break;
        }
    }
    /* A submitter woken for room that leaves without using it (timed out,
     * cancelled) passes the wakeup on to the next one. */
    if (rc && entered && atomic_load(&ex->blocked) && q_len(ex) < ex->max_queued)
        WEFT__CHECK(pthread_cond_signal(&ex->room));
    int start = -1;
    if (rc == 0) {
        rc = weft__runq_push(&ex->rq, f, fn, arg); /* cannot be refused: checked under mu */
        weft__pool_wake_one(ex);
        start = weft__pool_reserve_start(ex, 0);
    }
    weft__unlock(&ex->mu);
    if (entered)
        weft__wait_leave(tok);
    if (start >= 0 && weft__pool_start_worker(ex, (unsigned)start) != 0)
        rc = take_back_if_stranded(ex, f);
    return rc;
}

int weft__executor_enqueue(weft_executor *ex, weft_future *f, weft_fn *fn, void *arg)
{
    /* Fast path, the steady state of an unbounded pool: every worker
     * started, so no lazy-start decision; no admission. No lock unless a
     * sleeper must be woken. The loads follow q_push's reservation
     * (seq_cst): a worker that went to sleep or stopped spinning without
     * seeing our task is seen here (see wait_for_work). */
    if (WEFT__LIKELY(!ex->max_queued &&
                     atomic_load_explicit(&ex->started_hint, memory_order_relaxed) >=
                         ex->max_workers)) {
        int rc = weft__runq_push(&ex->rq, f, fn, arg);
        if (rc == 0) {
            weft__pool_pass_wakeup_on(ex);
            /* The hint fell while we pushed: a thread start failed (the
             * pool's only one, or one below the last). If that left no
             * thread, its submitter's drain (take_back_if_stranded) may have run
             * before our task was in the queue: look again. The hint's
             * store there is seq_cst and comes before that sweep reads the
             * queue; our push comes before this load, so one of the two
             * sees the other. */
            if (WEFT__UNLIKELY(atomic_load(&ex->started_hint) < ex->max_workers))
                rc = take_back_if_stranded(ex, f);
        }
        return rc;
    }
    return enqueue_slow(ex, f, fn, arg);
}

/* Both submits, without a call through the PLT from one to the other. */
static inline int submit(weft_executor *ex, const char *name, weft_fn *fn, void *arg,
                         weft_future **out)
{
    if (!ex || !fn)
        return EINVAL;
    weft_future *f;
    /* An unnamed future comes from the free-future cache; a named one is
     * one allocation with its name inline. */
    int rc = weft__future_new_task(&f, name, ex, owner_check);
    if (rc)
        return rc;
    /* The caller's reference is taken first: once queued, the task may
     * finish and drop the executor's before we return. */
    if (out)
        weft_future_ref(f);
    rc = weft__executor_enqueue(ex, f, fn, arg);
    if (rc) {
        if (out)
            weft_future_unref(f);
        weft_future_unref(f);
        return rc;
    }
    if (out)
        *out = f;
    return 0;
}

int weft_executor_submit(weft_executor *ex, weft_fn *fn, void *arg, weft_future **out)
{
    return submit(ex, NULL, fn, arg, out);
}

int weft_executor_submit_named(weft_executor *ex, const char *name, weft_fn *fn, void *arg,
                               weft_future **out)
{
    return submit(ex, name, fn, arg, out);
}

int weft_executor_shutdown(weft_executor *ex, bool wait, bool cancel_futures)
{
    if (!ex)
        return EINVAL;
    weft__lock(&ex->mu);
    weft__runq_close(&ex->rq, WEFT__RUNQ_SHUTDOWN);
    WEFT__CHECK(pthread_cond_broadcast(&ex->work));
    WEFT__CHECK(pthread_cond_broadcast(&ex->room));
    if (cancel_futures)
        weft__pool_drain(ex, NULL, 0, NULL);
    if (!wait) {
        weft__unlock(&ex->mu);
        return 0;
    }
    if (weft__pool_self == ex) {
        weft__unlock(&ex->mu);
        /* Deadlock detector hook (deadlock.c): say so, not only EDEADLK. */
        weft__dl_report_self("weft_executor_shutdown with wait",
                             "one of the executor's own workers");
        return EDEADLK;
    }
    /* No start can begin after shutdown; wait for those in flight, then one
     * caller joins while any others wait for it. */
    while (ex->starting || ex->joining)
        weft__cond_wait(&ex->exit_cv, &ex->mu, NULL);
    if (!ex->joined) {
        ex->joining = true;
        unsigned n = ex->started;
        weft__unlock(&ex->mu);
        for (unsigned i = 0; i < n; i++)
            if (ex->workers[i].created)
                WEFT__CHECK(pthread_join(ex->workers[i].tid, NULL));
        weft__lock(&ex->mu);
        ex->joining = false;
        ex->joined = true;
        WEFT__CHECK(pthread_cond_broadcast(&ex->exit_cv));
    }
    weft__unlock(&ex->mu);
    return 0;
}

void weft_executor_free(weft_executor *ex)
{
    if (!ex)
        return;
    if (weft__pool_self == ex) {
        /* Waiting would wait on ourselves: the last worker out frees. */
        weft_executor_shutdown(ex, false, false);
        weft__lock(&ex->mu);
        ex->free_on_exit = true;
        weft__unlock(&ex->mu);
        return;
    }
    weft_executor_shutdown(ex, true, false);
    weft__pool_destroy(ex);
}

void weft_executor_stats_get(const weft_executor *cex, weft_executor_stats *out)
{
    weft_executor *ex = (weft_executor *)cex;
    if (!out)
        return;
    if (!ex) {
        *out = (weft_executor_stats){0};
        return;
    }
    weft__lock(&ex->mu);
    out->queued = q_len(ex);
    out->threads_alive = ex->alive;
    out->threads_idle = atomic_load(&ex->idle);
    unsigned n = ex->started;
    weft__unlock(&ex->mu);
    /* The tasks that no worker ran (cancelled at shutdown, failed when the
     * pool broke or no thread could start), then each worker's. */
    out->running = 0;
    out->completed = 0;
    out->failed = atomic_load(&ex->failed);
    out->cancelled = atomic_load(&ex->cancelled);
    for (unsigned i = 0; i < n; i++) {
        const worker *w = &ex->workers[i];
        out->running += atomic_load_explicit(&w->busy, memory_order_relaxed);
        out->completed += atomic_load_explicit(&w->completed, memory_order_relaxed);
        out->failed += atomic_load_explicit(&w->failed, memory_order_relaxed);
        out->cancelled += atomic_load_explicit(&w->cancelled, memory_order_relaxed);
    }
}

unsigned weft_executor_max_workers(const weft_executor *ex)
{
    if (!ex)
        return 0;
    return ex->max_workers;
}

weft_executor *weft_executor_current(void)
{
    return weft__pool_self;
}

int weft_executor_current_worker(void)
{
    return weft__pool_index;
}
