/* The executor's maps: weft_executor_map and the lazy weft_map, order,
 * chunks, unordered, errors, timeouts. */
#include "test.h"
#include "base-internal.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

/* ------------------------------------------------------------ map */

typedef struct turns {
    pthread_mutex_t m;
    pthread_cond_t c;
    int done;
    int n;
} turns;

static turns turn_state = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 8};

/* Task i finishes only after every task with a higher index: reverse order. */
static int reverse_task(void *arg, void **result)
{
    int i = (int)(intptr_t)arg;
    pthread_mutex_lock(&turn_state.m);
    while (turn_state.done != turn_state.n - 1 - i)
        pthread_cond_wait(&turn_state.c, &turn_state.m);
    turn_state.done++;
    pthread_cond_broadcast(&turn_state.c);
    pthread_mutex_unlock(&turn_state.m);
    if (i == 3)
        return weft_fail(ERANGE, "three");
    *result = (void *)(intptr_t)(i * 10);
    return 0;
}

TEST(map_keeps_order_when_tasks_finish_out_of_order)
{
    weft_executor *ex = pool(8);
    void *args[8], *results[8];
    int errors[8];
    for (int i = 0; i < 8; i++)
        args[i] = (void *)(intptr_t)i;
    CHECK_RC(weft_executor_map(ex, reverse_task, args, 8, WEFT_FOREVER, results, errors),
             WEFT_EFAILED);
    for (int i = 0; i < 8; i++) {
        if (i == 3) {
            CHECK_EQ(errors[i], ERANGE);
            CHECK(results[i] == NULL);
        } else {
            CHECK_EQ(errors[i], 0);
            CHECK_EQ((intptr_t)results[i], i * 10);
        }
    }
    CHECK_OK(weft_executor_map(ex, twice, args, 8, WEFT_FOREVER, results, NULL));
    for (int i = 0; i < 8; i++)
        CHECK_EQ((intptr_t)results[i], 2 * i);
    CHECK_OK(weft_executor_map(ex, twice, NULL, 0, WEFT_FOREVER, NULL, NULL));
    CHECK_RC(weft_executor_map(ex, twice, NULL, 3, WEFT_FOREVER, results, NULL), EINVAL);
    weft_executor_shutdown(ex, false, false);
    CHECK_RC(weft_executor_map(ex, twice, args, 8, WEFT_FOREVER, results, NULL), ESHUTDOWN);
    weft_executor_free(ex);
}

typedef struct counter_src {
    atomic_long pulled;
    long limit; /* < 0: endless */
    int fail_at;
} counter_src;

static int count_source(void *ud, void **item)
{
    counter_src *s = ud;
    long i = atomic_load(&s->pulled);
    if (s->fail_at && i == s->fail_at)
        return EIO;
    if (s->limit >= 0 && i >= s->limit)
        return ENOENT;
    atomic_store(&s->pulled, i + 1);
    *item = (void *)(intptr_t)i;
    return 0;
}

TEST(lazy_map_endless_source_is_bounded)
{
    weft_executor *ex = pool(4);
    counter_src src = {.limit = -1};
    weft_map_opts o = {.buffersize = 6};
    weft_map *m;
    CHECK_OK(weft_map_new(&m, ex, twice, count_source, &src, WEFT_FOREVER, &o));
    CHECK_EQ(atomic_load(&src.pulled), 0); /* nothing before the first next */
    for (long consumed = 0; consumed < 500;) {
        void *r, *in;
        CHECK_OK(weft_map_next(m, WEFT_FOREVER, &r, &in));
        CHECK_EQ((intptr_t)in, consumed);
        CHECK_EQ((intptr_t)r, 2 * consumed);
        consumed++;
        CHECK(atomic_load(&src.pulled) <= consumed + 6);
    }
    weft_map_free(m);
    weft_executor_free(ex);
}

static int record_thread(void *arg, void **result)
{
    *result = (void *)(uintptr_t)pthread_self();
    return 0;
}

