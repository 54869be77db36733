/* executor-workers.c: the executor's workers: the run loop, spinning and
 * sleeping, wakeups, lazy thread starts, breakage by a failed initializer,
 * and the last worker out freeing a pool freed from inside. See the DESIGN
 * at the top of executor.c. */
#include "clock-internal.h"
#include "executor-pool-internal.h"

#include <stdio.h>
#include <string.h>
#include <sched.h>
#include <unistd.h>

_Thread_local weft_executor *weft__pool_self;
_Thread_local int weft__pool_index = -1;

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* The one drain loop of the pool: mu is released while a task is ended, as
 * that runs its done callbacks. */
void weft__pool_drain(weft_executor *ex, bool (*more)(const weft_executor *), int code,
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

void weft__pool_destroy(weft_executor *ex)
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
void weft__pool_wake_one(weft_executor *ex)
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
            weft__pool_pass_wakeup_on(ex);
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

/* With mu held: reserves the next worker index when the queue (plus
 * `extra` tasks about to be queued) holds more tasks than idle and
 * just-started workers can take, and fewer than MAX_STARTING thread
 * creations are in flight; returns it, or -1. Creating a thread costs
 * 70-150 us on a busy VM, so a burst of blocking tasks must not serialise
 * that on the submitter: a new worker starts the next one, while the
 * submitter goes on queueing. */
int weft__pool_reserve_start(weft_executor *ex, size_t extra)
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
    worker *me = &ex->workers[weft__pool_index];
    weft__task it;
    weft__lock(&ex->mu);
    /* Still counted in `fresh` while unlocked here, so nobody starts a
     * thread for the task we are about to take. */
    int next = weft__pool_reserve_start(ex, 0);
    if (next >= 0) {
        weft__unlock(&ex->mu);
        weft__pool_start_worker(ex, (unsigned)next); /* on failure, we are still here */
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
    weft__pool_drain(ex, NULL, WEFT_EBROKEN, text);
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
        weft__pool_destroy(ex);
}

static void *worker_main(void *p)
{
    worker *w = p;
    weft_executor *ex = w->ex;
    unsigned index = w->index;
    char name[16]; /* the kernel keeps 15 bytes */
    snprintf(name, sizeof name, "%s_%u", ex->prefix, index);
    pthread_setname_np(pthread_self(), name);
    weft__pool_self = ex;
    weft__pool_index = (int)index;

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
    weft__pool_self = NULL;
    weft__pool_index = -1;
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
int weft__pool_start_worker(weft_executor *ex, unsigned index)
{
    worker *w = &ex->workers[index];
    w->ex = ex;
    w->index = index;
    pthread_attr_t attr;
    WEFT__CHECK(pthread_attr_init(&attr));
    int rc = 0;
    /* 0: the default of new threads at this start (threading.stack_size
     * applies to pool workers too), itself 0 for the system's. */
    size_t stack = ex->stack_size ? ex->stack_size : weft_thread_stack_size();
    if (stack)
        rc = pthread_attr_setstacksize(&attr, stack);
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
        weft__pool_destroy(ex);
        return 0; /* the queue was drained: nothing for the caller to undo */
    }
    return rc;
}
