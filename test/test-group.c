/* Task groups: wait for all, first failure cancels the siblings, every error
 * kept, max_concurrency, cancel, nested spawn, timeouts, EDEADLK, the hook.
 * Handshakes (gates) order everything; nothing sleeps to synchronise. */
#include "test.h"
#include "base-internal.h"

#include <pthread.h>
#include <stdatomic.h>

static atomic_int ran;

static int count(void *arg, void **result)
{
    atomic_fetch_add(&ran, 1);
    return 0;
}

TEST(all_succeed)
{
    weft_executor *ex = pool(4);
    weft_group *g;
    CHECK_OK(weft_group_new(&g, ex, NULL));
    CHECK_OK(weft_group_wait(g, 0)); /* empty */
    weft_future *f;
    CHECK_OK(weft_group_spawn(g, count, NULL, &f));
    for (int i = 0; i < 19; i++)
        CHECK_OK(weft_group_spawn(g, count, NULL, NULL));
    CHECK_OK(weft_group_wait(g, WEFT_FOREVER));
    CHECK_EQ(atomic_load(&ran), 20);
    CHECK_EQ(weft_group_error_count(g), 0);
    CHECK(weft_future_done(f));
    weft_future_unref(f);
    CHECK_RC(weft_group_spawn(g, NULL, NULL, NULL), EINVAL);
    weft_group_free(g);
    weft_executor_free(ex);
}

static gate running_gate, fail_gate;

static int sleeps_until_cancelled(void *arg, void **result)
{
    gate_pass(&running_gate); /* the gate is open: just says "running" */
    return weft_sleep(60);
}

static int fails_on_cue(void *arg, void **result)
{
    gate_pass(&fail_gate);
    return weft_fail(EIO, "sibling %d broke", (int)(intptr_t)arg);
}

TEST(first_failure_cancels_siblings)
{
    gate_init(&running_gate);
    gate_open(&running_gate);
    gate_init(&fail_gate);
    weft_executor *ex = pool(2);
    weft_group *g;
    CHECK_OK(weft_group_new(&g, ex, NULL));
    weft_future *a, *b, *pending[3];
    CHECK_OK(weft_group_spawn(g, sleeps_until_cancelled, NULL, &a));
    CHECK_OK(weft_group_spawn(g, fails_on_cue, (void *)1, &b));
    for (int i = 0; i < 3; i++) /* both workers are taken: these wait */
        CHECK_OK(weft_group_spawn(g, count, NULL, &pending[i]));
    gate_wait_arrived(&running_gate, 1);
    gate_wait_arrived(&fail_gate, 1);
    double t0 = weft_monotonic();
    gate_open(&fail_gate);
    CHECK_RC(weft_group_wait(g, WEFT_FOREVER), WEFT_EFAILED);
    CHECK(weft_monotonic() - t0 < 5); /* the sleeper was interrupted */
    CHECK_EQ(atomic_load(&ran), 0);
    for (int i = 0; i < 3; i++) {
        CHECK(weft_future_cancelled(pending[i]));
        weft_future_unref(pending[i]);
    }
    CHECK_RC(weft_future_result(a, 0, NULL), WEFT_EFAILED);
    CHECK_EQ(weft_future_error(a, NULL), ECANCELED);
    /* Only the real failure is recorded, not the cancelled sibling's echo. */
    CHECK_EQ(weft_group_error_count(g), 1);
    const char *msg;
    void *arg;
    CHECK_EQ(weft_group_error(g, 0, &msg, &arg), EIO);
    CHECK_STR(msg, "sibling 1 broke");
    CHECK(arg == (void *)1);
    CHECK_EQ(weft_group_error(g, 1, NULL, NULL), 0);
    CHECK_RC(weft_group_spawn(g, count, NULL, NULL), ECANCELED);
    weft_future_unref(a);
    weft_future_unref(b);
    weft_group_free(g);
    weft_executor_free(ex);
}

