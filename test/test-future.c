/* Futures: states, result/error, cancel/interrupt, done callbacks, the
 * unhandled-error rule, weft_futures_wait, as_completed, self-deadlock
 * detection, fault injection and a concurrent stress. Standalone futures are
 * completed from helper pthreads; every hand-over uses a handshake. */
#include "cancel-internal.h"
#include "test.h"
#include "future-internal.h"

#include <math.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------ helpers */

static weft_future *new_future(const char *name)
{
    weft_future *f = NULL;
    CHECK_OK(weft_future_new(&f, name));
    CHECK(f != NULL);
    return f;
}

/* Captures reports of the unhandled-error hook. */
static struct {
    pthread_mutex_t m;
    int calls;
    char who[128];
    int code;
    char message[128];
} hook_log = {PTHREAD_MUTEX_INITIALIZER, 0, "", 0, ""};

static void hook(const char *who, int code, const char *message, void *ud)
{
    (void)ud;
    pthread_mutex_lock(&hook_log.m);
    hook_log.calls++;
    snprintf(hook_log.who, sizeof hook_log.who, "%s", who);
    hook_log.code = code;
    snprintf(hook_log.message, sizeof hook_log.message, "%s", message);
    pthread_mutex_unlock(&hook_log.m);
}

/* ------------------------------------------------------------ states */

TEST(new_future_is_pending_and_named)
{
    char name[] = "job-1";
    weft_future *f = new_future(name);
    name[0] = 'X'; /* the future keeps its own copy */
    CHECK_STR(weft_future_name(f), "job-1");
    CHECK_EQ(weft_future_state_of(f), WEFT_FUTURE_PENDING);
    CHECK(!weft_future_cancelled(f));
    CHECK(!weft_future_running(f));
    CHECK(!weft_future_done(f));
    CHECK(weft__future_owner(f) == NULL);
    CHECK(weft__future_token(f) != NULL);
    weft_future_unref(f);

    f = new_future(NULL);
    CHECK(weft_future_name(f) == NULL);
    weft_future_unref(f);
    weft_future_unref(NULL);
}

TEST(ref_keeps_future_alive)
{
    weft_future *f = new_future("r");
    CHECK(weft_future_ref(f) == f);
    weft_future_unref(f);
    /* Still usable through the second reference (ASan would catch a free). */
    CHECK_OK(weft_future_set_result(f, (void *)1));
    CHECK(weft_future_done(f));
    weft_future_unref(f);
}

TEST(set_running_then_result)
{
    weft_future *f = new_future("t");
    CHECK_OK(weft_future_set_running(f));
    CHECK_EQ(weft_future_state_of(f), WEFT_FUTURE_RUNNING);
    CHECK(weft_future_running(f));
    CHECK(!weft_future_done(f));
    CHECK_RC(weft_future_set_running(f), EALREADY);
    CHECK_OK(weft_future_set_result(f, (void *)42));
    CHECK_EQ(weft_future_state_of(f), WEFT_FUTURE_FINISHED);
    CHECK(weft_future_done(f));
    CHECK(!weft_future_running(f));
    CHECK(!weft_future_cancelled(f));
    void *r = NULL;
    CHECK_OK(weft_future_result(f, 0, &r));
    CHECK(r == (void *)42);
    CHECK_OK(weft_future_result(f, WEFT_FOREVER, NULL));
    const char *msg = "unset";
    CHECK_EQ(weft_future_error(f, &msg), 0);
    CHECK(msg == NULL);
    CHECK_RC(weft_future_set_result(f, NULL), EALREADY);
    CHECK_RC(weft_future_set_error(f, EIO, "x"), EALREADY);
    CHECK_RC(weft_future_set_running(f), EALREADY);
    CHECK_RC(weft_future_cancel(f), EALREADY);
    CHECK_RC(weft_future_interrupt(f), EALREADY);
    weft_future_unref(f);
}

TEST(set_result_from_pending)
{
    weft_future *f = new_future(NULL);
    CHECK_OK(weft_future_set_result(f, (void *)7));
    void *r = NULL;
    CHECK_OK(weft_future_result(f, 0, &r));
    CHECK(r == (void *)7);
    weft_future_unref(f);
}

TEST(set_error_gives_efailed_code_and_message)
{
    weft_future *f = new_future("e");
    CHECK_RC(weft_future_set_error(f, 0, "no code"), EINVAL);
    CHECK(!weft_future_done(f));
    CHECK_OK(weft_future_set_running(f));
    CHECK_OK(weft_future_set_error(f, EIO, "disk on fire"));
    CHECK_EQ(weft_future_state_of(f), WEFT_FUTURE_FINISHED);
    void *r = (void *)1;
    CHECK_RC(weft_future_result(f, 0, &r), WEFT_EFAILED);
    CHECK(r == (void *)1); /* untouched on failure */
    const char *msg = NULL;
    CHECK_EQ(weft_future_error(f, &msg), EIO);
    CHECK_STR(msg, "disk on fire");
    CHECK_EQ(weft_future_error(f, NULL), EIO);
    CHECK_RC(weft_future_set_result(f, NULL), EALREADY);
    weft_future_unref(f);

    f = new_future("e2");
    CHECK_OK(weft_future_set_error(f, EPIPE, NULL));
    CHECK_EQ(weft_future_error(f, &msg), EPIPE);
    CHECK_STR(msg, weft_strerror(EPIPE));
    weft_future_unref(f);
}

TEST(error_of_unfinished_future_is_zero)
{
    weft_future *f = new_future(NULL);
    const char *msg = "unset";
    CHECK_EQ(weft_future_error(f, &msg), 0);
    CHECK(msg == NULL);
    CHECK_OK(weft_future_cancel(f));
    CHECK_EQ(weft_future_error(f, &msg), 0);
    weft_future_unref(f);
}

TEST(wait_timeout_is_not_task_etimedout)
{
    weft_future *a = new_future("a"), *b = new_future("b");
    CHECK_OK(weft_future_set_error(a, ETIMEDOUT, "upstream timed out"));
    CHECK_RC(weft_future_result(a, 0, NULL), WEFT_EFAILED);
    CHECK_EQ(weft_future_error(a, NULL), ETIMEDOUT);
    CHECK_RC(weft_future_result(b, 0, NULL), ETIMEDOUT);
    CHECK_EQ(weft_future_error(b, NULL), 0);
    CHECK(!weft_future_done(b));
    weft_future_unref(a);
    weft_future_unref(b);
}

