/* The executor: submit, worker threads (lazy start, names, initializers)
 * and shutdown. The other topics are in test-executor-*.c. Cancellation
 * tests first fill every worker with a task blocked on a gate (test.h), so
 * later submissions are surely pending. */
#include "test.h"
#include "base-internal.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

/* ------------------------------------------------------------ basics */

TEST(submit_and_result)
{
    weft_executor *ex = pool(2);
    weft_future *f;
    CHECK_OK(weft_executor_submit(ex, twice, (void *)21, &f));
    void *r = NULL;
    CHECK_OK(weft_future_result(f, WEFT_FOREVER, &r));
    CHECK_EQ((intptr_t)r, 42);
    weft_future_unref(f);

    CHECK_OK(weft_executor_submit(ex, fail_io, (void *)7, &f));
    CHECK_RC(weft_future_result(f, WEFT_FOREVER, &r), WEFT_EFAILED);
    const char *msg;
    CHECK_EQ(weft_future_error(f, &msg), EIO);
    CHECK_STR(msg, "task 7 failed");
    weft_future_unref(f);
    CHECK_RC(weft_executor_submit(ex, NULL, NULL, &f), EINVAL);
    weft_executor_free(ex);
}

static int cb_never(weft_future *f, void *ud)
{
    return 0;
}

TEST(null_handles_are_einval_never_a_crash)
{
    /* The rule of weft/common.h, over every call of executor.h, future.h
     * and group.h. */
    CHECK_RC(weft_executor_new(NULL, NULL), EINVAL);
    CHECK_RC(weft_executor_submit(NULL, noop, NULL, NULL), EINVAL);
    CHECK_RC(weft_executor_map(NULL, noop, NULL, 0, WEFT_FOREVER, NULL, NULL), EINVAL);
    CHECK_RC(weft_executor_shutdown(NULL, true, false), EINVAL);
    weft_executor_free(NULL);
    weft_executor_stats st = {.queued = 7};
    weft_executor_stats_get(NULL, &st);
    CHECK_EQ(st.queued, 0);
    CHECK_EQ(weft_executor_max_workers(NULL), 0);
    weft_map *m = NULL;
    CHECK_RC(weft_map_new(&m, NULL, noop, NULL, NULL, WEFT_FOREVER, NULL), EINVAL);
    CHECK_RC(weft_map_next(NULL, 0, NULL, NULL), EINVAL);
    CHECK_RC(weft_map_error(NULL, NULL), EINVAL);
    weft_map_free(NULL);

    CHECK_RC(weft_future_new(NULL, "x"), EINVAL);
    CHECK(weft_future_ref(NULL) == NULL);
    weft_future_unref(NULL);
    CHECK_EQ(weft_future_state_of(NULL), WEFT_FUTURE_PENDING);
    CHECK(!weft_future_cancelled(NULL));
    CHECK(!weft_future_running(NULL));
    CHECK(!weft_future_done(NULL));
    CHECK(weft_future_name(NULL) == NULL);
    CHECK_RC(weft_future_result(NULL, 0, NULL), EINVAL);
    CHECK_RC(weft_future_exception(NULL, 0, NULL, NULL), EINVAL);
    CHECK_RC(weft_future_error(NULL, NULL), EINVAL);
    CHECK_RC(weft_future_cancel(NULL), EINVAL);
    CHECK_RC(weft_future_interrupt(NULL), EINVAL);
    CHECK_RC(weft_future_add_done_callback(NULL, cb_never, NULL), EINVAL);
    CHECK_RC(weft_future_set_running(NULL), EINVAL);
    CHECK_RC(weft_future_set_result(NULL, NULL), EINVAL);
    CHECK_RC(weft_future_set_error(NULL, EIO, NULL), EINVAL);
    weft_future *one[1] = {NULL};
    CHECK_RC(weft_futures_wait(one, 1, 0, WEFT_ALL_COMPLETED, NULL), EINVAL);
    weft_as_completed *it = NULL;
    CHECK_RC(weft_as_completed_new(NULL, NULL, 0, 0), EINVAL);
    CHECK_RC(weft_as_completed_new(&it, one, 1, 0), EINVAL);
    weft_future *f = NULL;
    CHECK_RC(weft_as_completed_next(NULL, &f), EINVAL);
    weft_as_completed_free(NULL);

    weft_group *g = NULL;
    CHECK_RC(weft_group_new(&g, NULL, NULL), EINVAL);
    CHECK_RC(weft_group_spawn(NULL, noop, NULL, NULL), EINVAL);
    CHECK_RC(weft_group_wait(NULL, 0), EINVAL);
    weft_group_cancel(NULL);
    CHECK_EQ(weft_group_error_count(NULL), 0);
    CHECK_RC(weft_group_error(NULL, 0, NULL, NULL), EINVAL);
    weft_group_free(NULL);
}