static int fail_odd(void *arg, void **result)
{
    intptr_t i = (intptr_t)arg;
    if (i % 2)
        return weft_fail(EPROTO, "task %d", (int)i);
    return 0;
}

TEST(keep_going_reports_every_error_in_order)
{
    weft_executor *ex = pool(1); /* one worker: failures happen in spawn order */
    weft_group_opts o = {.keep_going = true};
    weft_group *g;
    CHECK_OK(weft_group_new(&g, ex, &o));
    for (intptr_t i = 0; i < 10; i++)
        CHECK_OK(weft_group_spawn(g, fail_odd, (void *)i, NULL));
    CHECK_RC(weft_group_wait(g, WEFT_FOREVER), WEFT_EFAILED);
    CHECK_EQ(weft_group_error_count(g), 5);
    for (size_t k = 0; k < 5; k++) {
        const char *msg;
        void *arg;
        CHECK_EQ(weft_group_error(g, k, &msg, &arg), EPROTO);
        CHECK_EQ((intptr_t)arg, 2 * (intptr_t)k + 1);
        char want[32];
        snprintf(want, sizeof want, "task %d", (int)(2 * k + 1));
        CHECK_STR(msg, want);
    }
    weft_group_free(g);
    weft_executor_free(ex);
}

static atomic_int now_running, max_running;

static int track_concurrency(void *arg, void **result)
{
    int n = atomic_fetch_add(&now_running, 1) + 1;
    int m = atomic_load(&max_running);
    while (n > m && !atomic_compare_exchange_weak(&max_running, &m, n))
        ;
    for (volatile int i = 0; i < 200000; i++)
        ;
    atomic_fetch_sub(&now_running, 1);
    atomic_fetch_add(&ran, 1);
    return 0;
}

TEST(max_concurrency_is_respected)
{
    weft_executor *ex = pool(8);
    weft_group_opts o = {.max_concurrency = 3};
    weft_group *g;
    CHECK_OK(weft_group_new(&g, ex, &o));
    for (int i = 0; i < 30; i++)
        CHECK_OK(weft_group_spawn(g, track_concurrency, NULL, NULL));
    CHECK_OK(weft_group_wait(g, WEFT_FOREVER));
    CHECK_EQ(atomic_load(&ran), 30);
    CHECK(atomic_load(&max_running) <= 3);
    CHECK(atomic_load(&max_running) >= 1);
    weft_group_free(g);
    weft_executor_free(ex);
}

static int fail_now(void *arg, void **result)
{
    return EIO;
}

TEST(failure_cancels_tasks_held_back_by_max_concurrency)
{
    weft_executor *ex = pool(4);
    weft_group_opts o = {.max_concurrency = 1};
    weft_group *g;
    CHECK_OK(weft_group_new(&g, ex, &o));
    gate gt;
    gate_init(&gt);
    weft_future *held[5];
    CHECK_OK(weft_group_spawn(g, blocker, &gt, NULL));
    CHECK_OK(weft_group_spawn(g, fail_now, NULL, NULL));
    for (int i = 0; i < 5; i++)
        CHECK_OK(weft_group_spawn(g, count, NULL, &held[i]));
    gate_open(&gt);
    CHECK_RC(weft_group_wait(g, WEFT_FOREVER), WEFT_EFAILED);
    CHECK_EQ(atomic_load(&ran), 0);
    for (int i = 0; i < 5; i++) {
        CHECK(weft_future_cancelled(held[i]));
        weft_future_unref(held[i]);
    }
    CHECK_EQ(weft_group_error_count(g), 1);
    CHECK_EQ(weft_group_error(g, 0, NULL, NULL), EIO);
    weft_group_free(g);
    weft_executor_free(ex);
}