TEST(cancel_semantics)
{
    weft_future *f = new_future(NULL);
    CHECK_OK(weft_future_cancel(f));
    CHECK_EQ(weft_future_state_of(f), WEFT_FUTURE_CANCELLED);
    CHECK(weft_future_cancelled(f));
    CHECK(weft_future_done(f));
    CHECK_OK(weft_future_cancel(f)); /* already cancelled: still 0 */
    CHECK_RC(weft_future_set_running(f), ECANCELED);
    CHECK_RC(weft_future_set_result(f, NULL), EALREADY);
    CHECK_RC(weft_future_set_error(f, EIO, NULL), EALREADY);
    CHECK_RC(weft_future_result(f, WEFT_FOREVER, NULL), ECANCELED);
    CHECK_RC(weft_future_interrupt(f), 0);
    weft_future_unref(f);

    f = new_future(NULL);
    CHECK_OK(weft_future_set_running(f));
    CHECK_RC(weft_future_cancel(f), EALREADY);
    CHECK(weft_future_running(f));
    CHECK_OK(weft_future_set_result(f, NULL));
    CHECK_RC(weft_future_cancel(f), EALREADY);
    CHECK(!weft_future_cancelled(f));
    weft_future_unref(f);
}

TEST(interrupt_running_standalone_requests_stop)
{
    weft_future *f = new_future(NULL);
    CHECK_OK(weft_future_set_running(f));
    CHECK(!atomic_load(&weft__future_token(f)->requested));
    CHECK_RC(weft_future_interrupt(f), EINPROGRESS);
    CHECK(atomic_load(&weft__future_token(f)->requested));
    CHECK(weft_future_running(f)); /* cooperative: the producer decides */
    CHECK_OK(weft_future_set_error(f, ECANCELED, NULL));
    CHECK_RC(weft_future_interrupt(f), EALREADY);
    CHECK_EQ(weft_future_error(f, NULL), ECANCELED);
    weft_future_unref(f);
}

TEST(interrupt_pending_cancels)
{
    weft_future *f = new_future(NULL);
    CHECK_OK(weft_future_interrupt(f));
    CHECK(weft_future_cancelled(f));
    CHECK(!weft__future_begin(f));
    CHECK(weft_future_cancelled(f));
    weft_future_unref(f);
}

TEST(begin_finish_drive_a_task)
{
    weft_future *f = NULL;
    int owner;
    CHECK_OK(weft__future_new_task(&f, "task-1", &owner, NULL));
    CHECK(weft__future_owner(f) == &owner);
    CHECK(!weft_cancelled());
    CHECK(weft__future_begin(f));
    CHECK(weft_future_running(f));
    CHECK(weft__cancel_current() == weft__future_token(f));
    CHECK(!weft__future_begin(f)); /* not pending any more */
    char *msg = weft__strdup("ignored on success");
    weft__future_finish(f, 0, (void *)9, msg);
    CHECK(weft__cancel_current() == NULL);
    void *r = NULL;
    CHECK_OK(weft_future_result(f, 0, &r));
    CHECK(r == (void *)9);
    weft_future_unref(f);

    /* A failing task: the message becomes the future's. */
    CHECK_OK(weft__future_new_task(&f, "task-2", &owner, NULL));
    CHECK(weft__future_begin(f));
    weft__future_finish(f, EIO, (void *)9, weft__strdup("read failed"));
    const char *m = NULL;
    CHECK_RC(weft_future_result(f, 0, &r), WEFT_EFAILED);
    CHECK_EQ(weft_future_error(f, &m), EIO);
    CHECK_STR(m, "read failed");
    weft_future_unref(f);

    /* No message (memory was short): weft_strerror stands in. */
    CHECK_OK(weft__future_new_task(&f, NULL, &owner, NULL));
    CHECK(weft__future_begin(f));
    weft__future_finish(f, EPIPE, NULL, NULL);
    CHECK_EQ(weft_future_error(f, &m), EPIPE);
    CHECK_STR(m, weft_strerror(EPIPE));
    weft_future_unref(f);
}

TEST(nested_begin_restores_outer_token)
{
    weft_future *outer = NULL, *inner = NULL;
    CHECK_OK(weft__future_new_task(&outer, NULL, NULL, NULL));
    CHECK_OK(weft__future_new_task(&inner, NULL, NULL, NULL));
    CHECK(weft__future_begin(outer));
    CHECK(weft__future_begin(inner));
    CHECK(weft__cancel_current() == weft__future_token(inner));
    weft__future_finish(inner, 0, NULL, NULL);
    CHECK(weft__cancel_current() == weft__future_token(outer));
    weft__future_finish(outer, 0, NULL, NULL);
    CHECK(weft__cancel_current() == NULL);
    weft_future_unref(inner);
    weft_future_unref(outer);
}

TEST(fail_pending)
{
    weft_future *f = new_future("p");
    CHECK_OK(weft__future_fail_pending(f, WEFT_EBROKEN, "pool broken"));
    const char *m = NULL;
    CHECK_RC(weft_future_result(f, 0, NULL), WEFT_EFAILED);
    CHECK_EQ(weft_future_error(f, &m), WEFT_EBROKEN);
    CHECK_STR(m, "pool broken");
    CHECK_RC(weft__future_fail_pending(f, WEFT_EBROKEN, NULL), EALREADY);
    weft_future_unref(f);

    f = new_future("c");
    CHECK_OK(weft_future_cancel(f));
    CHECK_RC(weft__future_fail_pending(f, WEFT_EBROKEN, NULL), EALREADY);
    CHECK(weft_future_cancelled(f));
    weft_future_unref(f);

    f = new_future("r");
    CHECK_OK(weft_future_set_running(f));
    CHECK_RC(weft__future_fail_pending(f, WEFT_EBROKEN, NULL), EALREADY);
    CHECK(weft_future_running(f));
    CHECK_OK(weft_future_set_result(f, NULL));
    weft_future_unref(f);
}

/* ------------------------------------------------------------ result() */

struct completer {
    weft_future *f;
    hs go;
    int how; /* 0 result, 1 error, 2 cancel */
};

static void *complete_on_go(void *arg)
{
    struct completer *c = arg;
    hs_wait(&c->go);
    if (c->how == 0)
        CHECK_OK(weft_future_set_result(c->f, (void *)123));
    else if (c->how == 1)
        CHECK_OK(weft_future_set_error(c->f, ENOENT, "gone"));
    else
        CHECK_OK(weft_future_cancel(c->f));
    return NULL;
}

