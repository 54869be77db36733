/* Futures: weft_futures_wait and as_completed. */
#include "cancel-internal.h"
#include "test.h"
#include "future-internal.h"

#include <math.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

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

TEST(wait_all_completed)
{
    weft_future *fs[3];
    new_futures(fs, 3);
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
    drop_futures(fs, 3);
}

TEST(wait_first_completed)
{
    weft_future *fs[3];
    new_futures(fs, 3);
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
    drop_futures(fs, 3);
    hs_destroy(&step);
}

TEST(wait_first_exception)
{
    weft_future *fs[3];
    new_futures(fs, 3);
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
    drop_futures(fs, 3);

    /* No failure: it is ALL_COMPLETED; a cancel is not an exception. */
    new_futures(fs, 3);
    CHECK_OK(weft_future_set_result(fs[0], NULL));
    CHECK_OK(weft_future_cancel(fs[1]));
    CHECK_RC(weft_futures_wait(fs, 3, 0.02, WEFT_FIRST_EXCEPTION, done), ETIMEDOUT);
    CHECK(done[0] && done[1] && !done[2]);
    CHECK_OK(weft_future_set_result(fs[2], NULL));
    CHECK_OK(weft_futures_wait(fs, 3, WEFT_FOREVER, WEFT_FIRST_EXCEPTION, done));
    CHECK(done[0] && done[1] && done[2]);
    drop_futures(fs, 3);
}

TEST(wait_counts_cancelled_and_duplicates)
{
    weft_future *fs[3];
    new_futures(fs, 2);
    fs[2] = fs[0];
    CHECK_OK(weft_future_cancel(fs[0]));
    bool done[3];
    CHECK_RC(weft_futures_wait(fs, 3, 0, WEFT_ALL_COMPLETED, done), ETIMEDOUT);
    CHECK(done[0] && !done[1] && done[2]);
    CHECK_OK(weft_futures_wait(fs, 3, 0, WEFT_FIRST_COMPLETED, done));
    CHECK_OK(weft_future_cancel(fs[1]));
    CHECK_OK(weft_futures_wait(fs, 3, WEFT_FOREVER, WEFT_ALL_COMPLETED, done));
    CHECK(done[0] && done[1] && done[2]);
    drop_futures(fs, 2);
}

TEST(wait_timeout_not_early)
{
    weft_future *fs[2];
    new_futures(fs, 2);
    CHECK_OK(weft_future_set_result(fs[1], NULL));
    bool done[2];
    double t0 = weft_monotonic();
    CHECK_RC(weft_futures_wait(fs, 2, 0.1, WEFT_ALL_COMPLETED, done), ETIMEDOUT);
    CHECK(weft_monotonic() - t0 >= 0.1 - 1e-3);
    CHECK(!done[0] && done[1]);
    CHECK_RC(weft_futures_wait(fs, 1, 0.05, WEFT_FIRST_COMPLETED, NULL), ETIMEDOUT);
    CHECK_OK(weft_future_cancel(fs[0]));
    drop_futures(fs, 2);
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
    new_futures(fs, 4);
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
    drop_futures(fs, 4);
    hs_destroy(&step);
}

TEST(as_completed_order_fixed_at_completion_not_at_next)
{
    /* Completions before the first next() still come out in their order;
     * futures done before the iterator came first, in input order. */
    weft_future *fs[4];
    new_futures(fs, 4);
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
    drop_futures(fs, 4);
}

TEST(as_completed_dedups)
{
    weft_future *fs[2];
    new_futures(fs, 2);
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
    drop_futures(fs, 2);

    /* The larger path (sorting) too, keeping first-seen order. */
    weft_future *many[12];
    new_futures(many, 12);
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
    drop_futures(many, 12);
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
    new_futures(fs, 2);
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
    drop_futures(fs, 2);
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
