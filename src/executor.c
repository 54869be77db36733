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
#include "deadlock-internal.h"
#include "executor-internal.h"
#include "runq-internal.h"

#include <stdio.h>
#include <string.h>
#include <sched.h>
#include <unistd.h>

#define SPIN_ROUNDS      4000 /* ~0.4 ms of `pause` on Skylake+, then sleep */
#define SPIN_YIELD_EVERY 16   /* pauses (~90 ns each on Skylake+) between yields */
#define MAX_SPINNERS     1
#define MAX_STARTING     2 /* thread creations in flight at once */

typedef struct worker {
    weft_executor *ex;
    unsigned index;
    bool created; /* tid is valid (pthread_create succeeded) */
    bool hole;    /* its start failed and no later start reused it yet */
    pthread_t tid;
    /* Under mu: what this worker's task is blocked on forever, if it is
     * waiting only for this pool's futures (owner_check). */
    const weft__blocked *blocked;
    /* This worker's task counts, written by it alone and summed by
     * weft_executor_stats_get. Pool-wide atomics were three read-modify-
     * writes per task on a line every worker shares: ~20% of a tiny
     * task's samples at 2 workers. Padded so that no two workers' counts
     * share a line. */
    char pad0[64];
    atomic_size_t busy, completed, failed, cancelled;
    char pad1[64];
} worker;

struct weft_executor {
    weft__runq rq; /* first: its padding keeps both ends on their own lines */

    pthread_mutex_t mu;
    pthread_cond_t work;    /* idle workers sleep here */
    pthread_cond_t room;    /* submitters blocked on max_queued */
    pthread_cond_t exit_cv; /* thread starts done, workers exited, join done */

    unsigned max_workers;
    unsigned started;         /* indexes handed out */
    unsigned holes;           /* of those, slots whose thread failed to start */
    atomic_uint started_hint; /* started - holes, readable without mu by submit */
    unsigned alive;           /* threads running or being created */
    unsigned fresh;           /* started but not yet in the run loop */
    unsigned starting;        /* pthread_create calls in flight */
    atomic_uint idle;         /* in the run loop without a task */
    /* Changed under mu; read without it by submitters (see DESIGN). */
    atomic_uint sleeping; /* of the idle: asleep on `work` */
    atomic_uint spinning; /* of the idle: spinning */
    atomic_uint waking;   /* sleepers signalled and not yet awake */
    atomic_uint blocked;  /* submitters waiting for room */
    unsigned exited;
    bool joining, joined, free_on_exit; /* closed state: in rq (runq-internal.h) */

    worker *workers; /* max_workers slots */
    char *prefix;
    weft_worker_init_fn *initializer;
    weft_worker_fini_fn *finalizer;
    void *init_arg;
    size_t stack_size;
    size_t max_queued;
    weft_admission admission;
    double submit_timeout;

    /* Tasks no worker ran: cancelled at shutdown, failed when the pool
     * broke or no thread could start. Each worker counts its own. */
    atomic_size_t failed, cancelled;
};

static _Thread_local weft_executor *tls_ex;
static _Thread_local int tls_index = -1;
static atomic_uint pool_counter;

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Tasks queued (see weft__runq_len). */
static inline size_t q_len(weft_executor *ex)
{
    return weft__runq_len(&ex->rq);
}

/* Shut down or broken: the pool takes no more work. Stored only in the run
 * queue's word, so that a submit's reservation sees it atomically. */
static inline bool closed(weft_executor *ex)
{
    return weft__runq_closed(&ex->rq) != 0;
}

/* With mu held: takes queued tasks one at a time, while more(ex) says so
 * (NULL: until the queue is empty), and ends each without running it: code
 * 0 cancels it (shutdown's cancel_futures), another code fails it with that
 * code and `text` (a broken pool, a pool with no thread). mu is released
 * while a task is ended, as that runs its done callbacks. Returns with mu
 * held. The one drain loop of the pool. */
static void drain(weft_executor *ex, bool (*more)(const weft_executor *), int code,
                  const char *text)
{
    weft__task it;
    while ((!more || more(ex)) && weft__runq_take(&ex->rq, &it)) {
        weft__unlock(&ex->mu);
        if (code != 0 && weft__future_fail_pending(it.f, code, text) == 0) {
            atomic_fetch_add_explicit(&ex->failed, 1, memory_order_relaxed);
        } else {
            /* Cancelled now, or by its owner while it was queued. */
            weft_future_cancel(it.f);
            atomic_fetch_add_explicit(&ex->cancelled, 1, memory_order_relaxed);
        }
        weft_future_unref(it.f);
        weft__lock(&ex->mu);
    }
}