static void result_from_thread(int how, int want)
{
    struct completer c = {.f = new_future("w"), .how = how};
    hs_init(&c.go);
    pthread_t th;
    CHECK_OK(pthread_create(&th, NULL, complete_on_go, &c));
    hs_post(&c.go);
    void *r = NULL;
    CHECK_RC(weft_future_result(c.f, WEFT_FOREVER, &r), want);
    if (want == 0)
        CHECK(r == (void *)123);
    if (want == WEFT_EFAILED)
        CHECK_EQ(weft_future_error(c.f, NULL), ENOENT);
    if (want == ECANCELED)
        CHECK(weft_future_cancelled(c.f));
    pthread_join(th, NULL);
    weft_future_unref(c.f);
    hs_destroy(&c.go);
}

TEST(result_waits_for_success)
{
    result_from_thread(0, 0);
}

TEST(result_waits_for_failure)
{
    result_from_thread(1, WEFT_EFAILED);
}

TEST(result_waits_for_cancel)
{
    result_from_thread(2, ECANCELED);
}

TEST(result_timeout_not_early)
{
    weft_future *f = new_future(NULL);
    double t0 = weft_monotonic();
    CHECK_RC(weft_future_result(f, 0.1, NULL), ETIMEDOUT);
    CHECK(weft_monotonic() - t0 >= 0.1 - 1e-3);
    CHECK_EQ(weft_future_state_of(f), WEFT_FUTURE_PENDING);
    CHECK_RC(weft_future_result(f, 0, NULL), ETIMEDOUT);
    CHECK_OK(weft_future_set_running(f));
    CHECK_RC(weft_future_result(f, 0.01, NULL), ETIMEDOUT);
    CHECK(weft_future_running(f));
    CHECK_OK(weft_future_set_result(f, NULL));
    weft_future_unref(f);
}

/* exception(timeout) waits as result(timeout) does, then gives the code. */
struct exc_waiter {
    weft_future *f;
    hs ready;
    int rc, code;
    const char *msg;
    bool done_at_return;
};

static void *exception_forever(void *arg)
{
    struct exc_waiter *w = arg;
    hs_post(&w->ready);
    w->rc = weft_future_exception(w->f, WEFT_FOREVER, &w->code, &w->msg);
    w->done_at_return = weft_future_done(w->f);
    return NULL;
}

static void exception_from_thread(int how, int want_rc, int want_code)
{
    struct exc_waiter w = {.f = new_future("exc"), .code = -1};
    hs_init(&w.ready);
    pthread_t th;
    CHECK_OK(pthread_create(&th, NULL, exception_forever, &w));
    hs_wait(&w.ready);
    if (how == 0)
        CHECK_OK(weft_future_set_result(w.f, (void *)1));
    else if (how == 1)
        CHECK_OK(weft_future_set_error(w.f, ETIMEDOUT, "slow peer"));
    else
        CHECK_OK(weft_future_cancel(w.f));
    CHECK_OK(pthread_join(th, NULL));
    CHECK_RC(w.rc, want_rc);
    CHECK(w.done_at_return);
    if (want_rc == 0) {
        CHECK_EQ(w.code, want_code);
        if (want_code)
            CHECK_STR(w.msg, "slow peer");
        else
            CHECK(w.msg == NULL);
    } else {
        CHECK_EQ(w.code, -1); /* untouched */
    }
    hook_log.calls = 0;
    weft_set_error_hook(hook, NULL);
    weft_future_unref(w.f); /* the error was read: no report */
    CHECK_EQ(hook_log.calls, 0);
    hs_destroy(&w.ready);
}

TEST(exception_waits_for_success)
{
    exception_from_thread(0, 0, 0);
}

TEST(exception_waits_for_failure_and_marks_it_read)
{
    /* The task's ETIMEDOUT is a code, never the wait's ETIMEDOUT. */
    exception_from_thread(1, 0, ETIMEDOUT);
}

TEST(exception_of_cancelled_future_is_ecanceled)
{
    exception_from_thread(2, ECANCELED, 0);
}

TEST(exception_timeout_not_early_and_arguments)
{
    weft_future *f = new_future(NULL);
    int code = -1;
    const char *msg = "untouched";
    double t0 = weft_monotonic();
    CHECK_RC(weft_future_exception(f, 0.1, &code, &msg), ETIMEDOUT);
    CHECK(weft_monotonic() - t0 >= 0.1 - 1e-3);
    CHECK_RC(weft_future_exception(f, 0, &code, &msg), ETIMEDOUT);
    CHECK_EQ(code, -1);
    CHECK_STR(msg, "untouched");
    CHECK_RC(weft_future_exception(f, NAN, &code, &msg), EINVAL);
    CHECK_RC(weft_future_exception(f, -2, &code, &msg), EINVAL);
    CHECK_RC(weft_future_exception(NULL, 0, &code, &msg), EINVAL);
    CHECK_OK(weft_future_set_error(f, EIO, NULL));
    CHECK_OK(weft_future_exception(f, 0, NULL, NULL)); /* both outputs optional */
    CHECK_OK(weft_future_exception(f, 0, &code, &msg));
    CHECK_EQ(code, EIO);
    CHECK_STR(msg, weft_strerror(EIO));
    weft_future_unref(f);
}

TEST(result_rejects_bad_timeout)
{
    weft_future *f = new_future(NULL);
    CHECK_RC(weft_future_result(f, NAN, NULL), EINVAL);
    CHECK_RC(weft_future_result(f, -0.5, NULL), EINVAL);
    CHECK_OK(weft_future_set_result(f, NULL));
    CHECK_RC(weft_future_result(f, NAN, NULL), EINVAL);
    weft_future_unref(f);
}

/* A "task" on its own thread: waits on `target` while its own task future
 * is interrupted. The future it waits on must not be cancelled. */
struct waiting_task {
    weft_future *task, *target;
    hs started;
    int rc;
};

static void *wait_inside_task(void *arg)
{
    struct waiting_task *t = arg;
    CHECK(weft__future_begin(t->task));
    hs_post(&t->started);
    t->rc = weft_future_result(t->target, WEFT_FOREVER, NULL);
    weft__future_finish(t->task, t->rc, NULL, NULL);
    return NULL;
}

