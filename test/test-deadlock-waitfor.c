/* The deadlock detector's wait-for graph: a wait that would never end (a
 * lock held by a thread waiting for our task, a task waiting on its own
 * saturated pool) returns EDEADLK and is reported. */
#include "test.h"
#include "deadlock-internal.h"
#include "future-internal.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

/* The lock the wait-for cases contend on (each makes and frees its own). */
static weft_lock *lc;

/* ------------------------------------------------------------ wait-for graph */

static weft_future *wf_task;
static int wf_rc;

/* Waits until n threads are registered as blocked in the wait-for graph:
 * a handshake on the detector's own state, not a sleep. */
static void wait_blocked(unsigned n)
{
    while (weft__dl_n_blocked() < n)
        sched_yield();
}

/* A "worker" running wf_task, whose task needs lc. */
static void *task_needing_lock(void *arg)
{
    pthread_setname_np(pthread_self(), (const char *)arg);
    CHECK(weft__future_begin(wf_task));
    int rc = weft_lock_acquire(lc, WEFT_FOREVER);
    if (rc == 0)
        CHECK_OK(weft_lock_release(lc));
    wf_rc = rc;
    weft__future_finish(wf_task, rc, NULL, NULL);
    return NULL;
}

TEST(wait_for_cycle_caller_gets_edeadlk)
{
    report_mode();
    CHECK_OK(weft_lock_new_named(&lc, "L"));
    CHECK_OK(weft__future_new_task(&wf_task, "task-1", NULL, NULL));
    CHECK_OK(weft_lock_acquire(lc, WEFT_FOREVER));
    pthread_t t;
    CHECK_OK(pthread_create(&t, NULL, task_needing_lock, "worker-1"));
    wait_blocked(1); /* the task is blocked on L, which we hold */
    CHECK_RC(weft_future_result(wf_task, WEFT_FOREVER, NULL), EDEADLK);
    CHECK_EQ(reports(), 1);
    CHECK(captured_has("wait-for cycle"));
    CHECK(captured_has("for the result of future \"task-1\", whose task runs on thread "
                       "\"worker-1\""));
    CHECK(captured_has("thread \"worker-1\" waits (at "));
    CHECK(captured_has("for lock \"L\", held by thread"));
    /* Backing off resolves it: the task gets the lock and finishes. */
    CHECK_OK(weft_lock_release(lc));
    CHECK_OK(weft_future_result(wf_task, WEFT_FOREVER, NULL));
    CHECK_OK(pthread_join(t, NULL));
    CHECK_OK(wf_rc);
    CHECK_EQ(weft__dl_n_blocked(), 0);
    weft_future_unref(wf_task);
    weft_lock_free(lc);
}

static void *task_needing_lock_late(void *arg)
{
    wait_blocked(1); /* the caller is blocked on our future */
    return task_needing_lock(arg);
}

TEST(wait_for_cycle_task_gets_edeadlk)
{
    report_mode();
    CHECK_OK(weft_lock_new_named(&lc, "L"));
    CHECK_OK(weft__future_new_task(&wf_task, "task-2", NULL, NULL));
    CHECK_OK(weft_lock_acquire(lc, WEFT_FOREVER));
    pthread_t t;
    CHECK_OK(pthread_create(&t, NULL, task_needing_lock_late, "worker-2"));
    /* The task closes the cycle: its acquire fails, so the task fails. */
    CHECK_RC(weft_future_result(wf_task, WEFT_FOREVER, NULL), WEFT_EFAILED);
    CHECK_EQ(weft_future_error(wf_task, NULL), EDEADLK);
    CHECK_OK(pthread_join(t, NULL));
    CHECK_EQ(reports(), 1);
    CHECK(captured_has("returns EDEADLK to thread \"worker-2\""));
    CHECK_OK(weft_lock_release(lc));
    weft_future_unref(wf_task);
    weft_lock_free(lc);
}

TEST(wait_for_chain_without_cycle_not_reported)
{
    report_mode();
    CHECK_OK(weft_lock_new_named(&lc, "L"));
    CHECK_OK(weft__future_new_task(&wf_task, "task-3", NULL, NULL));
    CHECK_OK(weft_lock_acquire(lc, WEFT_FOREVER));
    pthread_t t;
    CHECK_OK(pthread_create(&t, NULL, task_needing_lock, "worker-3"));
    wait_blocked(1);
    /* The task waits for L, held by us; we release it before waiting for
     * the task: a chain, not a cycle. */
    CHECK_OK(weft_lock_release(lc));
    CHECK_OK(weft_future_result(wf_task, WEFT_FOREVER, NULL));
    CHECK_OK(pthread_join(t, NULL));
    CHECK_EQ(reports(), 0);
    weft_future_unref(wf_task);
    weft_lock_free(lc);
}

static bool pool_saturated(void *owner, const weft__blocked *b, bool leave)
{
    (void)owner;
    (void)b;
    return !leave;
}

static int pool_owner;
static weft_future *queued;

/* A task of a (pretend) executor waiting on work queued behind itself. */
static void *pool_task(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "pool-worker");
    weft_future *self;
    CHECK_OK(weft__future_new_task(&self, "outer", &pool_owner, pool_saturated));
    CHECK(weft__future_begin(self));
    wf_rc = weft_future_result(queued, WEFT_FOREVER, NULL);
    weft__future_finish(self, 0, NULL, NULL);
    weft_future_unref(self);
    return NULL;
}