TEST(lazy_map_chunksize_runs_inputs_together)
{
    weft_executor *ex = pool(4);
    counter_src src = {.limit = 20};
    weft_map_opts o = {.chunksize = 5};
    weft_map *m;
    CHECK_OK(weft_map_new(&m, ex, record_thread, count_source, &src, WEFT_FOREVER, &o));
    void *threads[20];
    for (int i = 0; i < 20; i++) {
        void *in;
        CHECK_OK(weft_map_next(m, WEFT_FOREVER, &threads[i], &in));
        CHECK_EQ((intptr_t)in, i);
    }
    CHECK_RC(weft_map_next(m, WEFT_FOREVER, NULL, NULL), ENOENT);
    CHECK_RC(weft_map_next(m, WEFT_FOREVER, NULL, NULL), ENOENT);
    for (int i = 0; i < 20; i++)
        CHECK(threads[i] == threads[i - i % 5]); /* one task per chunk */
    weft_map_free(m);
    weft_executor_free(ex);
}

static gate uo_gate;

static int first_waits(void *arg, void **result)
{
    if ((intptr_t)arg == 0)
        gate_pass(&uo_gate);
    *result = arg;
    return 0;
}

TEST(lazy_map_unordered_yields_in_completion_order)
{
    gate_init(&uo_gate);
    weft_executor *ex = pool(2);
    counter_src src = {.limit = 2};
    weft_map_opts o = {.unordered = true};
    weft_map *m;
    CHECK_OK(weft_map_new(&m, ex, first_waits, count_source, &src, WEFT_FOREVER, &o));
    void *r, *in;
    CHECK_OK(weft_map_next(m, WEFT_FOREVER, &r, &in));
    CHECK_EQ((intptr_t)in, 1); /* input 0 is still blocked */
    gate_open(&uo_gate);
    CHECK_OK(weft_map_next(m, WEFT_FOREVER, &r, &in));
    CHECK_EQ((intptr_t)in, 0);
    CHECK_RC(weft_map_next(m, WEFT_FOREVER, &r, &in), ENOENT);
    weft_map_free(m);
    weft_executor_free(ex);
}

static int fail_odd(void *arg, void **result)
{
    if ((intptr_t)arg % 2)
        return weft_fail(EPROTO, "odd %d", (int)(intptr_t)arg);
    *result = arg;
    return 0;
}

TEST(lazy_map_failed_item_and_source_error)
{
    weft_executor *ex = pool(2);
    counter_src src = {.limit = -1, .fail_at = 4};
    weft_map_opts o = {.chunksize = 2};
    weft_map *m;
    CHECK_OK(weft_map_new(&m, ex, fail_odd, count_source, &src, WEFT_FOREVER, &o));
    for (int i = 0; i < 4; i++) {
        void *r = (void *)1, *in;
        int rc = weft_map_next(m, WEFT_FOREVER, &r, &in);
        CHECK_EQ((intptr_t)in, i);
        if (i % 2) {
            CHECK_RC(rc, WEFT_EFAILED);
            const char *msg;
            CHECK_EQ(weft_map_error(m, &msg), EPROTO);
            char want[16];
            snprintf(want, sizeof want, "odd %d", i);
            CHECK_STR(msg, want);
            CHECK(r == NULL);
        } else {
            CHECK_OK(rc);
            CHECK_EQ(weft_map_error(m, NULL), 0);
        }
    }
    /* Every input the source gave came out first; then its error; then the end. */
    CHECK_RC(weft_map_next(m, WEFT_FOREVER, NULL, NULL), EIO);
    CHECK_RC(weft_map_next(m, WEFT_FOREVER, NULL, NULL), ENOENT);
    weft_map_free(m);
    weft_executor_free(ex);
}

static gate to_gate;

static int gated_twice(void *arg, void **result)
{
    gate_pass(&to_gate);
    *result = (void *)(2 * (intptr_t)arg);
    return 0;
}