TEST(result_honours_caller_cancellation)
{
    struct waiting_task t = {.target = new_future("target"), .rc = -1};
    CHECK_OK(weft__future_new_task(&t.task, "waiter", NULL, NULL));
    hs_init(&t.started);
    pthread_t th;
    CHECK_OK(pthread_create(&th, NULL, wait_inside_task, &t));
    hs_wait(&t.started);
    /* The request may land before or during the wait: both must work. */
    CHECK_RC(weft_future_interrupt(t.task), EINPROGRESS);
    pthread_join(th, NULL);
    CHECK_RC(t.rc, ECANCELED);
    CHECK_EQ(weft_future_state_of(t.target), WEFT_FUTURE_PENDING);
    CHECK(!weft_future_cancelled(t.target));
    CHECK_RC(weft_future_result(t.task, 0, NULL), WEFT_EFAILED);
    CHECK_EQ(weft_future_error(t.task, NULL), ECANCELED);
    CHECK_OK(weft_future_set_result(t.target, NULL));
    weft_future_unref(t.target);
    weft_future_unref(t.task);
    hs_destroy(&t.started);
}

struct sleeper {
    weft_future *task;
    hs started;
    int rc;
    double took;
    bool cancelled_after;
};

static void *sleep_in_task(void *arg)
{
    struct sleeper *s = arg;
    CHECK(weft__future_begin(s->task));
    hs_post(&s->started);
    double t0 = weft_monotonic();
    s->rc = weft_sleep(60);
    s->took = weft_monotonic() - t0;
    weft__future_finish(s->task, s->rc, NULL, NULL);
    s->cancelled_after = weft_cancelled(); /* token uninstalled by finish */
    return NULL;
}

TEST(interrupt_wakes_sleep_in_running_task)
{
    struct sleeper s = {.rc = -1, .cancelled_after = true};
    CHECK_OK(weft__future_new_task(&s.task, "sleeper", NULL, NULL));
    hs_init(&s.started);
    pthread_t th;
    CHECK_OK(pthread_create(&th, NULL, sleep_in_task, &s));
    hs_wait(&s.started);
    CHECK(weft_future_running(s.task));
    CHECK_RC(weft_future_interrupt(s.task), EINPROGRESS);
    CHECK_RC(weft_future_result(s.task, WEFT_FOREVER, NULL), WEFT_EFAILED);
    pthread_join(th, NULL);
    CHECK_RC(s.rc, ECANCELED);
    CHECK(s.took < 30);
    CHECK(!s.cancelled_after);
    CHECK_EQ(weft_future_error(s.task, NULL), ECANCELED);
    CHECK_RC(weft_future_interrupt(s.task), EALREADY);
    weft_future_unref(s.task);
    hs_destroy(&s.started);
}

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
    weft_set_error_hook(hook, NULL);
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
    weft_set_error_hook(hook, NULL);
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
    weft_set_error_hook(hook, NULL);
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
    weft_set_error_hook(hook, NULL);
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

/* ------------------------------------------------------------ wait */

struct script {
    weft_future **fs;
    const int *order; /* indexes to complete, in this order */
    const int *how;   /* per index: 0 result, 1 error, 2 cancel */
    int n;
    hs *step; /* when non-NULL, wait for a post before each completion */
};

static void *run_script(void *arg)
{
    struct script *s = arg;
    for (int k = 0; k < s->n; k++) {
        if (s->step)
            hs_wait(s->step);
        int i = s->order[k];
        weft_future *f = s->fs[i];
        switch (s->how[i]) {
        case 0:
            CHECK_OK(weft_future_set_result(f, (void *)(intptr_t)i));
            break;
        case 1:
            CHECK_OK(weft_future_set_error(f, EIO, "scripted"));
            break;
        default:
            CHECK_OK(weft_future_cancel(f));
        }
    }
    return NULL;
}

static void make(weft_future **fs, int n)
{
    for (int i = 0; i < n; i++)
        fs[i] = new_future(NULL);
}

static void drop(weft_future **fs, int n)
{
    for (int i = 0; i < n; i++) {
        weft_future_error(fs[i], NULL); /* read: keep the hook quiet */
        weft_future_unref(fs[i]);
    }
}

TEST(wait_all_completed)
{
    weft_future *fs[3];
    make(fs, 3);
    static const int order[] = {2, 0, 1}, how[] = {0, 1, 2};
    struct script s = {fs, order, how, 3, NULL};
    pthread_t th;
    CHECK_OK(pthread_create(&th, NULL, run_script, &s));
    bool done[3] = {false, false, false};
    CHECK_OK(weft_futures_wait(fs, 3, WEFT_FOREVER, WEFT_ALL_COMPLETED, done));
    CHECK(done[0] && done[1] && done[2]);
    for (int i = 0; i < 3; i++)
        CHECK(weft_future_done(fs[i]));
    pthread_join(th, NULL);
    drop(fs, 3);
}

TEST(wait_first_completed)
{
    weft_future *fs[3];
    make(fs, 3);
    static const int order[] = {1}, how[] = {0, 0, 0};
    hs step;
    hs_init(&step);
    struct script s = {fs, order, how, 1, &step};
    pthread_t th;
    CHECK_OK(pthread_create(&th, NULL, run_script, &s));
    hs_post(&step);
    bool done[3] = {true, true, true};
    CHECK_OK(weft_futures_wait(fs, 3, WEFT_FOREVER, WEFT_FIRST_COMPLETED, done));
    CHECK(!done[0] && done[1] && !done[2]);
    pthread_join(th, NULL);
    /* Already satisfied: no blocking. */
    CHECK_OK(weft_futures_wait(fs, 3, 0, WEFT_FIRST_COMPLETED, done));
    CHECK_OK(weft_future_cancel(fs[0]));
    CHECK_OK(weft_future_cancel(fs[2]));
    drop(fs, 3);
    hs_destroy(&step);
}

TEST(wait_first_exception)
{
    weft_future *fs[3];
    make(fs, 3);
    static const int order[] = {0, 1}, how[] = {0, 1, 0};
    struct script s = {fs, order, how, 2, NULL};
    pthread_t th;
    CHECK_OK(pthread_create(&th, NULL, run_script, &s));
    bool done[3];
    /* f0 succeeds (not enough), f1 fails (enough); f2 stays pending. */
    CHECK_OK(weft_futures_wait(fs, 3, WEFT_FOREVER, WEFT_FIRST_EXCEPTION, done));
    CHECK(done[0] && done[1] && !done[2]);
    pthread_join(th, NULL);
    CHECK_OK(weft_future_cancel(fs[2]));
    drop(fs, 3);

    /* No failure: it is ALL_COMPLETED; a cancel is not an exception. */
    make(fs, 3);
    CHECK_OK(weft_future_set_result(fs[0], NULL));
    CHECK_OK(weft_future_cancel(fs[1]));
    CHECK_RC(weft_futures_wait(fs, 3, 0.02, WEFT_FIRST_EXCEPTION, done), ETIMEDOUT);
    CHECK(done[0] && done[1] && !done[2]);
    CHECK_OK(weft_future_set_result(fs[2], NULL));
    CHECK_OK(weft_futures_wait(fs, 3, WEFT_FOREVER, WEFT_FIRST_EXCEPTION, done));
    CHECK(done[0] && done[1] && done[2]);
    drop(fs, 3);
}

