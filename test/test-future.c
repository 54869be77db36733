/* Futures: states, result/error, cancel/interrupt. The other topics are in
 * test-future-*.c (callbacks, waits, faults). Standalone futures are
 * completed from helper pthreads; every hand-over uses a handshake. */
#include "cancel-internal.h"
#include "test.h"
#include "future-internal.h"

#include <math.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

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
    weft_set_error_hook(log_hook, NULL);
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