TEST(default_max_workers)
{
    weft_executor *ex;
    CHECK_OK(weft_executor_new(&ex, NULL));
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned want = n + 4 < 32 ? (unsigned)n + 4 : 32;
    CHECK_EQ(weft_executor_max_workers(ex), want);
    weft_executor_stats st;
    weft_executor_stats_get(ex, &st);
    CHECK_EQ(st.threads_alive, 0); /* nothing starts before work */
    weft_executor_free(ex);
    weft_executor_opts bad = {.submit_timeout = NAN};
    CHECK_RC(weft_executor_new(&ex, &bad), EINVAL);
    bad = (weft_executor_opts){.submit_timeout = -2};
    CHECK_RC(weft_executor_new(&ex, &bad), EINVAL);
    bad = (weft_executor_opts){.submit_timeout = WEFT_FOREVER}; /* the convention: valid */
    CHECK_OK(weft_executor_new(&ex, &bad));
    weft_executor_free(ex);
    bad = (weft_executor_opts){.stack_size = 100};
    CHECK_RC(weft_executor_new(&ex, &bad), EINVAL);
}

TEST(current_outside_and_inside)
{
    CHECK(weft_executor_current() == NULL);
    CHECK_EQ(weft_executor_current_worker(), -1);
    weft_executor *ex = pool(1);
    weft_future *f;
    CHECK_OK(weft_executor_submit(ex, twice, NULL, &f));
    weft_future_unref(f);
    weft_executor_free(ex);
}

static int who_am_i(void *arg, void **result)
{
    *result = weft_executor_current();
    return weft_executor_current_worker() == 0 ? 0 : EINVAL;
}

TEST(current_in_task)
{
    weft_executor *ex = pool(1);
    weft_future *f;
    CHECK_OK(weft_executor_submit(ex, who_am_i, NULL, &f));
    void *r;
    CHECK_OK(weft_future_result(f, WEFT_FOREVER, &r));
    CHECK(r == ex);
    weft_future_unref(f);
    weft_executor_free(ex);
}

/* ------------------------------------------------------------ threads */

TEST(lazy_start_and_reuse)
{
    weft_executor *ex = pool(4);
    weft_executor_stats st;
    weft_future *f;
    CHECK_OK(weft_executor_submit(ex, noop, NULL, &f));
    CHECK_OK(weft_future_result(f, WEFT_FOREVER, NULL));
    weft_future_unref(f);
    wait_idle(ex, 1);
    CHECK_OK(weft_executor_submit(ex, noop, NULL, &f));
    CHECK_OK(weft_future_result(f, WEFT_FOREVER, NULL));
    weft_future_unref(f);
    weft_executor_stats_get(ex, &st);
    CHECK_EQ(st.threads_alive, 1); /* the idle worker was reused */

    /* Two blocked tasks need two workers, not more. */
    gate g;
    gate_init(&g);
    wait_idle(ex, 1);
    weft_future *b1, *b2;
    CHECK_OK(weft_executor_submit(ex, blocker, &g, &b1));
    CHECK_OK(weft_executor_submit(ex, blocker, &g, &b2));
    gate_wait_arrived(&g, 2);
    weft_executor_stats_get(ex, &st);
    CHECK_EQ(st.threads_alive, 2);
    CHECK_EQ(st.running, 2);
    gate_open(&g);
    weft_future_unref(b1);
    weft_future_unref(b2);
    weft_executor_shutdown(ex, true, false);
    weft_executor_stats_get(ex, &st);
    CHECK_EQ(st.threads_alive, 0);
    weft_executor_free(ex);
}