TEST(wait_counts_cancelled_and_duplicates)
{
    weft_future *fs[3];
    make(fs, 2);
    fs[2] = fs[0];
    CHECK_OK(weft_future_cancel(fs[0]));
    bool done[3];
    CHECK_RC(weft_futures_wait(fs, 3, 0, WEFT_ALL_COMPLETED, done), ETIMEDOUT);
    CHECK(done[0] && !done[1] && done[2]);
    CHECK_OK(weft_futures_wait(fs, 3, 0, WEFT_FIRST_COMPLETED, done));
    CHECK_OK(weft_future_cancel(fs[1]));
    CHECK_OK(weft_futures_wait(fs, 3, WEFT_FOREVER, WEFT_ALL_COMPLETED, done));
    CHECK(done[0] && done[1] && done[2]);
    drop(fs, 2);
}

TEST(wait_timeout_not_early)
{
    weft_future *fs[2];
    make(fs, 2);
    CHECK_OK(weft_future_set_result(fs[1], NULL));
    bool done[2];
    double t0 = weft_monotonic();
    CHECK_RC(weft_futures_wait(fs, 2, 0.1, WEFT_ALL_COMPLETED, done), ETIMEDOUT);
    CHECK(weft_monotonic() - t0 >= 0.1 - 1e-3);
    CHECK(!done[0] && done[1]);
    CHECK_RC(weft_futures_wait(fs, 1, 0.05, WEFT_FIRST_COMPLETED, NULL), ETIMEDOUT);
    CHECK_OK(weft_future_cancel(fs[0]));
    drop(fs, 2);
}

TEST(wait_rejects_bad_arguments)
{
    weft_future *f = new_future(NULL);
    bool done[1];
    CHECK_RC(weft_futures_wait(&f, 1, NAN, WEFT_ALL_COMPLETED, done), EINVAL);
    CHECK_RC(weft_futures_wait(&f, 1, -3, WEFT_ALL_COMPLETED, done), EINVAL);
    CHECK_RC(weft_futures_wait(&f, 1, 0, (weft_wait_mode)7, done), EINVAL);
    CHECK_RC(weft_futures_wait(NULL, 1, 0, WEFT_ALL_COMPLETED, done), EINVAL);
    weft_future *nul = NULL;
    CHECK_RC(weft_futures_wait(&nul, 1, 0, WEFT_ALL_COMPLETED, done), EINVAL);
    CHECK_OK(weft_futures_wait(NULL, 0, WEFT_FOREVER, WEFT_ALL_COMPLETED, NULL));
    CHECK_OK(weft_futures_wait(NULL, 0, WEFT_FOREVER, WEFT_FIRST_COMPLETED, NULL));
    CHECK_OK(weft_future_cancel(f));
    weft_future_unref(f);
}

/* Runs wait or as_completed inside a "task" whose future gets interrupted. */
struct set_task {
    weft_future *task;
    weft_future *target;
    bool iterate;
    hs started;
    int rc;
};

static void *set_wait_in_task(void *arg)
{
    struct set_task *t = arg;
    CHECK(weft__future_begin(t->task));
    if (t->iterate) {
        weft_as_completed *it = NULL;
        CHECK_OK(weft_as_completed_new(&it, &t->target, 1, WEFT_FOREVER));
        hs_post(&t->started);
        weft_future *got = NULL;
        t->rc = weft_as_completed_next(it, &got);
        weft_as_completed_free(it);
    } else {
        hs_post(&t->started);
        t->rc = weft_futures_wait(&t->target, 1, WEFT_FOREVER, WEFT_ALL_COMPLETED, NULL);
    }
    weft__future_finish(t->task, 0, NULL, NULL);
    return NULL;
}

static void set_wait_cancelled(bool iterate)
{
    struct set_task t = {.target = new_future(NULL), .iterate = iterate, .rc = -1};
    CHECK_OK(weft__future_new_task(&t.task, NULL, NULL, NULL));
    hs_init(&t.started);
    pthread_t th;
    CHECK_OK(pthread_create(&th, NULL, set_wait_in_task, &t));
    hs_wait(&t.started);
    CHECK_RC(weft_future_interrupt(t.task), EINPROGRESS);
    pthread_join(th, NULL);
    CHECK_RC(t.rc, ECANCELED);
    CHECK_EQ(weft_future_state_of(t.target), WEFT_FUTURE_PENDING);
    CHECK_OK(weft_future_cancel(t.target));
    weft_future_unref(t.target);
    weft_future_unref(t.task);
    hs_destroy(&t.started);
}

TEST(wait_honours_caller_cancellation)
{
    set_wait_cancelled(false);
}

TEST(as_completed_honours_caller_cancellation)
{
    set_wait_cancelled(true);
}

/* ------------------------------------------------------------ as_completed */

TEST(as_completed_yields_in_completion_order)
{
    weft_future *fs[4];
    make(fs, 4);
    weft_as_completed *it = NULL;
    CHECK_OK(weft_as_completed_new(&it, fs, 4, WEFT_FOREVER));
    static const int order[] = {2, 0, 3, 1}, how[] = {0, 1, 2, 0};
    hs step;
    hs_init(&step);
    struct script s = {fs, order, how, 4, &step};
    pthread_t th;
    CHECK_OK(pthread_create(&th, NULL, run_script, &s));
    for (int k = 0; k < 4; k++) {
        hs_post(&step); /* complete the next one; we may already be waiting */
        weft_future *got = NULL;
        CHECK_OK(weft_as_completed_next(it, &got));
        CHECK(got == fs[order[k]]);
        CHECK(weft_future_done(got));
    }
    weft_future *got = NULL;
    CHECK_RC(weft_as_completed_next(it, &got), ENOENT);
    CHECK_RC(weft_as_completed_next(it, &got), ENOENT);
    pthread_join(th, NULL);
    weft_as_completed_free(it);
    drop(fs, 4);
    hs_destroy(&step);
}

