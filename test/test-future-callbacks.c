/* Futures: self-deadlock detection, done callbacks and the unhandled-error
 * rule. */
#include "cancel-internal.h"
#include "test.h"
#include "future-internal.h"

#include <math.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------ deadlock */

static atomic_int check_calls, leave_calls;
static atomic_bool check_answer;
static weft__blocked last_blocked; /* the last record the hook was shown */
static weft_future *last_first;    /* its fs[0], read while it was valid */

static bool owner_check(void *owner, const weft__blocked *b, bool leave)
{
    (void)owner;
    if (leave) {
        atomic_fetch_add(&leave_calls, 1);
        return false;
    }
    last_blocked = *b;
    last_first = b->n ? b->fs[0] : NULL;
    atomic_fetch_add(&check_calls, 1);
    return atomic_load(&check_answer);
}

TEST(result_detects_self_deadlock)
{
    int exec, other_exec;
    weft_future *cur = NULL, *queued = NULL, *foreign = NULL;
    CHECK_OK(weft__future_new_task(&cur, "cur", &exec, owner_check));
    CHECK_OK(weft__future_new_task(&queued, "queued", &exec, owner_check));
    CHECK_OK(weft__future_new_task(&foreign, "foreign", &other_exec, owner_check));
    atomic_store(&check_answer, true);

    /* Not inside a task: never EDEADLK, and no need to ask. */
    CHECK_RC(weft_future_result(queued, 0.01, NULL), ETIMEDOUT);
    CHECK_EQ(atomic_load(&check_calls), 0);

    CHECK(weft__future_begin(cur));
    CHECK_RC(weft_future_result(queued, WEFT_FOREVER, NULL), EDEADLK);
    CHECK(atomic_load(&check_calls) > 0);
    CHECK_EQ(weft_future_state_of(queued), WEFT_FUTURE_PENDING);
    bool done[2];
    weft_future *both[2] = {queued, foreign};
    CHECK_RC(weft_futures_wait(&queued, 1, WEFT_FOREVER, WEFT_ALL_COMPLETED, done), EDEADLK);
    CHECK(!done[0]);
    /* ALL_COMPLETED needs the stuck one; FIRST_COMPLETED could still get
     * the foreign one, so it only times out. */
    CHECK_RC(weft_futures_wait(both, 2, WEFT_FOREVER, WEFT_ALL_COMPLETED, done), EDEADLK);
    CHECK_RC(weft_futures_wait(both, 2, 0.01, WEFT_FIRST_COMPLETED, done), ETIMEDOUT);
    CHECK_RC(weft_futures_wait(&queued, 1, WEFT_FOREVER, WEFT_FIRST_COMPLETED, done), EDEADLK);
    CHECK_RC(weft_futures_wait(&queued, 1, WEFT_FOREVER, WEFT_FIRST_EXCEPTION, done), EDEADLK);
    weft_as_completed *it = NULL;
    weft_future *got = NULL;
    CHECK_OK(weft_as_completed_new(&it, &queued, 1, WEFT_FOREVER));
    CHECK_RC(weft_as_completed_next(it, &got), EDEADLK);
    weft_as_completed_free(it);

    /* The hook was shown what the wait needs, and told when it ended. */
    CHECK(last_blocked.n == 1 && last_first == queued);
    CHECK_EQ(last_blocked.base, 0);
    CHECK(last_blocked.forever);

    /* A foreign executor's future: the pool is not asked; a plain wait. */
    int calls = atomic_load(&check_calls);
    CHECK_RC(weft_future_result(foreign, 0.01, NULL), ETIMEDOUT);
    CHECK_EQ(atomic_load(&check_calls), calls);
    /* The pool says a worker can still run it: wait, and withdraw after. */
    atomic_store(&check_answer, false);
    int leaves = atomic_load(&leave_calls);
    CHECK_RC(weft_future_result(queued, 0.01, NULL), ETIMEDOUT);
    CHECK_EQ(atomic_load(&check_calls), calls + 1);
    CHECK_EQ(atomic_load(&leave_calls), leaves + 1);
    CHECK(!last_blocked.forever);
    /* A running one is asked about too: its worker may be stuck as well. */
    CHECK_OK(weft_future_set_running(queued));
    CHECK_RC(weft_future_result(queued, 0.01, NULL), ETIMEDOUT);
    CHECK_EQ(atomic_load(&check_calls), calls + 2);
    atomic_store(&check_answer, true);
    CHECK_RC(weft_future_result(queued, WEFT_FOREVER, NULL), EDEADLK);
    CHECK_OK(weft_future_set_result(queued, (void *)5));
    void *r = NULL;
    CHECK_OK(weft_future_result(queued, WEFT_FOREVER, &r));
    CHECK(r == (void *)5);

    weft__future_finish(cur, 0, NULL, NULL);
    CHECK_OK(weft_future_cancel(foreign));
    weft_future_unref(cur);
    weft_future_unref(queued);
    weft_future_unref(foreign);
}

