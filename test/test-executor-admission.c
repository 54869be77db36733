/* The executor: admission (max_queued), self-deadlock, cooperative cancel,
 * counters and the unhandled-error hook. Cancellation tests first fill every
 * worker with a task blocked on a gate (test.h). */
#include "test.h"
#include "base-internal.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

/* ------------------------------------------------------------ admission */

TEST(admission_fail_is_eagain)
{
    weft_executor_opts o = {.max_workers = 1, .max_queued = 2, .admission = WEFT_ADMIT_FAIL};
    weft_executor *ex;
    CHECK_OK(weft_executor_new(&ex, &o));
    gate g;
    gate_init(&g);
    CHECK_OK(weft_executor_submit(ex, blocker, &g, NULL));
    gate_wait_arrived(&g, 1);
    CHECK_OK(weft_executor_submit(ex, noop, NULL, NULL));
    CHECK_OK(weft_executor_submit(ex, noop, NULL, NULL));
    weft_future *f = (weft_future *)1;
    CHECK_RC(weft_executor_submit(ex, noop, NULL, &f), EAGAIN);
    CHECK(f == (weft_future *)1);
    gate_open(&g);
    weft_executor_shutdown(ex, true, false);
    weft_executor_stats st;
    weft_executor_stats_get(ex, &st);
    CHECK_EQ(st.completed, 3);
    weft_executor_free(ex);
}

TEST(admission_block_with_zero_timeout_does_not_block)
{
    /* The common convention: 0 does not block (it used to mean "no limit"). */
    weft_executor_opts o = {.max_workers = 1, .max_queued = 1, .submit_timeout = 0};
    weft_executor *ex;
    CHECK_OK(weft_executor_new(&ex, &o));
    gate g;
    gate_init(&g);
    CHECK_OK(weft_executor_submit(ex, blocker, &g, NULL));
    gate_wait_arrived(&g, 1);
    CHECK_OK(weft_executor_submit(ex, noop, NULL, NULL));
    CHECK_RC(weft_executor_submit(ex, noop, NULL, NULL), EAGAIN);
    gate_open(&g);
    weft_executor_shutdown(ex, true, false);
    weft_executor_stats st;
    weft_executor_stats_get(ex, &st);
    CHECK_EQ(st.completed, 2); /* the refused one never ran */
    weft_executor_free(ex);
}

TEST(admission_block_times_out)
{
    weft_executor_opts o = {.max_workers = 1, .max_queued = 1, .submit_timeout = 0.05};
    weft_executor *ex;
    CHECK_OK(weft_executor_new(&ex, &o));
    gate g;
    gate_init(&g);
    CHECK_OK(weft_executor_submit(ex, blocker, &g, NULL));
    gate_wait_arrived(&g, 1);
    CHECK_OK(weft_executor_submit(ex, noop, NULL, NULL));
    double t0 = weft_monotonic();
    CHECK_RC(weft_executor_submit(ex, noop, NULL, NULL), ETIMEDOUT);
    CHECK(weft_monotonic() - t0 >= 0.05 - 0.001);
    gate_open(&g);
    weft_executor_free(ex);
}

typedef struct submitter {
    weft_executor *ex;
    int rc;
} submitter;

static void *submit_thread(void *p)
{
    submitter *s = p;
    s->rc = weft_executor_submit(s->ex, noop, NULL, NULL);
    return NULL;
}

TEST(admission_block_waits_for_room)
{
    weft_executor_opts o = {.max_workers = 1, .max_queued = 1, .submit_timeout = WEFT_FOREVER};
    weft_executor *ex;
    CHECK_OK(weft_executor_new(&ex, &o));
    gate g;
    gate_init(&g);
    CHECK_OK(weft_executor_submit(ex, blocker, &g, NULL));
    gate_wait_arrived(&g, 1);
    CHECK_OK(weft_executor_submit(ex, noop, NULL, NULL));
    submitter s = {ex, -1};
    pthread_t t;
    pthread_create(&t, NULL, submit_thread, &s);
    gate_open(&g); /* room appears whether or not it is blocked yet */
    pthread_join(t, NULL);
    CHECK_OK(s.rc);
    weft_executor_shutdown(ex, true, false);
    weft_executor_stats st;
    weft_executor_stats_get(ex, &st);
    CHECK_EQ(st.completed, 3);
    weft_executor_free(ex);
}

/* submit_into arrives here before it submits. */
static gate to_gate;