static int read_comm(void *arg, void **result)
{
    char path[64], buf[32] = {0};
    snprintf(path, sizeof path, "/proc/self/task/%d/comm", (int)gettid());
    FILE *fp = fopen(path, "r");
    if (!fp)
        return errno;
    if (!fgets(buf, sizeof buf, fp))
        buf[0] = 0;
    fclose(fp);
    buf[strcspn(buf, "\n")] = 0;
    strcpy(arg, buf);
    return 0;
}

TEST(threads_are_named)
{
    weft_executor_opts o = {.max_workers = 2, .thread_name_prefix = "fetcher"};
    weft_executor *ex;
    CHECK_OK(weft_executor_new(&ex, &o));
    char name[32] = {0};
    weft_future *f;
    CHECK_OK(weft_executor_submit(ex, read_comm, name, &f));
    CHECK_OK(weft_future_result(f, WEFT_FOREVER, NULL));
    weft_future_unref(f);
    CHECK_STR(name, "fetcher_0");
    CHECK(some_thread_named("fetcher_"));
    weft_executor_free(ex);

    /* The kernel keeps 15 bytes: the name is cut, not refused. */
    o.thread_name_prefix = "a-very-long-thread-prefix";
    CHECK_OK(weft_executor_new(&ex, &o));
    CHECK_OK(weft_executor_submit(ex, read_comm, name, &f));
    CHECK_OK(weft_future_result(f, WEFT_FOREVER, NULL));
    weft_future_unref(f);
    CHECK_STR(name, "a-very-long-thr");
    weft_executor_free(ex);

    /* The default prefix. */
    CHECK_OK(weft_executor_new(&ex, NULL));
    CHECK_OK(weft_executor_submit(ex, read_comm, name, &f));
    CHECK_OK(weft_future_result(f, WEFT_FOREVER, NULL));
    weft_future_unref(f);
    CHECK(strncmp(name, "weft-pool-", 10) == 0);
    weft_executor_free(ex);
}

static atomic_uint init_mask, fini_mask;
static atomic_int init_arg_ok;

static int init_fn(void *arg, unsigned index)
{
    if (arg == &init_mask && weft_executor_current() != NULL &&
        weft_executor_current_worker() == (int)index)
        atomic_fetch_add(&init_arg_ok, 1);
    atomic_fetch_or(&init_mask, 1u << index);
    return 0;
}

static void fini_fn(void *arg, unsigned index)
{
    atomic_fetch_or(&fini_mask, 1u << index);
}

TEST(initializer_and_finalizer_per_worker)
{
    weft_executor_opts o = {.max_workers = 3,
                            .initializer = init_fn,
                            .finalizer = fini_fn,
                            .init_arg = &init_mask,
                            .stack_size = 256 * 1024};
    weft_executor *ex;
    CHECK_OK(weft_executor_new(&ex, &o));
    gate g;
    gate_init(&g);
    for (int i = 0; i < 3; i++)
        CHECK_OK(weft_executor_submit(ex, blocker, &g, NULL));
    gate_wait_arrived(&g, 3);
    CHECK_EQ(atomic_load(&init_mask), 7);
    CHECK_EQ(atomic_load(&fini_mask), 0);
    gate_open(&g);
    CHECK_OK(weft_executor_shutdown(ex, true, false));
    CHECK_EQ(atomic_load(&fini_mask), 7);
    CHECK_EQ(atomic_load(&init_arg_ok), 3);
    weft_executor_free(ex);
}

static int init_fails(void *arg, unsigned index)
{
    return weft_fail(EIO, "no database");
}

TEST(initializer_failure_breaks_the_pool)
{
    weft_executor_opts o = {.max_workers = 1, .initializer = init_fails};
    weft_executor *ex;
    CHECK_OK(weft_executor_new(&ex, &o));
    weft_future *f;
    CHECK_OK(weft_executor_submit(ex, noop, NULL, &f)); /* queued before the worker starts */
    CHECK_RC(weft_future_result(f, WEFT_FOREVER, NULL), WEFT_EFAILED);
    const char *msg;
    CHECK_EQ(weft_future_error(f, &msg), WEFT_EBROKEN);
    CHECK_STR(msg, "executor broken: initializer of worker 0 failed: no database");
    weft_future_unref(f);
    weft_future *g = (weft_future *)1;
    CHECK_RC(weft_executor_submit(ex, noop, NULL, &g), WEFT_EBROKEN);
    CHECK(g == (weft_future *)1);
    weft_executor_free(ex);
}