/* A task waiting on its own future (the one running on its thread, or an
 * outer one it runs nested in) would wait forever: EDEADLK at once, whether
 * or not it has an executor, like weft_thread_join on oneself. */
TEST(wait_on_own_future_is_edeadlk)
{
    int exec;
    weft_future *outer = NULL, *cur = NULL, *other = NULL;
    CHECK_OK(weft__future_new_task(&outer, "outer", &exec, owner_check));
    CHECK_OK(weft__future_new_task(&cur, "cur", NULL, NULL));
    CHECK_OK(weft__future_new_task(&other, "other", NULL, NULL));
    atomic_store(&check_answer, false);

    CHECK(weft__future_begin(outer));
    CHECK(weft__future_begin(cur));
    CHECK_RC(weft_future_result(cur, WEFT_FOREVER, NULL), EDEADLK);
    CHECK_RC(weft_future_result(outer, WEFT_FOREVER, NULL), EDEADLK);
    CHECK_EQ(weft_future_state_of(cur), WEFT_FUTURE_RUNNING);
    bool done[2];
    CHECK_RC(weft_futures_wait(&cur, 1, WEFT_FOREVER, WEFT_ALL_COMPLETED, done), EDEADLK);
    CHECK(!done[0]);
    CHECK_RC(weft_futures_wait(&outer, 1, WEFT_FOREVER, WEFT_FIRST_COMPLETED, done), EDEADLK);
    /* ALL_COMPLETED needs its own future; FIRST_COMPLETED could still get
     * the other one, so it only times out. */
    weft_future *both[2] = {cur, other};
    CHECK_RC(weft_futures_wait(both, 2, WEFT_FOREVER, WEFT_ALL_COMPLETED, done), EDEADLK);
    CHECK_RC(weft_futures_wait(both, 2, 0.01, WEFT_FIRST_COMPLETED, done), ETIMEDOUT);
    weft_as_completed *it = NULL;
    weft_future *got = NULL;
    CHECK_OK(weft_as_completed_new(&it, &cur, 1, WEFT_FOREVER));
    CHECK_RC(weft_as_completed_next(it, &got), EDEADLK);
    weft_as_completed_free(it);
    /* Another thread's task, or this one's once finished: a normal wait. */
    CHECK_RC(weft_future_result(other, 0.01, NULL), ETIMEDOUT);
    weft__future_finish(cur, 0, (void *)7, NULL);
    void *r = NULL;
    CHECK_OK(weft_future_result(cur, WEFT_FOREVER, &r));
    CHECK(r == (void *)7);
    CHECK_RC(weft_future_result(outer, WEFT_FOREVER, NULL), EDEADLK);
    weft__future_finish(outer, 0, NULL, NULL);
    CHECK_OK(weft_future_result(outer, WEFT_FOREVER, NULL));

    CHECK_OK(weft_future_cancel(other));
    weft_future_unref(outer);
    weft_future_unref(cur);
    weft_future_unref(other);
}

/* The self-deadlock check runs inside the wait's cancellation bracket, and
 * owner_check is the executor's code: if it makes a weft wait of its own (a
 * contended weft_lock, say), that inner wait's weft__wait_leave unregisters
 * the token, and a cancel request that comes once the outer wait sleeps
 * again finds nothing to wake: the interrupt is lost until the timeout. */
static struct {
    weft_future *cur, *awaited;
    hs checked;
    int rc;
    int mode; /* 0: result, 1: futures_wait, 2: as_completed */
} nc;

static bool waiting_owner_check(void *owner, const weft__blocked *b, bool leave)
{
    (void)owner;
    (void)b;
    if (leave)
        return false;
    (void)weft_sleep(0); /* a weft wait inside the check */
    hs_post(&nc.checked);
    return false;
}

static void *wait_in_task_after_check(void *arg)
{
    (void)arg;
    CHECK(weft__future_begin(nc.cur));
    double limit = 3 * test_scale();
    if (nc.mode == 0) {
        nc.rc = weft_future_result(nc.awaited, limit, NULL);
    } else if (nc.mode == 1) {
        nc.rc = weft_futures_wait(&nc.awaited, 1, limit, WEFT_ALL_COMPLETED, NULL);
    } else {
        weft_as_completed *it;
        weft_future *got;
        CHECK_OK(weft_as_completed_new(&it, &nc.awaited, 1, limit));
        nc.rc = weft_as_completed_next(it, &got);
        weft_as_completed_free(it);
    }
    weft__future_finish(nc.cur, 0, NULL, NULL);
    return NULL;
}