static int submit_into(void *arg, void **result)
{
    gate_arrive(&to_gate);
    return weft_executor_submit(arg, noop, NULL, NULL);
}

TEST(admission_block_is_cancellable)
{
    gate_init(&to_gate);
    weft_executor_opts o = {.max_workers = 1, .max_queued = 1, .submit_timeout = WEFT_FOREVER};
    weft_executor *full;
    CHECK_OK(weft_executor_new(&full, &o));
    gate g;
    gate_init(&g);
    CHECK_OK(weft_executor_submit(full, blocker, &g, NULL));
    gate_wait_arrived(&g, 1);
    CHECK_OK(weft_executor_submit(full, noop, NULL, NULL));
    weft_executor *other = pool(1);
    weft_future *f;
    CHECK_OK(weft_executor_submit(other, submit_into, full, &f));
    gate_wait_arrived(&to_gate, 1);
    int rc = weft_future_interrupt(f);
    CHECK(rc == EINPROGRESS || rc == EALREADY);
    CHECK_RC(weft_future_result(f, WEFT_FOREVER, NULL), WEFT_EFAILED);
    CHECK_EQ(weft_future_error(f, NULL), ECANCELED);
    weft_future_unref(f);
    gate_open(&g);
    weft_executor_free(other);
    weft_executor_free(full);
}

/* A burst as wide as the pool, on workers that went idle: every sleeping
 * worker must be woken (the wakeup is passed on from worker to worker), or
 * the tasks, which all meet at one barrier, never get past it. */
static pthread_barrier_t burst_barrier;

static int meet_burst(void *arg, void **result)
{
    pthread_barrier_wait(&burst_barrier);
    return 0;
}

TEST(burst_on_an_idle_pool_wakes_every_worker)
{
    enum { N = 24 };
    weft_executor *ex = pool(N);
    for (int round = 0; round < 5; round++) {
        CHECK_OK(pthread_barrier_init(&burst_barrier, NULL, N));
        weft_future *fs[N];
        for (int i = 0; i < N; i++)
            CHECK_OK(weft_executor_submit(ex, meet_burst, NULL, &fs[i]));
        for (int i = 0; i < N; i++) {
            CHECK_OK(weft_future_result(fs[i], WEFT_FOREVER, NULL));
            weft_future_unref(fs[i]);
        }
        CHECK_OK(pthread_barrier_destroy(&burst_barrier));
        weft_executor_stats st;
        weft_executor_stats_get(ex, &st);
        CHECK_EQ(st.threads_alive, N);
    }
    weft_executor_free(ex);
}

/* A task whose only reference is the executor's completes without its lock
 * (weft__future_finish_held); whatever else was left on it must still
 * happen: a detached failure reaches the hook, and a done callback added by
 * a caller who then let go of the future still runs. */
static struct {
    pthread_mutex_t m;
    int calls;
    int code;
    char message[64];
} sole_log = {PTHREAD_MUTEX_INITIALIZER, 0, 0, ""};

static void sole_hook(const char *who, int code, const char *message, void *ud)
{
    pthread_mutex_lock(&sole_log.m);
    sole_log.calls++;
    sole_log.code = code;
    snprintf(sole_log.message, sizeof sole_log.message, "%s", message);
    pthread_mutex_unlock(&sole_log.m);
    gate_arrive(ud);
}

static int fail_with_message(void *arg, void **result)
{
    return weft_fail(EPROTO, "detached %d", 7);
}

static int count_done(weft_future *f, void *ud)
{
    gate_arrive(ud);
    return 0;
}

TEST(sole_reference_finish_keeps_reports_and_callbacks)
{
    weft_executor *ex = pool(1);
    gate reported;
    gate_init(&reported);
    weft_set_error_hook(sole_hook, &reported);
    CHECK_OK(weft_executor_submit(ex, fail_with_message, NULL, NULL));
    gate_wait_arrived(&reported, 1);
    weft_set_error_hook(NULL, NULL);
    CHECK_EQ(sole_log.calls, 1);
    CHECK_EQ(sole_log.code, EPROTO);
    CHECK_STR(sole_log.message, "detached 7");

    gate g, called;
    gate_init(&g);
    gate_init(&called);
    weft_future *b, *f;
    CHECK_OK(weft_executor_submit(ex, blocker, &g, &b)); /* holds the one worker */
    CHECK_OK(weft_executor_submit(ex, noop, NULL, &f));
    CHECK_OK(weft_future_add_done_callback(f, count_done, &called));
    weft_future_unref(f); /* the executor's reference is the only one left */
    gate_open(&g);
    gate_wait_arrived(&called, 1);
    CHECK_OK(weft_future_result(b, WEFT_FOREVER, NULL));
    weft_future_unref(b);
    weft_executor_free(ex);
}