/* After a pop: a submitter blocked on max_queued may go on (seq_cst: the
 * other side of the submitter's blocked++ then q_len). */
static void signal_room(weft_executor *ex)
{
    if (WEFT__UNLIKELY(atomic_load(&ex->blocked))) {
        weft__lock(&ex->mu);
        WEFT__CHECK(pthread_cond_signal(&ex->room));
        weft__unlock(&ex->mu);
    }
}

/* ------------------------------------------------------------ workers */

static void destroy(weft_executor *ex)
{
    WEFT__CHECK(pthread_cond_destroy(&ex->work));
    WEFT__CHECK(pthread_cond_destroy(&ex->room));
    WEFT__CHECK(pthread_cond_destroy(&ex->exit_cv));
    WEFT__CHECK(pthread_mutex_destroy(&ex->mu));
    weft__runq_destroy(&ex->rq);
    weft__free(ex->workers);
    weft__free(ex->prefix);
    weft__free(ex);
}

/* One more in a count that only the calling worker writes: no lock prefix. */
static inline void bump(atomic_size_t *c)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

static void run_item(worker *w, const weft__task *it)
{
    weft_future *f = it->f;
    if (!weft__future_begin(f)) {
        bump(&w->cancelled);
        weft_future_unref(f);
        return;
    }
    atomic_store_explicit(&w->busy, 1, memory_order_relaxed);
    weft__error_clear();
    void *result = NULL;
    int rc = it->fn(it->arg, &result);
    char *message = rc ? weft__error_take(rc) : NULL;
    /* Counted before finish, so whoever sees the future done also sees it
     * counted. */
    bump(rc ? &w->failed : &w->completed);
    atomic_store_explicit(&w->busy, 0, memory_order_relaxed);
    weft__future_finish_held(f, rc, result, message);
    /* The executor's own reference: for a detached task the last one, and
     * future.c then reports an unread failure to the hook. */
    weft_future_unref(f);
}

/* With mu held: wakes one sleeper if the queue has work that no spinning or
 * waking worker will take. At most one wakeup is in flight at a time (as Go's
 * scheduler does): a woken worker that finds more work wakes the next, so
 * the pool ramps up as fast as the backlog needs, and tiny tasks that the
 * running workers keep up with cost no futex calls at all. */
static void wake_one(weft_executor *ex)
{
    if (q_len(ex) && atomic_load(&ex->sleeping) > atomic_load(&ex->waking) &&
        !atomic_load(&ex->spinning) && !atomic_load(&ex->waking)) {
        atomic_fetch_add(&ex->waking, 1);
        WEFT__CHECK(pthread_cond_signal(&ex->work));
    }
}

/* With mu held, by a worker that slept and has just taken a task: passes
 * the wakeup on to up to two more sleepers while the queue holds more tasks
 * than there are wakeups in flight. Each woken worker doing the same wakes
 * a burst's sleepers in log2(n) hops of wakeup latency instead of n (one
 * hop is a futex wake plus a scheduling delay, 10-30 us on the 2-core VM).
 * Counts the wakeups under mu and returns how many to signal: the caller
 * signals after unlocking, so that the woken do not queue up behind our
 * futex calls for mu (a woken worker reacquires mu on its way out of the
 * wait). Measured, 2,000 x 10 ms on a warm pool of 200: the last worker's
 * first task started 3-6 ms after the burst began with one wakeup in
 * flight, 1.8-3.4 ms with the fan-out. Tiny tasks keep
 * the one-in-flight rule at the submitter (wake_one), so a pool whose
 * running workers keep up wakes nobody. */
static unsigned wake_fanout(weft_executor *ex)
{
    unsigned n = 0;
    for (; n < 2; n++) {
        unsigned waking = atomic_load(&ex->waking);
        if (q_len(ex) <= waking || atomic_load(&ex->sleeping) <= waking)
            break;
        atomic_fetch_add(&ex->waking, 1);
    }
    return n;
}

/* Without mu: wake_one (under mu), when a lock-free look says a sleeper
 * may be needed: someone sleeps, nobody spins or is being woken, and work
 * is queued. The queue is looked at last: the steady state of tiny tasks
 * has a spinner, and then the look costs two loads. */
static void pass_wakeup_on(weft_executor *ex)
{
    if (atomic_load(&ex->sleeping) && !atomic_load(&ex->spinning) && !atomic_load(&ex->waking) &&
        q_len(ex)) {
        weft__lock(&ex->mu);
        wake_one(ex);
        weft__unlock(&ex->mu);
    }
}