TEST_T(interrupt_after_deadlock_check_still_wakes_the_wait, 30)
{
    int exec;
    for (nc.mode = 0; nc.mode < 3; nc.mode++) {
        CHECK_OK(weft__future_new_task(&nc.cur, "cur", &exec, waiting_owner_check));
        CHECK_OK(weft__future_new_task(&nc.awaited, "awaited", &exec, waiting_owner_check));
        hs_init(&nc.checked);
        nc.rc = -1;
        pthread_t th;
        CHECK_OK(pthread_create(&th, NULL, wait_in_task_after_check, NULL));
        hs_wait(&nc.checked); /* the waiter goes back to sleep right after */
        CHECK_RC(weft_future_interrupt(nc.cur), EINPROGRESS);
        pthread_join(th, NULL);
        CHECK_RC(nc.rc, ECANCELED);
        CHECK_OK(weft_future_cancel(nc.awaited));
        weft_future_unref(nc.cur);
        weft_future_unref(nc.awaited);
        hs_destroy(&nc.checked);
    }
}

/* ------------------------------------------------------------ callbacks */

struct cb_log {
    char order[16];
    int n;
    pthread_t thread[16];
    int state_seen;
    int result_rc;
};

static int record(weft_future *f, void *ud, char tag)
{
    struct cb_log *log = ud;
    log->thread[log->n] = pthread_self();
    log->order[log->n++] = tag;
    /* No weft lock is held: these must not deadlock. */
    log->state_seen = weft_future_state_of(f);
    log->result_rc = weft_future_result(f, WEFT_FOREVER, NULL);
    return 0;
}

static int cb_a(weft_future *f, void *ud)
{
    return record(f, ud, 'a');
}

static int cb_b(weft_future *f, void *ud)
{
    return record(f, ud, 'b');
}

static int cb_c(weft_future *f, void *ud)
{
    return record(f, ud, 'c');
}

static void *set_result_thread(void *arg)
{
    CHECK_OK(weft_future_set_result(arg, (void *)1));
    return NULL;
}

TEST(done_callbacks_run_once_in_order)
{
    struct cb_log log = {0};
    weft_future *f = new_future("cb");
    CHECK_OK(weft_future_add_done_callback(f, cb_a, &log));
    CHECK_OK(weft_future_add_done_callback(f, cb_b, &log));
    CHECK_OK(weft_future_add_done_callback(f, cb_c, &log));
    CHECK_EQ(log.n, 0);
    pthread_t th;
    CHECK_OK(pthread_create(&th, NULL, set_result_thread, f));
    pthread_join(th, NULL);
    CHECK_EQ(log.n, 3);
    CHECK(memcmp(log.order, "abc", 3) == 0);
    for (int i = 0; i < 3; i++)
        CHECK(pthread_equal(log.thread[i], th)); /* on the completing thread */
    CHECK_EQ(log.state_seen, WEFT_FUTURE_FINISHED);
    CHECK_RC(log.result_rc, 0);
    /* Already done: runs at once on the caller's thread. */
    CHECK_OK(weft_future_add_done_callback(f, cb_a, &log));
    CHECK_EQ(log.n, 4);
    CHECK(log.order[3] == 'a');
    CHECK(pthread_equal(log.thread[3], pthread_self()));
    /* Completing again does nothing; nothing runs twice. */
    CHECK_RC(weft_future_set_result(f, NULL), EALREADY);
    CHECK_EQ(log.n, 4);
    weft_future_unref(f);
}

TEST(done_callbacks_run_on_cancel)
{
    struct cb_log log = {0};
    weft_future *f = new_future("cb");
    CHECK_OK(weft_future_add_done_callback(f, cb_a, &log));
    CHECK_OK(weft_future_add_done_callback(f, cb_b, &log));
    CHECK_OK(weft_future_cancel(f));
    CHECK_EQ(log.n, 2);
    CHECK(memcmp(log.order, "ab", 2) == 0);
    CHECK_EQ(log.state_seen, WEFT_FUTURE_CANCELLED);
    CHECK_RC(log.result_rc, ECANCELED);
    CHECK_OK(weft_future_cancel(f));
    CHECK_EQ(log.n, 2);
    weft_future_unref(f);
}

TEST(done_callbacks_never_run_for_abandoned_future)
{
    struct cb_log log = {0};
    weft_future *f = new_future(NULL);
    CHECK_OK(weft_future_add_done_callback(f, cb_a, &log));
    weft_future_unref(f); /* freed pending: the node is freed, never run */
    CHECK_EQ(log.n, 0);
}

static int failing_cb(weft_future *f, void *ud)
{
    (void)f;
    (void)ud;
    return weft_fail(EIO, "callback %d broke", 7);
}