/* ------------------------------------------------------------ deadlock, cancel */

static int wait_on_own_pool(void *arg, void **result)
{
    weft_future *inner;
    int rc = weft_executor_submit(weft_executor_current(), noop, NULL, &inner);
    if (rc)
        return rc;
    rc = weft_future_result(inner, WEFT_FOREVER, NULL);
    weft_future_unref(inner);
    return rc;
}

TEST(result_of_own_pending_task_on_saturated_pool_is_edeadlk)
{
    weft_executor *ex = pool(1);
    weft_future *f;
    CHECK_OK(weft_executor_submit(ex, wait_on_own_pool, NULL, &f));
    CHECK_RC(weft_future_result(f, WEFT_FOREVER, NULL), WEFT_EFAILED);
    CHECK_EQ(weft_future_error(f, NULL), EDEADLK);
    weft_future_unref(f);
    weft_executor_free(ex);
}

TEST(result_of_own_task_with_room_is_fine)
{
    weft_executor *ex = pool(2);
    weft_future *f;
    CHECK_OK(weft_executor_submit(ex, wait_on_own_pool, NULL, &f));
    CHECK_OK(weft_future_result(f, WEFT_FOREVER, NULL));
    weft_future_unref(f);
    weft_executor_free(ex);
}

/* The pool is saturated (both workers busy, none can start) but one worker
 * is only blocked on a gate, not on a future: it will come back and run the
 * queued task, so waiting on that task is no deadlock. */
static gate probe_gate;

static int wait_on_own_pool_probing(void *arg, void **result)
{
    weft_future *inner;
    int rc = weft_executor_submit(weft_executor_current(), noop, NULL, &inner);
    if (rc)
        return rc;
    /* EDEADLK here would be the old false positive. */
    rc = weft_future_result(inner, 0.05, NULL);
    if (rc == ETIMEDOUT) {
        gate_arrive(&probe_gate);
        rc = weft_future_result(inner, WEFT_FOREVER, NULL);
    }
    weft_future_unref(inner);
    return rc;
}

TEST(result_of_own_task_while_other_worker_busy_is_no_deadlock)
{
    weft_executor *ex = pool(2);
    gate g;
    gate_init(&g);
    gate_init(&probe_gate);
    weft_future *b, *f;
    CHECK_OK(weft_executor_submit(ex, blocker, &g, &b));
    gate_wait_arrived(&g, 1);
    CHECK_OK(weft_executor_submit(ex, wait_on_own_pool_probing, NULL, &f));
    gate_wait_arrived(&probe_gate, 1);
    gate_open(&g);
    CHECK_OK(weft_future_result(f, WEFT_FOREVER, NULL));
    CHECK_OK(weft_future_result(b, WEFT_FOREVER, NULL));
    weft_future_unref(f);
    weft_future_unref(b);
    weft_executor_free(ex);
}

/* Both workers wait forever on tasks queued behind them: the one that
 * blocks second sees the whole pool stuck and gets EDEADLK; its worker then
 * runs the first one's task, which completes. Exactly one EDEADLK. */
static gate both_gate;

static int meet_then_wait_on_own_pool(void *arg, void **result)
{
    gate_arrive(&both_gate);
    gate_wait_arrived(&both_gate, 2);
    return wait_on_own_pool(arg, result);
}

TEST(second_worker_to_block_on_its_own_pool_gets_edeadlk)
{
    for (int round = 0; round < 20; round++) {
        weft_executor *ex = pool(2);
        gate_init(&both_gate);
        weft_future *a, *b;
        CHECK_OK(weft_executor_submit(ex, meet_then_wait_on_own_pool, NULL, &a));
        CHECK_OK(weft_executor_submit(ex, meet_then_wait_on_own_pool, NULL, &b));
        int ra = weft_future_result(a, WEFT_FOREVER, NULL);
        int rb = weft_future_result(b, WEFT_FOREVER, NULL);
        int ea = ra ? weft_future_error(a, NULL) : 0;
        int eb = rb ? weft_future_error(b, NULL) : 0;
        CHECK((ea == 0 && eb == EDEADLK) || (ea == EDEADLK && eb == 0));
        weft_future_unref(a);
        weft_future_unref(b);
        weft_executor_free(ex);
    }
}

