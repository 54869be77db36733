/* Futures: fault injection, a concurrent stress, and fork. */
#include "cancel-internal.h"
#include "test.h"
#include "future-internal.h"

#include <math.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

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
    new_futures(fs, 12);
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
    drop_futures(fs, 12);
}

TEST(futures_wait_under_fault_injection)
{
    weft_future *fs[2];
    new_futures(fs, 2);
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
    drop_futures(fs, 2);
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
        new_futures(st.fs, S_FUT);
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
        drop_futures(st.fs, S_FUT);
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