TEST(as_completed_order_fixed_at_completion_not_at_next)
{
    /* Completions before the first next() still come out in their order;
     * futures done before the iterator came first, in input order. */
    weft_future *fs[4];
    make(fs, 4);
    CHECK_OK(weft_future_set_result(fs[3], NULL));
    CHECK_OK(weft_future_cancel(fs[1]));
    weft_as_completed *it = NULL;
    CHECK_OK(weft_as_completed_new(&it, fs, 4, WEFT_FOREVER));
    CHECK_OK(weft_future_set_result(fs[2], NULL));
    CHECK_OK(weft_future_set_error(fs[0], EIO, NULL));
    static const int want[] = {1, 3, 2, 0};
    for (int k = 0; k < 4; k++) {
        weft_future *got = NULL;
        CHECK_OK(weft_as_completed_next(it, &got));
        CHECK(got == fs[want[k]]);
    }
    weft_future *got = NULL;
    CHECK_RC(weft_as_completed_next(it, &got), ENOENT);
    weft_as_completed_free(it);
    drop(fs, 4);
}

TEST(as_completed_dedups)
{
    weft_future *fs[2];
    make(fs, 2);
    weft_future *list[5] = {fs[0], fs[1], fs[0], fs[0], fs[1]};
    weft_as_completed *it = NULL;
    CHECK_OK(weft_as_completed_new(&it, list, 5, WEFT_FOREVER));
    CHECK_OK(weft_future_set_result(fs[1], NULL));
    CHECK_OK(weft_future_set_result(fs[0], NULL));
    weft_future *got = NULL;
    CHECK_OK(weft_as_completed_next(it, &got));
    CHECK(got == fs[1]);
    CHECK_OK(weft_as_completed_next(it, &got));
    CHECK(got == fs[0]);
    CHECK_RC(weft_as_completed_next(it, &got), ENOENT);
    weft_as_completed_free(it);
    drop(fs, 2);

    /* The larger path (sorting) too, keeping first-seen order. */
    weft_future *many[12];
    make(many, 12);
    weft_future *big[36];
    for (int i = 0; i < 36; i++)
        big[i] = many[(i * 5) % 12];
    CHECK_OK(weft_as_completed_new(&it, big, 36, WEFT_FOREVER));
    for (int i = 0; i < 12; i++)
        CHECK_OK(weft_future_cancel(many[i]));
    int seen[12] = {0};
    for (int k = 0; k < 12; k++) {
        CHECK_OK(weft_as_completed_next(it, &got));
        int idx = -1;
        for (int i = 0; i < 12; i++)
            if (many[i] == got)
                idx = i;
        CHECK(idx >= 0);
        seen[idx]++;
        CHECK(idx == k); /* cancelled in order 0..11 */
    }
    for (int i = 0; i < 12; i++)
        CHECK_EQ(seen[i], 1);
    CHECK_RC(weft_as_completed_next(it, &got), ENOENT);
    weft_as_completed_free(it);
    drop(many, 12);
}

TEST(as_completed_keeps_references)
{
    weft_future *f = new_future("held");
    weft_as_completed *it = NULL;
    CHECK_OK(weft_as_completed_new(&it, &f, 1, WEFT_FOREVER));
    weft_future *mine = f;
    weft_future_ref(mine);
    weft_future_unref(f); /* the iterator's reference keeps it alive */
    CHECK_OK(weft_future_set_result(mine, (void *)3));
    weft_future *got = NULL;
    CHECK_OK(weft_as_completed_next(it, &got));
    CHECK(got == mine);
    weft_future_unref(mine);
    void *r = NULL;
    CHECK_OK(weft_future_result(got, 0, &r)); /* still the iterator's */
    CHECK(r == (void *)3);
    weft_as_completed_free(it); /* last reference: ASan checks the free */
    weft_as_completed_free(NULL);
}

TEST(as_completed_total_timeout)
{
    weft_future *fs[2];
    make(fs, 2);
    CHECK_OK(weft_future_set_result(fs[0], NULL));
    double t0 = weft_monotonic();
    weft_as_completed *it = NULL;
    CHECK_OK(weft_as_completed_new(&it, fs, 2, 0.1));
    weft_future *got = NULL;
    CHECK_OK(weft_as_completed_next(it, &got));
    CHECK(got == fs[0]);
    CHECK_RC(weft_as_completed_next(it, &got), ETIMEDOUT);
    CHECK(weft_monotonic() - t0 >= 0.1 - 1e-3);
    /* The deadline is for the whole iteration: it stays passed. */
    CHECK_RC(weft_as_completed_next(it, &got), ETIMEDOUT);
    /* Something done after the deadline is still yielded. */
    CHECK_OK(weft_future_cancel(fs[1]));
    CHECK_OK(weft_as_completed_next(it, &got));
    CHECK(got == fs[1]);
    CHECK_RC(weft_as_completed_next(it, &got), ENOENT);
    weft_as_completed_free(it);
    drop(fs, 2);
}

TEST(as_completed_rejects_bad_arguments)
{
    weft_future *f = new_future(NULL);
    weft_as_completed *it = NULL;
    CHECK_RC(weft_as_completed_new(&it, &f, 1, NAN), EINVAL);
    CHECK_RC(weft_as_completed_new(&it, &f, 1, -2), EINVAL);
    CHECK_RC(weft_as_completed_new(&it, NULL, 1, 0), EINVAL);
    weft_future *nul = NULL;
    CHECK_RC(weft_as_completed_new(&it, &nul, 1, 0), EINVAL);
    CHECK(it == NULL);
    CHECK_OK(weft_as_completed_new(&it, NULL, 0, 0));
    weft_future *got = NULL;
    CHECK_RC(weft_as_completed_next(it, &got), ENOENT);
    weft_as_completed_free(it);
    weft_future_unref(f);
}

/* ------------------------------------------------------------ faults */

TEST(future_new_under_fault_injection)
{
    for (long n = 0;; n++) {
        weft_future *f = NULL;
        weft__alloc_fail_after(n);
        int rc = weft_future_new(&f, "faulty");
        weft__alloc_fail_reset();
        if (rc == ENOMEM) {
            CHECK(f == NULL);
            continue;
        }
        CHECK_OK(rc);
        CHECK_STR(weft_future_name(f), "faulty");
        weft_future_unref(f);
        break;
    }
}

static int count_cb(weft_future *f, void *ud)
{
    (void)f;
    (*(int *)ud)++;
    return 0;
}