TEST(lazy_map_timeout)
{
    gate_init(&to_gate);
    weft_executor *ex = pool(1);
    counter_src src = {.limit = 1};
    weft_map *m;
    CHECK_OK(weft_map_new(&m, ex, gated_twice, count_source, &src, WEFT_FOREVER, NULL));
    double t0 = weft_monotonic();
    CHECK_RC(weft_map_next(m, 0.05, NULL, NULL), ETIMEDOUT);
    CHECK(weft_monotonic() - t0 >= 0.05 - 0.001);
    CHECK_RC(weft_map_next(m, 0, NULL, NULL), ETIMEDOUT);
    CHECK_RC(weft_map_next(m, NAN, NULL, NULL), EINVAL);
    gate_open(&to_gate);
    void *in;
    CHECK_OK(weft_map_next(m, WEFT_FOREVER, NULL, &in));
    CHECK_EQ((intptr_t)in, 0);
    CHECK_RC(weft_map_next(m, WEFT_FOREVER, NULL, NULL), ENOENT);
    weft_map_free(m);
    weft_executor_free(ex);
}

/* Item 0 at once, every later one waits for to_gate. */
static int first_free_then_gated(void *arg, void **result)
{
    if ((intptr_t)arg != 0)
        gate_pass(&to_gate);
    *result = arg;
    return 0;
}

TEST(lazy_map_timeout_bounds_the_whole_iteration)
{
    gate_init(&to_gate);
    weft_executor *ex = pool(2);
    counter_src src = {.limit = 3};
    weft_map *m;
    weft_map_opts o = {.buffersize = 3};
    CHECK_RC(weft_map_new(&m, ex, twice, count_source, &src, NAN, &o), EINVAL);
    CHECK_RC(weft_map_new(&m, ex, twice, count_source, &src, -2, &o), EINVAL);
    double t0 = weft_monotonic();
    CHECK_OK(weft_map_new(&m, ex, first_free_then_gated, count_source, &src, 0.2, &o));
    void *r = NULL, *in = NULL;
    CHECK_OK(weft_map_next(m, WEFT_FOREVER, &r, &in));
    CHECK_EQ((intptr_t)in, 0);
    /* A poll that times out first is the call's own: the map goes on. */
    CHECK_RC(weft_map_next(m, 0.01, NULL, NULL), ETIMEDOUT);
    CHECK_EQ(weft_map_error(m, NULL), 0);
    /* A call willing to wait forever still ends at the map's deadline,
     * counted from weft_map_new (a per-call timeout would hang here). */
    CHECK_RC(weft_map_next(m, WEFT_FOREVER, NULL, NULL), ETIMEDOUT);
    CHECK(weft_monotonic() - t0 >= 0.2 - 0.001);
    const char *msg = NULL;
    CHECK_EQ(weft_map_error(m, &msg), ETIMEDOUT);
    CHECK(msg != NULL);
    /* The iteration is over, as Python's iterator after TimeoutError. */
    CHECK_RC(weft_map_next(m, WEFT_FOREVER, NULL, NULL), ETIMEDOUT);
    gate_open(&to_gate);
    weft_map_free(m);
    CHECK_RC(weft_map_error(NULL, NULL), EINVAL);
    CHECK_RC(weft_map_next(NULL, 0, NULL, NULL), EINVAL);
    weft_executor_free(ex);
}

/* Work of a known length (what is timed, not a synchronisation): stops
 * early when interrupted. */
static int hundred_ms(void *arg, void **result)
{
    *result = arg;
    return weft_sleep(0.1) == ECANCELED ? ECANCELED : 0;
}