TEST(failing_callback_is_reported)
{
    weft_set_error_hook(log_hook, NULL);
    weft_future *f = new_future("fetch-3");
    CHECK_OK(weft_future_add_done_callback(f, failing_cb, NULL));
    CHECK_OK(weft_future_set_result(f, NULL));
    CHECK_EQ(hook_log.calls, 1);
    CHECK_STR(hook_log.who, "done callback of fetch-3");
    CHECK_EQ(hook_log.code, EIO);
    CHECK_STR(hook_log.message, "callback 7 broke");
    weft_future_unref(f); /* succeeded: nothing more to report */
    CHECK_EQ(hook_log.calls, 1);

    f = new_future(NULL);
    CHECK_OK(weft_future_cancel(f));
    CHECK_OK(weft_future_add_done_callback(f, failing_cb, NULL));
    CHECK_EQ(hook_log.calls, 2);
    CHECK_STR(hook_log.who, "done callback of task");
    weft_future_unref(f);
    weft_set_error_hook(NULL, NULL);
}

/* A producer that has set its own failure message (weft_fail) and then
 * completes a future runs the done callbacks on its thread before it returns.
 * The callbacks must not wipe or replace that message: weft_fail promises it
 * is kept until the task returns. */
TEST(callbacks_keep_the_callers_failure_message)
{
    struct cb_log log = {0};
    weft_set_error_hook(log_hook, NULL);
    weft__error_clear();
    weft_future *f = new_future("produced");
    CHECK_OK(weft_future_add_done_callback(f, cb_a, &log));
    CHECK_OK(weft_future_add_done_callback(f, failing_cb, NULL));
    int rc = weft_fail(EIO, "producer failed: %s", "disk gone");
    CHECK_OK(weft_future_set_result(f, NULL)); /* runs both callbacks here */
    CHECK_EQ(log.n, 1);
    CHECK_EQ(hook_log.calls, 1);
    CHECK_STR(hook_log.message, "callback 7 broke");
    char *msg = weft__error_take(rc); /* what a thread or worker runner does */
    CHECK_STR(msg, "producer failed: disk gone");
    weft__free(msg);

    /* Same when the callback runs at once, on an already-done future. */
    rc = weft_fail(EIO, "second failure");
    CHECK_OK(weft_future_add_done_callback(f, failing_cb, NULL));
    CHECK_EQ(hook_log.calls, 2);
    msg = weft__error_take(rc);
    CHECK_STR(msg, "second failure");
    weft__free(msg);
    weft_future_unref(f);
    weft_set_error_hook(NULL, NULL);
}

/* ------------------------------------------------------------ unhandled */

TEST(unread_error_reported_on_last_unref)
{
    weft_set_error_hook(log_hook, NULL);
    weft_future *f = new_future("job-9");
    CHECK_OK(weft_future_set_error(f, EIO, "boom"));
    weft_future_ref(f);
    weft_future_unref(f);
    CHECK_EQ(hook_log.calls, 0); /* not the last reference */
    weft_future_unref(f);
    CHECK_EQ(hook_log.calls, 1);
    CHECK_STR(hook_log.who, "job-9");
    CHECK_EQ(hook_log.code, EIO);
    CHECK_STR(hook_log.message, "boom");

    f = new_future(NULL);
    CHECK_OK(weft_future_set_error(f, ENOENT, NULL));
    weft_future_unref(f);
    CHECK_EQ(hook_log.calls, 2);
    CHECK_STR(hook_log.who, "task");
    CHECK_EQ(hook_log.code, ENOENT);
    CHECK_STR(hook_log.message, weft_strerror(ENOENT));

    /* A broken executor's failure is reported too: nothing is lost. */
    f = new_future("queued");
    CHECK_OK(weft__future_fail_pending(f, WEFT_EBROKEN, NULL));
    weft_future_unref(f);
    CHECK_EQ(hook_log.calls, 3);
    weft_set_error_hook(NULL, NULL);
}

TEST(read_error_not_reported)
{
    weft_set_error_hook(log_hook, NULL);
    weft_future *f = new_future("a");
    CHECK_OK(weft_future_set_error(f, EIO, "boom"));
    CHECK_RC(weft_future_result(f, 0, NULL), WEFT_EFAILED);
    weft_future_unref(f);

    f = new_future("b");
    CHECK_OK(weft_future_set_error(f, EIO, "boom"));
    CHECK_EQ(weft_future_error(f, NULL), EIO);
    weft_future_unref(f);

    f = new_future("c");
    CHECK_OK(weft_future_set_result(f, NULL));
    weft_future_unref(f);
    f = new_future("d");
    CHECK_OK(weft_future_cancel(f));
    weft_future_unref(f);
    f = new_future("e"); /* never completed */
    weft_future_unref(f);
    CHECK_EQ(hook_log.calls, 0);
    weft_set_error_hook(NULL, NULL);
}