TEST(add_done_callback_under_fault_injection)
{
    weft_future *f = new_future(NULL);
    int calls = 0;
    for (long n = 0;; n++) {
        weft__alloc_fail_after(n);
        int rc = weft_future_add_done_callback(f, count_cb, &calls);
        weft__alloc_fail_reset();
        if (rc == ENOMEM)
            continue;
        CHECK_OK(rc);
        break;
    }
    CHECK_OK(weft_future_set_result(f, NULL));
    CHECK_EQ(calls, 1); /* the failed attempts added nothing */
    /* Even on a done future, ENOMEM means "not run". */
    weft__alloc_fail_after(0);
    CHECK_RC(weft_future_add_done_callback(f, count_cb, &calls), ENOMEM);
    weft__alloc_fail_reset();
    CHECK_EQ(calls, 1);
    weft_future_unref(f);
}

TEST(as_completed_new_under_fault_injection)
{
    weft_future *fs[12];
    make(fs, 12);
    weft_future *list[20];
    for (int i = 0; i < 20; i++)
        list[i] = fs[i % 12];
    for (long n = 0;; n++) {
        weft_as_completed *it = NULL;
        weft__alloc_fail_after(n);
        int rc = weft_as_completed_new(&it, list, 20, WEFT_FOREVER);
        weft__alloc_fail_reset();
        if (rc == ENOMEM) {
            CHECK(it == NULL);
            continue;
        }
        CHECK_OK(rc);
        CHECK(n >= 3);
        CHECK_OK(weft_future_set_result(fs[4], NULL));
        weft_future *got = NULL;
        CHECK_OK(weft_as_completed_next(it, &got));
        CHECK(got == fs[4]);
        weft_as_completed_free(it);
        break;
    }
    drop(fs, 12);
}

TEST(futures_wait_under_fault_injection)
{
    weft_future *fs[2];
    make(fs, 2);
    bool done[2];
    for (long n = 0;; n++) {
        weft__alloc_fail_after(n);
        int rc = weft_futures_wait(fs, 2, 0.01, WEFT_ALL_COMPLETED, done);
        weft__alloc_fail_reset();
        if (rc == ENOMEM)
            continue;
        CHECK_RC(rc, ETIMEDOUT);
        break;
    }
    /* Nothing stays registered: completing now must not touch freed memory. */
    CHECK_OK(weft_future_set_result(fs[0], NULL));
    CHECK_OK(weft_future_set_result(fs[1], NULL));
    CHECK_OK(weft_futures_wait(fs, 2, 0, WEFT_ALL_COMPLETED, done));
    drop(fs, 2);
}

/* Freed futures are recycled (a bounded cache in future.c); fault injection
 * must still see every creation as an allocation. */
TEST(recycled_future_still_fails_under_fault_injection)
{
    weft_future *fs[40];
    for (int i = 0; i < 40; i++)
        fs[i] = new_future(NULL);
    for (int i = 0; i < 40; i++)
        weft_future_unref(fs[i]);
    weft_future *f = NULL;
    weft__alloc_fail_after(0);
    CHECK_RC(weft_future_new(&f, NULL), ENOMEM);
    weft__alloc_fail_reset();
    CHECK(f == NULL);
    f = new_future(NULL);
    CHECK_OK(weft_future_set_result(f, (void *)7));
    void *r = NULL;
    CHECK_OK(weft_future_result(f, 0, &r));
    CHECK(r == (void *)7);
    weft_future_unref(f);
}

static void *churn(void *arg)
{
    (void)arg;
    weft_future *fs[40];
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < 40; i++)
            fs[i] = new_future(NULL);
        for (int i = 0; i < 40; i++)
            weft_future_unref(fs[i]);
    }
    return NULL;
}

/* Threads that create and free futures, then exit: what they cached is
 * freed with them (LeakSanitizer checks), and others reuse the rest. */
TEST(threads_exit_with_recycled_futures)
{
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        CHECK_RC(pthread_create(&t[i], NULL, churn, NULL), 0);
    for (int i = 0; i < 4; i++)
        CHECK_RC(pthread_join(t[i], NULL), 0);
    churn(NULL);
}

TEST(set_error_when_memory_is_short)
{
    weft_future *f = new_future(NULL);
    weft__alloc_fail_after(0);
    CHECK_OK(weft_future_set_error(f, EIO, "lost text"));
    weft__alloc_fail_reset();
    const char *m = NULL;
    CHECK_EQ(weft_future_error(f, &m), EIO);
    CHECK_STR(m, weft_strerror(EIO));
    weft_future_unref(f);
}

/* ------------------------------------------------------------ stress */

#define S_FUT     64
#define S_WAITERS 6
#define S_DONERS  2

static struct {
    weft_future *fs[S_FUT];
    pthread_barrier_t start;
    atomic_int failures;
} st;

/* Outcome by index: results for i%3==0, errors for 1, cancels for 2. */
static bool check_outcome(int i, int rc, void *r)
{
    switch (i % 3) {
    case 0:
        return rc == 0 && r == (void *)(intptr_t)(i + 1);
    case 1:
        return rc == WEFT_EFAILED && weft_future_error(st.fs[i], NULL) == EIO;
    default:
        return rc == ECANCELED && weft_future_cancelled(st.fs[i]);
    }
}

static void *stress_doer(void *arg)
{
    int id = (int)(intptr_t)arg;
    pthread_barrier_wait(&st.start);
    for (int i = id; i < S_FUT; i += S_DONERS) {
        int rc;
        if (i % 3 == 0) {
            weft_future_set_running(st.fs[i]);
            rc = weft_future_set_result(st.fs[i], (void *)(intptr_t)(i + 1));
        } else if (i % 3 == 1) {
            rc = weft_future_set_error(st.fs[i], EIO, "stress");
        } else {
            rc = weft_future_cancel(st.fs[i]);
        }
        if (rc != 0)
            atomic_fetch_add(&st.failures, 1);
    }
    return NULL;
}