TEST(map_timeout_bounds_the_whole_map_not_each_task)
{
    /* One worker, four tasks of 100 ms: each result comes within 250 ms of
     * the one before, but all four take 400 ms. */
    weft_executor *ex = pool(1);
    void *args[4] = {(void *)1, (void *)2, (void *)3, (void *)4};
    void *results[4] = {0};
    int errors[4] = {-1, -1, -1, -1};
    CHECK_RC(weft_executor_map(ex, hundred_ms, args, 4, NAN, results, errors), EINVAL);
    CHECK_RC(weft_executor_map(ex, hundred_ms, args, 4, -0.5, results, errors), EINVAL);
    double t0 = weft_monotonic();
    CHECK_RC(weft_executor_map(ex, hundred_ms, args, 4, 0.25, results, errors), ETIMEDOUT);
    CHECK(weft_monotonic() - t0 >= 0.25 - 0.001);
    CHECK(results[0] == (void *)1); /* done 150 ms before the deadline */
    CHECK_EQ(errors[0], 0);
    /* Nothing it submitted is left running; what had not started never
     * will (the cancelled tasks stay queued until a worker skips them). */
    weft_executor_stats st;
    weft_executor_stats_get(ex, &st);
    CHECK_EQ(st.running, 0);
    CHECK_OK(weft_executor_map(ex, twice, args, 4, 30.0, results, NULL));
    CHECK(results[3] == (void *)8);
    CHECK_OK(weft_executor_shutdown(ex, true, false));
    weft_executor_stats_get(ex, &st);
    /* One task at least had not finished at the deadline: never started
     * (cancelled) or, on a slow run (sanitizers), interrupted (failed). */
    CHECK(st.cancelled + st.failed >= 1);
    CHECK_EQ(st.completed + st.failed + st.cancelled, 4 + 4);
    weft_executor_free(ex);
}

static atomic_int free_ran;

static int count_ran(void *arg, void **result)
{
    atomic_fetch_add(&free_ran, 1);
    return 0;
}

TEST(lazy_map_free_cancels_pending)
{
    weft_executor *ex = pool(1);
    gate g;
    gate_init(&g);
    weft_future *b;
    CHECK_OK(weft_executor_submit(ex, blocker, &g, &b));
    gate_wait_arrived(&g, 1);
    counter_src src = {.limit = -1};
    weft_map_opts o = {.buffersize = 8, .chunksize = 2};
    weft_map *m;
    CHECK_OK(weft_map_new(&m, ex, count_ran, count_source, &src, WEFT_FOREVER, &o));
    CHECK_RC(weft_map_next(m, 0, NULL, NULL), ETIMEDOUT);
    CHECK_EQ(atomic_load(&src.pulled), 8);
    weft_map_free(m); /* every chunk is pending: cancelled, no wait */
    gate_open(&g);
    CHECK_OK(weft_future_result(b, WEFT_FOREVER, NULL));
    weft_future_unref(b);
    weft_executor_shutdown(ex, true, false);
    CHECK_EQ(atomic_load(&free_ran), 0);
    weft_executor_stats st;
    weft_executor_stats_get(ex, &st);
    CHECK_EQ(st.cancelled, 4);
    weft_executor_free(ex);
}

TEST(map_under_fault_injection)
{
    weft_executor *ex = pool(2);
    void *args[16], *results[16];
    for (int i = 0; i < 16; i++)
        args[i] = (void *)(intptr_t)i;
    int rc;
    for (long n = 0;; n++) {
        weft__alloc_fail_after(n);
        rc = weft_executor_map(ex, twice, args, 16, WEFT_FOREVER, results, NULL);
        weft__alloc_fail_reset();
        if (rc == 0)
            break;
        CHECK_RC(rc, ENOMEM);
        CHECK(n < 100);
    }
    for (int i = 0; i < 16; i++)
        CHECK_EQ((intptr_t)results[i], 2 * i);
    counter_src src = {.limit = 10};
    weft_map *m;
    for (long n = 0;; n++) {
        weft__alloc_fail_after(n);
        rc = weft_map_new(&m, ex, twice, count_source, &src, WEFT_FOREVER, NULL);
        weft__alloc_fail_reset();
        if (rc == 0)
            break;
        CHECK_RC(rc, ENOMEM);
    }
    /* A failed submit keeps the pulled inputs and retries them. */
    weft__alloc_fail_after(1); /* the chunk, not its future */
    CHECK_RC(weft_map_next(m, WEFT_FOREVER, NULL, NULL), ENOMEM);
    weft__alloc_fail_reset();
    for (int i = 0; i < 10; i++) {
        void *in, *r;
        CHECK_OK(weft_map_next(m, WEFT_FOREVER, &r, &in));
        CHECK_EQ((intptr_t)in, i);
        CHECK_EQ((intptr_t)r, 2 * i);
    }
    CHECK_RC(weft_map_next(m, WEFT_FOREVER, NULL, NULL), ENOENT);
    weft_map_free(m);
    weft_executor_free(ex);
}