/* A worker in a timed wait comes back by itself: a worker that then waits
 * forever on the same pool is not deadlocked. */
static gate timed_gate;

/* A: once A and B hold both workers, submits a task to its own (now full)
 * pool and probes it with short timed waits. While B is not yet blocked a
 * probe times out; once B waits forever, the pool is stuck and the probe
 * is told EDEADLK. Bounded: 500 probes of 10 ms. */
static int timed_probes_on_own_pool(void *arg, void **result)
{
    gate_arrive(&timed_gate);
    gate_wait_arrived(&timed_gate, 2); /* both workers are taken: A and B */
    weft_future *inner;
    int rc = weft_executor_submit(weft_executor_current(), noop, NULL, &inner);
    if (rc)
        return rc;
    for (int i = 0; i < 500; i++) {
        rc = weft_future_result(inner, 0.01, NULL);
        if (rc != ETIMEDOUT)
            break;
    }
    weft_future_unref(inner);
    return rc;
}

/* B: once A and B hold both workers, waits forever on a task of its own
 * pool. A's timed waits must never make the detector call this wait a
 * deadlock. (Without the rendezvous, B's task could be queued before A's
 * and run while A waits to be started: then nothing is stuck.) */
static int forever_wait_beside_probes(void *arg, void **result)
{
    gate_arrive(&timed_gate);
    gate_wait_arrived(&timed_gate, 2);
    return wait_on_own_pool(arg, result);
}

TEST(forever_wait_beside_a_timed_wait_is_no_deadlock)
{
    weft_executor *ex = pool(2);
    gate_init(&timed_gate);
    weft_future *a, *b;
    CHECK_OK(weft_executor_submit(ex, forever_wait_beside_probes, NULL, &b));
    CHECK_OK(weft_executor_submit(ex, timed_probes_on_own_pool, NULL, &a));
    /* B is never told EDEADLK: a timed wait beside it ends by itself. */
    CHECK_OK(weft_future_result(b, WEFT_FOREVER, NULL));
    /* A, waiting while B waits forever on a full pool, is told: the one
     * outcome the rendezvous and the probes guarantee. */
    CHECK_EQ(weft_future_result(a, WEFT_FOREVER, NULL), WEFT_EFAILED);
    CHECK_EQ(weft_future_error(a, NULL), EDEADLK);
    weft_future_unref(a);
    weft_future_unref(b);
    weft_executor_free(ex);
}

static gate sleep_gate;

static int long_sleep(void *arg, void **result)
{
    gate_arrive(&sleep_gate);
    return weft_sleep(60);
}

TEST(interrupt_running_task)
{
    gate_init(&sleep_gate);
    weft_executor *ex = pool(1);
    weft_future *f;
    CHECK_OK(weft_executor_submit(ex, long_sleep, NULL, &f));
    gate_wait_arrived(&sleep_gate, 1);
    double t0 = weft_monotonic();
    CHECK_RC(weft_future_interrupt(f), EINPROGRESS);
    CHECK_RC(weft_future_result(f, WEFT_FOREVER, NULL), WEFT_EFAILED);
    CHECK_EQ(weft_future_error(f, NULL), ECANCELED);
    CHECK(weft_monotonic() - t0 < 5);
    weft_future_unref(f);
    weft_executor_stats st;
    weft_executor_stats_get(ex, &st);
    CHECK_EQ(st.failed, 1);
    weft_executor_free(ex);
}

TEST(counters_are_consistent)
{
    weft_executor *ex = pool(1);
    gate g;
    gate_init(&g);
    weft_future *b, *c1, *c2;
    CHECK_OK(weft_executor_submit(ex, blocker, &g, &b));
    gate_wait_arrived(&g, 1);
    for (int i = 0; i < 4; i++)
        CHECK_OK(weft_executor_submit(ex, noop, NULL, NULL));
    for (int i = 0; i < 3; i++)
        CHECK_OK(weft_executor_submit(ex, fail_io, NULL, NULL));
    CHECK_OK(weft_executor_submit(ex, noop, NULL, &c1));
    CHECK_OK(weft_executor_submit(ex, noop, NULL, &c2));
    CHECK_OK(weft_future_cancel(c1));
    CHECK_OK(weft_future_cancel(c2));
    weft_executor_stats st;
    weft_executor_stats_get(ex, &st);
    CHECK_EQ(st.queued, 9);
    CHECK_EQ(st.running, 1);
    CHECK_EQ(st.threads_alive, 1);
    CHECK_EQ(st.threads_idle, 0);
    weft_set_error_hook(quiet_hook, NULL); /* the detached failures */
    gate_open(&g);
    CHECK_OK(weft_executor_shutdown(ex, true, false));
    weft_executor_stats_get(ex, &st);
    CHECK_EQ(st.queued, 0);
    CHECK_EQ(st.running, 0);
    CHECK_EQ(st.completed, 5);
    CHECK_EQ(st.failed, 3);
    CHECK_EQ(st.cancelled, 2);
    weft_future_unref(b);
    weft_future_unref(c1);
    weft_future_unref(c2);
    weft_executor_free(ex);
}