TEST(pool_self_deadlock_reported)
{
    report_mode();
    CHECK_OK(weft__future_new_task(&queued, "inner", &pool_owner, pool_saturated));
    pthread_t t;
    CHECK_OK(pthread_create(&t, NULL, pool_task, NULL));
    CHECK_OK(pthread_join(t, NULL));
    CHECK_RC(wf_rc, EDEADLK);
    CHECK_EQ(reports(), 1);
    CHECK(captured_has("thread \"pool-worker\" (a task) called weft_future_result on future "
                       "\"inner\""));
    CHECK_OK(weft_future_cancel(queued));
    weft_future_unref(queued);
}

/* ------------------------------------------------------------ with the executor */

static weft_executor *ex1;

static int lock_task(void *arg, void **result)
{
    (void)arg;
    (void)result;
    int rc = weft_lock_acquire(lc, WEFT_FOREVER);
    if (rc == 0)
        weft_lock_release(lc);
    return rc;
}

TEST(executor_task_needing_a_held_lock_is_edeadlk)
{
    report_mode();
    weft_executor_opts o = {.max_workers = 1, .thread_name_prefix = "pool"};
    CHECK_OK(weft_executor_new(&ex1, &o));
    CHECK_OK(weft_lock_new_named(&lc, "L"));
    CHECK_OK(weft_lock_acquire(lc, WEFT_FOREVER));
    weft_future *f;
    CHECK_OK(weft_executor_submit(ex1, lock_task, NULL, &f));
    wait_blocked(1); /* the task waits for L */
    CHECK_RC(weft_future_result(f, WEFT_FOREVER, NULL), EDEADLK);
    CHECK_EQ(reports(), 1);
    CHECK(captured_has("wait-for cycle"));
    CHECK(captured_has("whose task runs on thread \"pool"));
    CHECK_OK(weft_lock_release(lc));
    CHECK_OK(weft_future_result(f, WEFT_FOREVER, NULL));
    weft_future_unref(f);
    weft_executor_free(ex1);
    weft_lock_free(lc);
}

static int noop_task(void *arg, void **result)
{
    (void)arg;
    (void)result;
    return 0;
}

/* On a one-worker pool: submits another task and waits for it. */
static int wait_on_own_pool(void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_future *inner;
    int rc = weft_executor_submit(weft_executor_current(), noop_task, NULL, &inner);
    if (rc)
        return rc;
    rc = weft_future_result(inner, WEFT_FOREVER, NULL);
    weft_future_unref(inner);
    return rc;
}

TEST(executor_pool_self_wait_reported)
{
    report_mode();
    weft_executor_opts o = {.max_workers = 1, .thread_name_prefix = "solo"};
    CHECK_OK(weft_executor_new(&ex1, &o));
    weft_future *f;
    CHECK_OK(weft_executor_submit(ex1, wait_on_own_pool, NULL, &f));
    CHECK_RC(weft_future_result(f, WEFT_FOREVER, NULL), WEFT_EFAILED);
    CHECK_EQ(weft_future_error(f, NULL), EDEADLK);
    CHECK_EQ(reports(), 1);
    CHECK(captured_has("called weft_future_result on future"));
    CHECK(captured_has("thread \"solo"));
    weft_future_unref(f);
    weft_executor_free(ex1);
}

static int shutdown_own(void *arg, void **result)
{
    (void)arg;
    (void)result;
    return weft_executor_shutdown(weft_executor_current(), true, false);
}

TEST(executor_shutdown_from_worker_reported)
{
    report_mode();
    CHECK_OK(weft_executor_new(&ex1, NULL));
    weft_future *f;
    CHECK_OK(weft_executor_submit(ex1, shutdown_own, NULL, &f));
    CHECK_RC(weft_future_result(f, WEFT_FOREVER, NULL), WEFT_EFAILED);
    CHECK_EQ(weft_future_error(f, NULL), EDEADLK);
    CHECK_EQ(reports(), 1);
    CHECK(captured_has("called weft_executor_shutdown with wait from one of the executor's own "
                       "workers"));
    weft_future_unref(f);
    weft_executor_free(ex1);
}

static weft_group *grp;

static int group_wait_inside(void *arg, void **result)
{
    (void)arg;
    (void)result;
    return weft_group_wait(grp, WEFT_FOREVER);
}

TEST(group_wait_from_own_task_reported)
{
    report_mode();
    weft_executor_opts o = {.max_workers = 2, .thread_name_prefix = "grp"};
    CHECK_OK(weft_executor_new(&ex1, &o));
    CHECK_OK(weft_group_new(&grp, ex1, NULL));
    CHECK_OK(weft_group_spawn(grp, group_wait_inside, NULL, NULL));
    CHECK_RC(weft_group_wait(grp, WEFT_FOREVER), WEFT_EFAILED);
    CHECK_EQ(weft_group_error(grp, 0, NULL, NULL), EDEADLK);
    CHECK_EQ(reports(), 1);
    CHECK(captured_has("called weft_group_wait from one of the group's own tasks"));
    weft_group_free(grp);
    weft_executor_free(ex1);
}