/* Called with mu held and the queue seen empty: waits for work, shutdown
 * or breakage. Returns true with the task taken and mu released, false
 * with mu held. Idle (counted in `idle`) from entry until the task is
 * taken, both under mu while the lazy-start rule can still start workers:
 * it never sees a worker as idle that is about to run a task. */
static bool wait_for_work(weft_executor *ex, weft__task *it)
{
    bool have = false;
    atomic_fetch_add(&ex->idle, 1);
    if (atomic_load(&ex->spinning) < MAX_SPINNERS) {
        atomic_fetch_add(&ex->spinning, 1);
        weft__unlock(&ex->mu);
        for (int i = 0; i < SPIN_ROUNDS; i++) {
            if (q_len(ex))
                break;
            cpu_relax();
            /* A submitter waiting in result() may share our CPU: let it
             * (or anyone) run now and then instead of burning a slice. */
            if (i % SPIN_YIELD_EVERY == SPIN_YIELD_EVERY - 1)
                sched_yield();
        }
        if (q_len(ex) &&
            atomic_load_explicit(&ex->started_hint, memory_order_relaxed) >= ex->max_workers &&
            weft__runq_take(&ex->rq, it)) {
            /* Every worker started: no lazy start depends on our being
             * idle, so we took the task without mu, which a submitter
             * timing its round trip would wait for (rtt p50 2 -> 4 us on
             * the 2-core VM when this went through mu). spinning-- after
             * the take, then the look at the queue: as under mu. */
            atomic_fetch_sub(&ex->spinning, 1);
            atomic_fetch_sub(&ex->idle, 1);
            pass_wakeup_on(ex);
            return true;
        }
        weft__lock(&ex->mu);
        /* Before we look again: a submitter that saw us spinning did not
         * wake anyone, so we must see its task now. */
        atomic_fetch_sub(&ex->spinning, 1);
        have = weft__runq_take(&ex->rq, it);
        if (have || closed(ex))
            goto out;
    }
    /* Going to sleep: the pool is idle, so return what a burst left in
     * the future cache (a no-op unless it holds much). Not under mu. */
    weft__unlock(&ex->mu);
    weft__future_cache_trim();
    weft__lock(&ex->mu);
    /* Before looking at the queue (seq_cst): a submitter that finds no
     * sleeper after its reservation will have its task seen here. */
    atomic_fetch_add(&ex->sleeping, 1);
    for (;;) {
        if ((have = weft__runq_take(&ex->rq, it)) || closed(ex))
            break;
        weft__cond_wait(&ex->work, &ex->mu, NULL);
        if (atomic_load(&ex->waking))
            atomic_fetch_sub(&ex->waking, 1);
    }
    atomic_fetch_sub(&ex->sleeping, 1);
out:
    atomic_fetch_sub(&ex->idle, 1);
    if (have) {
        unsigned n = wake_fanout(ex); /* more than we took: pass it on */
        weft__unlock(&ex->mu);
        while (n--)
            WEFT__CHECK(pthread_cond_signal(&ex->work));
    }
    return have;
}

static int start_worker(weft_executor *ex, unsigned index);

/* With mu held: reserves the next worker index when the queue (plus
 * `extra` tasks about to be queued) holds more tasks than idle and
 * just-started workers can take, and fewer than MAX_STARTING thread
 * creations are in flight; returns it, or -1. Creating a thread costs
 * 70-150 us on a busy VM, so a burst of blocking tasks must not serialise
 * that on the submitter: a new worker starts the next one, while the
 * submitter goes on queueing. */
static int reserve_start(weft_executor *ex, size_t extra)
{
    if (closed(ex) || ex->started - ex->holes >= ex->max_workers || ex->starting >= MAX_STARTING ||
        q_len(ex) + extra <= atomic_load(&ex->idle) + ex->fresh)
        return -1;
    ex->alive++;
    ex->fresh++;
    ex->starting++;
    unsigned index;
    if (ex->holes) {
        /* A slot whose start failed while a later one was already handed
         * out: fill it, or the pool would run one worker short for good. */
        for (index = 0; !ex->workers[index].hole; index++)
            ;
        ex->workers[index].hole = false;
        ex->holes--;
    } else {
        index = ex->started++;
    }
    atomic_store_explicit(&ex->started_hint, ex->started - ex->holes, memory_order_relaxed);
    return (int)index;
}