/* ------------------------------------------------------------ shutdown */

static atomic_int spun;

TEST(shutdown_wait_waits_for_everything)
{
    weft_executor *ex = pool(3);
    for (int i = 0; i < 100; i++)
        CHECK_OK(weft_executor_submit(ex, busy_task, &spun, NULL));
    CHECK_OK(weft_executor_shutdown(ex, true, false));
    CHECK_EQ(atomic_load(&spun), 100);
    weft_executor_stats st;
    weft_executor_stats_get(ex, &st);
    CHECK_EQ(st.completed, 100);
    CHECK_EQ(st.threads_alive, 0);
    CHECK_OK(weft_executor_shutdown(ex, true, false)); /* idempotent */
    weft_future *f = (weft_future *)1;
    CHECK_RC(weft_executor_submit(ex, noop, NULL, &f), ESHUTDOWN);
    CHECK(f == (weft_future *)1);
    weft_executor_free(ex);
}

TEST(shutdown_cancel_futures_cancels_pending)
{
    weft_executor *ex = pool(1);
    gate g;
    gate_init(&g);
    weft_future *b, *fs[5];
    CHECK_OK(weft_executor_submit(ex, blocker, &g, &b));
    gate_wait_arrived(&g, 1);
    for (int i = 0; i < 5; i++)
        CHECK_OK(weft_executor_submit(ex, noop, NULL, &fs[i]));
    CHECK_OK(weft_executor_shutdown(ex, false, true));
    for (int i = 0; i < 5; i++) {
        CHECK(weft_future_cancelled(fs[i]));
        CHECK_RC(weft_future_result(fs[i], 0, NULL), ECANCELED);
        weft_future_unref(fs[i]);
    }
    CHECK(weft_future_running(b));
    gate_open(&g);
    CHECK_OK(weft_executor_shutdown(ex, true, false));
    CHECK_OK(weft_future_result(b, 0, NULL));
    weft_future_unref(b);
    weft_executor_stats st;
    weft_executor_stats_get(ex, &st);
    CHECK_EQ(st.completed, 1);
    CHECK_EQ(st.cancelled, 5);
    CHECK_EQ(st.queued, 0);
    weft_executor_free(ex);
}

static int shutdown_self(void *arg, void **result)
{
    return weft_executor_shutdown(weft_executor_current(), true, false);
}

TEST(shutdown_wait_from_worker_is_edeadlk)
{
    weft_executor *ex = pool(2);
    weft_future *f;
    CHECK_OK(weft_executor_submit(ex, shutdown_self, NULL, &f));
    CHECK_RC(weft_future_result(f, WEFT_FOREVER, NULL), WEFT_EFAILED);
    CHECK_EQ(weft_future_error(f, NULL), EDEADLK);
    weft_future_unref(f);
    CHECK_RC(weft_executor_submit(ex, noop, NULL, NULL), ESHUTDOWN); /* it still shut down */
    weft_executor_free(ex);
}

TEST(stack_size_zero_follows_the_thread_default)
{
    /* Python's threading.stack_size applies to pool workers too. */
    size_t want = 512 * 1024;
    CHECK_OK(weft_thread_set_stack_size(want));
    weft_executor *ex = pool(1);
    size_t got = 0;
    weft_future *f;
    CHECK_OK(weft_executor_submit(ex, stack_probe, &got, &f));
    CHECK_OK(weft_future_result(f, WEFT_FOREVER, NULL));
    weft_future_unref(f);
    weft_executor_free(ex);
    CHECK_OK(weft_thread_set_stack_size(0));
    /* Not the system default (8 MiB, or 2 MiB when unlimited); sanitizers
     * such as TSan add their own share on top of the size asked for. */
    CHECK(got >= want);
    CHECK(got < 4 * want);
}