static void *stress_waiter(void *arg)
{
    int kind = (int)(intptr_t)arg % 3;
    pthread_barrier_wait(&st.start);
    if (kind == 0) {
        for (int i = S_FUT - 1; i >= 0; i--) {
            void *r = NULL;
            int rc = weft_future_result(st.fs[i], WEFT_FOREVER, &r);
            if (!check_outcome(i, rc, r))
                atomic_fetch_add(&st.failures, 1);
        }
    } else if (kind == 1) {
        bool done[S_FUT];
        if (weft_futures_wait(st.fs, S_FUT, WEFT_FOREVER, WEFT_FIRST_COMPLETED, done) != 0)
            atomic_fetch_add(&st.failures, 1);
        if (weft_futures_wait(st.fs, S_FUT, WEFT_FOREVER, WEFT_ALL_COMPLETED, done) != 0)
            atomic_fetch_add(&st.failures, 1);
        for (int i = 0; i < S_FUT; i++)
            if (!done[i])
                atomic_fetch_add(&st.failures, 1);
    } else {
        weft_as_completed *it = NULL;
        if (weft_as_completed_new(&it, st.fs, S_FUT, WEFT_FOREVER) != 0) {
            atomic_fetch_add(&st.failures, 1);
            return NULL;
        }
        int seen[S_FUT] = {0};
        weft_future *got;
        int rc;
        while ((rc = weft_as_completed_next(it, &got)) == 0) {
            int idx = -1;
            for (int i = 0; i < S_FUT; i++)
                if (st.fs[i] == got)
                    idx = i;
            if (idx < 0 || !weft_future_done(got))
                atomic_fetch_add(&st.failures, 1);
            else
                seen[idx]++;
        }
        if (rc != ENOENT)
            atomic_fetch_add(&st.failures, 1);
        for (int i = 0; i < S_FUT; i++)
            if (seen[i] != 1)
                atomic_fetch_add(&st.failures, 1);
        weft_as_completed_free(it);
    }
    return NULL;
}

TEST_T(stress_many_waiters_many_completers, 20)
{
    for (int round = 0; round < 50; round++) {
        make(st.fs, S_FUT);
        pthread_barrier_init(&st.start, NULL, S_WAITERS + S_DONERS);
        pthread_t th[S_WAITERS + S_DONERS];
        for (int i = 0; i < S_WAITERS; i++)
            CHECK_OK(pthread_create(&th[i], NULL, stress_waiter, (void *)(intptr_t)i));
        for (int i = 0; i < S_DONERS; i++)
            CHECK_OK(pthread_create(&th[S_WAITERS + i], NULL, stress_doer, (void *)(intptr_t)i));
        for (int i = 0; i < S_WAITERS + S_DONERS; i++)
            pthread_join(th[i], NULL);
        CHECK_EQ(atomic_load(&st.failures), 0);
        for (int i = 0; i < S_FUT; i++)
            CHECK(weft_future_done(st.fs[i]));
        pthread_barrier_destroy(&st.start);
        drop(st.fs, S_FUT);
    }
}

/* Interrupts racing a task that begins and finishes: no lost wakeup, no
 * use of the token after the future is gone. */
static void *begin_sleep_finish(void *arg)
{
    weft_future *f = arg;
    if (weft__future_begin(f)) {
        int rc = weft_sleep(60);
        weft__future_finish(f, rc, NULL, NULL);
    }
    return NULL;
}

TEST_T(stress_interrupt_races_begin, 20)
{
    for (int i = 0; i < 200; i++) {
        weft_future *f = NULL;
        CHECK_OK(weft__future_new_task(&f, NULL, NULL, NULL));
        pthread_t th;
        CHECK_OK(pthread_create(&th, NULL, begin_sleep_finish, f));
        /* Until it is done: cancel while pending, or interrupt while running. */
        int rc;
        while ((rc = weft_future_interrupt(f)) == EINPROGRESS &&
               weft_future_result(f, 0.001, NULL) == ETIMEDOUT)
            ;
        pthread_join(th, NULL);
        CHECK(weft_future_done(f));
        if (!weft_future_cancelled(f))
            CHECK_EQ(weft_future_error(f, NULL), ECANCELED);
        weft_future_unref(f);
    }
}

/* ------------------------------------------------------------ fork */

/* The free-future cache's depot lock is re-created in a forked child: fork
 * while another thread keeps taking it (allocating and freeing futures in
 * batches bigger than a thread's own cache), and the child must still make
 * futures and run an executor. alarm() is the child's watchdog: a child
 * stuck on a lock held by a thread it does not have dies of SIGALRM. */
static atomic_bool hammer_stop;
static atomic_long hammer_rounds;

static void *depot_hammer(void *arg)
{
    weft_future *fs[100];
    while (!atomic_load(&hammer_stop)) {
        for (int i = 0; i < 100; i++)
            CHECK_OK(weft_future_new(&fs[i], NULL));
        for (int i = 0; i < 100; i++)
            weft_future_unref(fs[i]);
        atomic_fetch_add(&hammer_rounds, 1);
    }
    return NULL;
}

static int fork_task(void *arg, void **result)
{
    *result = arg;
    return 0;
}

/* TSan cannot start threads in the child of a multithreaded fork: there
 * the child only makes futures (which takes the depot lock). */
#if defined(__SANITIZE_THREAD__)
#define FORK_CHILD_THREADS 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FORK_CHILD_THREADS 0
#endif
#endif
#ifndef FORK_CHILD_THREADS
#define FORK_CHILD_THREADS 1
#endif

static int child_uses_futures(void)
{
    weft_future *fs[100];
    for (int i = 0; i < 100; i++)
        if (weft_future_new(&fs[i], NULL) != 0)
            return 1;
    for (int i = 0; i < 100; i++)
        weft_future_unref(fs[i]);
    if (!FORK_CHILD_THREADS)
        return 0;
    weft_executor *ex;
    weft_executor_opts o = {.max_workers = 2};
    if (weft_executor_new(&ex, &o) != 0)
        return 2;
    int bad = 0;
    for (int i = 0; i < 200; i++) {
        weft_future *f;
        void *r = NULL;
        if (weft_executor_submit(ex, fork_task, &bad, &f) != 0)
            return 3;
        if (weft_future_result(f, WEFT_FOREVER, &r) != 0 || r != &bad)
            bad = 4;
        weft_future_unref(f);
    }
    weft_executor_free(ex);
    return bad;
}

TEST_T(fork_while_another_thread_uses_the_future_cache, 60)
{
    pthread_t t;
    atomic_store(&hammer_stop, false);
    pthread_create(&t, NULL, depot_hammer, NULL);
    for (int i = 0; i < 40; i++) {
        /* Each fork lands somewhere in a fresh round of the hammer. */
        long seen = atomic_load(&hammer_rounds);
        while (atomic_load(&hammer_rounds) == seen)
            sched_yield();
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            alarm((unsigned)(10 * test_scale()));
            _exit(child_uses_futures());
        }
        int status;
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status));
        CHECK_EQ(WEXITSTATUS(status), 0);
    }
    atomic_store(&hammer_stop, true);
    pthread_join(t, NULL);
}