static void run_loop(weft_executor *ex)
{
    worker *me = &ex->workers[tls_index];
    weft__task it;
    weft__lock(&ex->mu);
    /* Still counted in `fresh` while unlocked here, so nobody starts a
     * thread for the task we are about to take. */
    int next = reserve_start(ex, 0);
    if (next >= 0) {
        weft__unlock(&ex->mu);
        start_worker(ex, (unsigned)next); /* on failure, we are still here */
        weft__lock(&ex->mu);
    }
    /* Our first take and fresh-- in one critical section (see wait_for_work). */
    bool have = weft__runq_take(&ex->rq, &it);
    ex->fresh--;
    for (;;) {
        if (!have) {
            if (closed(ex))
                break; /* and the queue is empty */
            if (!wait_for_work(ex, &it))
                continue; /* mu still held */
        } else {
            weft__unlock(&ex->mu);
        }
        /* Busy: pops take the run queue's lock only, never mu. */
        do {
            signal_room(ex);
            run_item(me, &it);
        } while (weft__runq_take(&ex->rq, &it));
        weft__lock(&ex->mu);
        have = weft__runq_take(&ex->rq, &it); /* idle only if still empty under mu */
    }
    weft__unlock(&ex->mu);
}

/* An initializer failed: the executor is broken (Python's BrokenThreadPool).
 * Fails every queued task; later submits see WEFT_EBROKEN. */
static void break_pool(weft_executor *ex, unsigned index, const char *why)
{
    char text[1280];
    snprintf(text, sizeof text, "executor broken: initializer of worker %u failed: %s", index,
             why ? why : "?");
    weft__lock(&ex->mu);
    ex->fresh--;
    weft__runq_close(&ex->rq, WEFT__RUNQ_BROKEN);
    WEFT__CHECK(pthread_cond_broadcast(&ex->work));
    WEFT__CHECK(pthread_cond_broadcast(&ex->room));
    drain(ex, NULL, WEFT_EBROKEN, text);
    weft__unlock(&ex->mu);
}

/* With mu held, after a worker exited or a thread start finished: true when
 * weft_executor_free ran on one of our workers and everything is over.
 * Nobody will join the workers then, so this lets every thread go; the
 * caller frees ex after unlocking. */
static bool last_out(weft_executor *ex)
{
    if (!ex->free_on_exit || ex->alive || ex->starting)
        return false;
    for (unsigned i = 0; i < ex->started; i++)
        if (ex->workers[i].created)
            WEFT__CHECK(pthread_detach(ex->workers[i].tid));
    return true;
}

static void worker_exit(weft_executor *ex)
{
    weft__lock(&ex->mu);
    ex->exited++;
    ex->alive--;
    bool last = last_out(ex);
    WEFT__CHECK(pthread_cond_broadcast(&ex->exit_cv));
    weft__unlock(&ex->mu);
    if (last)
        destroy(ex);
}

static void *worker_main(void *p)
{
    worker *w = p;
    weft_executor *ex = w->ex;
    unsigned index = w->index;
    char name[16]; /* the kernel keeps 15 bytes */
    snprintf(name, sizeof name, "%s_%u", ex->prefix, index);
    pthread_setname_np(pthread_self(), name);
    tls_ex = ex;
    tls_index = (int)index;

    bool ok = true;
    if (ex->initializer) {
        weft__error_clear();
        int rc = ex->initializer(ex->init_arg, index);
        if (rc) {
            char *msg = weft__error_take(rc);
            break_pool(ex, index, msg ? msg : weft_strerror(rc));
            weft__free(msg);
            ok = false;
        }
    }
    if (ok) {
        run_loop(ex);
        if (ex->finalizer)
            ex->finalizer(ex->init_arg, index);
    }
    tls_ex = NULL;
    tls_index = -1;
    worker_exit(ex);
    return NULL;
}

static atomic_long start_seq, start_fail_from, start_fail_n;

void weft__start_fail(long from, long n)
{
    atomic_store(&start_fail_n, 0);
    atomic_store(&start_seq, 0);
    atomic_store(&start_fail_from, from);
    atomic_store(&start_fail_n, n);
}

/* An injected failure waits (up to 20 ms) until a later worker index has been
 * handed out, so that it leaves a hole below `started`: the case a real
 * failure reaches only when two starts overlap. */