TEST(cancel_then_spawn_is_ecanceled)
{
    weft_executor *ex = pool(1);
    weft_group *g;
    CHECK_OK(weft_group_new(&g, ex, NULL));
    gate gt;
    gate_init(&gt);
    weft_future *f;
    CHECK_OK(weft_group_spawn(g, blocker, &gt, NULL));
    gate_wait_arrived(&gt, 1);
    CHECK_OK(weft_group_spawn(g, count, NULL, &f));
    weft_group_cancel(g);
    CHECK(weft_future_cancelled(f));
    weft_future *never = (weft_future *)1;
    CHECK_RC(weft_group_spawn(g, count, NULL, &never), ECANCELED);
    CHECK(never == (weft_future *)1);
    gate_open(&gt);
    CHECK_RC(weft_group_wait(g, WEFT_FOREVER), ECANCELED);
    CHECK_EQ(weft_group_error_count(g), 0);
    CHECK_EQ(atomic_load(&ran), 0);
    weft_future_unref(f);
    weft_group_free(g);
    weft_executor_free(ex);
}

static weft_group *nest_group;

static int spawns_children(void *arg, void **result)
{
    atomic_fetch_add(&ran, 1);
    intptr_t depth = (intptr_t)arg;
    if (depth < 3) {
        for (int i = 0; i < 2; i++) {
            int rc = weft_group_spawn(nest_group, spawns_children, (void *)(depth + 1), NULL);
            if (rc)
                return rc;
        }
    }
    return 0;
}

TEST(nested_spawn_from_a_task)
{
    weft_executor *ex = pool(3);
    CHECK_OK(weft_group_new(&nest_group, ex, NULL));
    CHECK_OK(weft_group_spawn(nest_group, spawns_children, (void *)0, NULL));
    CHECK_OK(weft_group_wait(nest_group, WEFT_FOREVER));
    CHECK_EQ(atomic_load(&ran), 1 + 2 + 4 + 8);
    weft_group_free(nest_group);
    weft_executor_free(ex);
}

TEST(wait_timeout)
{
    weft_executor *ex = pool(1);
    weft_group *g;
    CHECK_OK(weft_group_new(&g, ex, NULL));
    gate gt;
    gate_init(&gt);
    CHECK_OK(weft_group_spawn(g, blocker, &gt, NULL));
    double t0 = weft_monotonic();
    CHECK_RC(weft_group_wait(g, 0.05), ETIMEDOUT);
    CHECK(weft_monotonic() - t0 >= 0.05 - 0.001);
    CHECK_RC(weft_group_wait(g, -3), EINVAL);
    gate_open(&gt);
    CHECK_OK(weft_group_wait(g, WEFT_FOREVER));
    weft_group_free(g);
    weft_executor_free(ex);
}

static int waits_on_own_group(void *arg, void **result)
{
    return weft_group_wait(arg, WEFT_FOREVER);
}

TEST(wait_from_own_task_is_edeadlk)
{
    weft_executor *ex = pool(2);
    weft_group *g;
    CHECK_OK(weft_group_new(&g, ex, NULL));
    weft_future *f;
    CHECK_OK(weft_group_spawn(g, waits_on_own_group, g, &f));
    CHECK_RC(weft_group_wait(g, WEFT_FOREVER), WEFT_EFAILED);
    CHECK_EQ(weft_group_error(g, 0, NULL, NULL), EDEADLK);
    weft_future_unref(f);
    weft_group_free(g);
    weft_executor_free(ex);
}

TEST(free_cancels_and_waits)
{
    gate_init(&running_gate);
    gate_open(&running_gate);
    weft_executor *ex = pool(1);
    weft_group *g;
    CHECK_OK(weft_group_new(&g, ex, NULL));
    CHECK_OK(weft_group_spawn(g, sleeps_until_cancelled, NULL, NULL));
    for (int i = 0; i < 5; i++)
        CHECK_OK(weft_group_spawn(g, count, NULL, NULL));
    gate_wait_arrived(&running_gate, 1);
    double t0 = weft_monotonic();
    weft_group_free(g); /* interrupts the sleeper, cancels the rest */
    CHECK(weft_monotonic() - t0 < 5);
    CHECK_EQ(atomic_load(&ran), 0);
    weft_executor_stats st;
    weft_executor_stats_get(ex, &st);
    CHECK_EQ(st.running, 0);
    weft_executor_free(ex);
}