typedef struct hook_seen {
    pthread_mutex_t m;
    pthread_cond_t c;
    int calls, code;
    char msg[128];
} hook_seen;

static hook_seen seen = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, ""};

static void record_hook(const char *who, int code, const char *message, void *ud)
{
    pthread_mutex_lock(&seen.m);
    seen.calls++;
    seen.code = code;
    snprintf(seen.msg, sizeof seen.msg, "%s", message);
    pthread_cond_broadcast(&seen.c);
    pthread_mutex_unlock(&seen.m);
}

TEST(detached_failure_goes_to_the_hook)
{
    weft_set_error_hook(record_hook, NULL);
    weft_executor *ex = pool(1);
    CHECK_OK(weft_executor_submit(ex, fail_io, (void *)5, NULL));
    pthread_mutex_lock(&seen.m);
    while (seen.calls == 0)
        pthread_cond_wait(&seen.c, &seen.m);
    pthread_mutex_unlock(&seen.m);
    CHECK_EQ(seen.code, EIO);
    CHECK_STR(seen.msg, "task 5 failed");
    weft_executor_free(ex);
    CHECK_EQ(seen.calls, 1);
    weft_set_error_hook(NULL, NULL);
}

static char seen_who[64];

static void record_who_hook(const char *who, int code, const char *message, void *ud)
{
    pthread_mutex_lock(&seen.m);
    snprintf(seen_who, sizeof seen_who, "%s", who);
    pthread_mutex_unlock(&seen.m);
    record_hook(who, code, message, ud);
}

TEST(named_task_is_named_in_reports)
{
    weft_set_error_hook(record_who_hook, NULL);
    weft_executor *ex = pool(1);
    weft_future *f;
    CHECK_OK(weft_executor_submit_named(ex, "fetch robots.txt", twice, (void *)2, &f));
    CHECK_STR(weft_future_name(f), "fetch robots.txt");
    CHECK_OK(weft_future_result(f, WEFT_FOREVER, NULL));
    weft_future_unref(f);
    /* A detached named task that fails is reported under its name. */
    CHECK_OK(weft_executor_submit_named(ex, "parse page 7", fail_io, (void *)7, NULL));
    pthread_mutex_lock(&seen.m);
    while (seen.calls == 0)
        pthread_cond_wait(&seen.c, &seen.m);
    pthread_mutex_unlock(&seen.m);
    CHECK_STR(seen_who, "parse page 7");
    CHECK_STR(seen.msg, "task 7 failed");
    /* Unnamed: as before. */
    CHECK_OK(weft_executor_submit_named(ex, NULL, twice, (void *)1, &f));
    CHECK(weft_future_name(f) == NULL);
    CHECK_OK(weft_future_result(f, WEFT_FOREVER, NULL));
    weft_future_unref(f);
    CHECK_RC(weft_executor_submit_named(NULL, "x", twice, NULL, NULL), EINVAL);
    weft_executor_free(ex);
    weft_set_error_hook(NULL, NULL);
}

static int free_own_pool(void *arg, void **result)
{
    weft_executor_free(weft_executor_current());
    return 0;
}

TEST(free_from_inside_a_worker)
{
    weft_executor_opts o = {.max_workers = 3, .thread_name_prefix = "selffree"};
    weft_executor *ex;
    CHECK_OK(weft_executor_new(&ex, &o));
    weft_future *f;
    CHECK_OK(weft_executor_submit(ex, free_own_pool, NULL, &f));
    CHECK_OK(weft_future_result(f, WEFT_FOREVER, NULL));
    weft_future_unref(f);
    /* The last worker frees the pool, then exits; wait for it so the leak
     * checker sees the end state. */
    while (some_thread_named("selffree_"))
        sched_yield();
}