static bool start_injected_failure(weft_executor *ex, unsigned index)
{
    long n = atomic_load_explicit(&start_fail_n, memory_order_relaxed);
    if (WEFT__LIKELY(n == 0))
        return false;
    long k = atomic_fetch_add(&start_seq, 1) - atomic_load(&start_fail_from);
    if (k < 0 || k >= n)
        return false;
    for (int i = 0; i < 200; i++) {
        weft__lock(&ex->mu);
        bool later = ex->started > index + 1;
        weft__unlock(&ex->mu);
        if (later)
            break;
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    return true;
}

/* Starts the worker whose slot was reserved under mu. Called without mu. */
static int start_worker(weft_executor *ex, unsigned index)
{
    worker *w = &ex->workers[index];
    w->ex = ex;
    w->index = index;
    pthread_attr_t attr;
    WEFT__CHECK(pthread_attr_init(&attr));
    int rc = 0;
    if (ex->stack_size)
        rc = pthread_attr_setstacksize(&attr, ex->stack_size);
    pthread_t tid;
    if (!rc)
        rc = start_injected_failure(ex, index) ? EAGAIN
                                               : pthread_create(&tid, &attr, worker_main, w);
    WEFT__CHECK(pthread_attr_destroy(&attr));
    weft__lock(&ex->mu);
    ex->starting--;
    if (rc == 0) {
        w->tid = tid;
        w->created = true;
    } else {
        ex->alive--;
        ex->fresh--;
        if (index + 1 == ex->started) {
            ex->started--;
        } else {
            w->hole = true;
            ex->holes++;
        }
        /* seq_cst: see the recheck in weft__executor_enqueue's fast path. */
        atomic_store(&ex->started_hint, ex->started - ex->holes);
    }
    /* The new worker may have run a task that freed the pool, and exited,
     * before we got here: then we are the last one out. */
    bool last = last_out(ex);
    WEFT__CHECK(pthread_cond_broadcast(&ex->exit_cv));
    weft__unlock(&ex->mu);
    if (last) {
        destroy(ex);
        return 0; /* the queue was drained: nothing for the caller to undo */
    }
    return rc;
}

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
    if (tls_ex != ex || tls_index < 0)
        return false;
    worker *me = &ex->workers[tls_index];
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
    if (opts->submit_timeout != opts->submit_timeout || opts->submit_timeout < 0 ||
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
        drain(ex, no_thread, EAGAIN, "executor: no worker thread could be started");
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
        if (ex->admission == WEFT_ADMIT_FAIL) {
            rc = EAGAIN;
            break;
        }
        if (!entered) {
            /* The cancellation protocol registers before taking mu. */
            weft__unlock(&ex->mu);
            tok = weft__wait_enter(&ex->mu, &ex->room);
            entered = true;
            WEFT__CHECK(weft__deadline_init(&dl, ex->submit_timeout > 0 ? ex->submit_timeout
                                                                        : WEFT_FOREVER));
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
        wake_one(ex);
        start = reserve_start(ex, 0);
    }
    weft__unlock(&ex->mu);
    if (entered)
        weft__wait_leave(tok);
    if (start >= 0 && start_worker(ex, (unsigned)start) != 0)
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
            pass_wakeup_on(ex);
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

int weft_executor_submit(weft_executor *ex, weft_fn *fn, void *arg, weft_future **out)
{
    if (!ex || !fn)
        return EINVAL;
    weft_future *f;
    int rc = weft__executor_task_new(ex, &f);
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

int weft_executor_shutdown(weft_executor *ex, bool wait, bool cancel_futures)
{
    if (!ex)
        return EINVAL;
    weft__lock(&ex->mu);
    weft__runq_close(&ex->rq, WEFT__RUNQ_SHUTDOWN);
    WEFT__CHECK(pthread_cond_broadcast(&ex->work));
    WEFT__CHECK(pthread_cond_broadcast(&ex->room));
    if (cancel_futures)
        drain(ex, NULL, 0, NULL);
    if (!wait) {
        weft__unlock(&ex->mu);
        return 0;
    }
    if (tls_ex == ex) {
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
    if (tls_ex == ex) {
        /* Waiting would wait on ourselves: the last worker out frees. */
        weft_executor_shutdown(ex, false, false);
        weft__lock(&ex->mu);
        ex->free_on_exit = true;
        weft__unlock(&ex->mu);
        return;
    }
    weft_executor_shutdown(ex, true, false);
    destroy(ex);
}

void weft_executor_stats_get(const weft_executor *cex, weft_executor_stats *out)
{
    weft_executor *ex = (weft_executor *)cex;
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
    return ex->max_workers;
}

weft_executor *weft_executor_current(void)
{
    return tls_ex;
}

int weft_executor_current_worker(void)
{
    return tls_index;
}