static atomic_int hook_calls, hook_code;

static void count_hook(const char *who, int code, const char *message, void *ud)
{
    atomic_store(&hook_code, code);
    atomic_fetch_add(&hook_calls, 1);
}

TEST(unread_errors_go_to_the_hook_on_free)
{
    weft_set_error_hook(count_hook, NULL);
    weft_executor *ex = pool(1);
    weft_group_opts o = {.keep_going = true};
    weft_group *g;
    CHECK_OK(weft_group_new(&g, ex, &o));
    CHECK_OK(weft_group_spawn(g, fail_now, NULL, NULL));
    CHECK_OK(weft_group_spawn(g, fail_odd, (void *)1, NULL));
    CHECK_RC(weft_group_wait(g, WEFT_FOREVER), WEFT_EFAILED);
    CHECK_EQ(atomic_load(&hook_calls), 0); /* the group owns them */
    CHECK_EQ(weft_group_error(g, 1, NULL, NULL), EPROTO);
    weft_group_free(g);
    CHECK_EQ(atomic_load(&hook_calls), 1); /* only the unread one */
    CHECK_EQ(atomic_load(&hook_code), EIO);
    weft_executor_free(ex);
    weft_set_error_hook(NULL, NULL);
}

TEST(spawn_on_shut_down_executor)
{
    weft_executor *ex = pool(1);
    weft_group *g;
    CHECK_OK(weft_group_new(&g, ex, NULL));
    weft_executor_shutdown(ex, true, false);
    weft_future *f = (weft_future *)1;
    CHECK_RC(weft_group_spawn(g, count, NULL, &f), ESHUTDOWN);
    CHECK(f == (weft_future *)1);
    CHECK_OK(weft_group_wait(g, 0));
    weft_group_free(g);
    weft_executor_free(ex);
}

TEST(new_under_fault_injection)
{
    weft_executor *ex = pool(2);
    weft_group *g;
    int rc;
    for (long n = 0;; n++) {
        weft__alloc_fail_after(n);
        rc = weft_group_new(&g, ex, NULL);
        weft__alloc_fail_reset();
        if (rc == 0)
            break;
        CHECK_RC(rc, ENOMEM);
    }
    for (long n = 0;; n++) {
        weft__alloc_fail_after(n);
        rc = weft_group_spawn(g, count, NULL, NULL);
        weft__alloc_fail_reset();
        if (rc == 0)
            break;
        CHECK_RC(rc, ENOMEM);
        CHECK(n < 100);
    }
    CHECK_OK(weft_group_wait(g, WEFT_FOREVER));
    CHECK_EQ(atomic_load(&ran), 1);
    weft_group_free(g);
    weft_executor_free(ex);
}

static int null_test_task(void *arg, void **result)
{
    return 0;
}

TEST(null_handles)
{
    weft_group *g = NULL;
    CHECK_RC(weft_group_new(NULL, NULL, NULL), EINVAL);
    CHECK_RC(weft_group_new(&g, NULL, NULL), EINVAL);
    CHECK_RC(weft_group_spawn(NULL, null_test_task, NULL, NULL), EINVAL);
    CHECK_RC(weft_group_wait(NULL, 0), EINVAL);
    weft_group_cancel(NULL);
    CHECK_EQ(weft_group_error_count(NULL), 0);
    const char *msg = "x";
    CHECK_RC(weft_group_error(NULL, 0, &msg, NULL), EINVAL);
    weft_group_free(NULL);
}
