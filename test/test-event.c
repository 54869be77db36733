/* Events: set/clear/is_set/wait, the seeds' waiter and signaler, timeouts,
 * wakeups that survive a clear(), cancellation, and publication order. */
#include "test.h"
#include "cancel-internal.h"
#include "sync-internal.h"

#include <math.h>
#include <sched.h>

static void wait_blocked(weft_event *e, unsigned n)
{
    while (weft__event_n_waiting(e) != n)
        sched_yield();
}

TEST(event_set_clear_is_set)
{
    weft_event *e;
    CHECK_OK(weft_event_new(&e));
    CHECK(!weft_event_is_set(e));
    weft_event_set(e);
    CHECK(weft_event_is_set(e));
    weft_event_set(e); /* idempotent */
    CHECK(weft_event_is_set(e));
    weft_event_clear(e);
    CHECK(!weft_event_is_set(e));
    weft_event_clear(e);
    CHECK(!weft_event_is_set(e));
    weft_event_free(e);
    weft_event_free(NULL);
}

TEST(event_wait_returns_at_once_when_set)
{
    weft_event *e;
    CHECK_OK(weft_event_new(&e));
    weft_event_set(e);
    CHECK_OK(weft_event_wait(e, 0));
    CHECK_OK(weft_event_wait(e, 1));
    CHECK_OK(weft_event_wait(e, WEFT_FOREVER));
    CHECK(weft_event_is_set(e)); /* waiting does not consume it */
    weft_event_free(e);
}

TEST(event_wait_timeout_not_early)
{
    weft_event *e;
    CHECK_OK(weft_event_new(&e));
    CHECK_RC(weft_event_wait(e, 0), ETIMEDOUT);
    double t0 = weft_monotonic();
    CHECK_RC(weft_event_wait(e, 0.1), ETIMEDOUT);
    CHECK(weft_monotonic() - t0 >= 0.1 - 1e-3);
    CHECK_EQ(weft__event_n_waiting(e), 0);
    weft_event_free(e);
}

TEST(event_rejects_bad_timeouts)
{
    weft_event *e;
    CHECK_OK(weft_event_new(&e));
    CHECK_RC(weft_event_wait(e, NAN), EINVAL);
    CHECK_RC(weft_event_wait(e, -0.5), EINVAL);
    weft_event_set(e);
    CHECK_RC(weft_event_wait(e, NAN), EINVAL); /* even when set */
    weft_event_free(e);
}

TEST(event_fault_injection)
{
    weft_event *e = NULL;
    for (long n = 0;; n++) {
        weft__alloc_fail_after(n);
        int rc = weft_event_new(&e);
        weft__alloc_fail_reset();
        if (rc == 0)
            break;
        CHECK_RC(rc, ENOMEM);
        CHECK(n < 100);
    }
    CHECK(!weft_event_is_set(e));
    weft_event_free(e);
}

/* ---------------------------------------------------------------- the seed */

static struct {
    weft_event *event;
    int rc;
    bool received;
    bool blocked_first;
} seed;

static void *seed_waiter(void *arg)
{
    (void)arg;
    /* "Waiter: Waiting for event..." */
    seed.rc = weft_event_wait(seed.event, WEFT_FOREVER);
    seed.received = true; /* "Waiter: Event received!" */
    return NULL;
}

static void *seed_signaler(void *arg)
{
    (void)arg;
    /* The seed sleeps 2 s; here the signaler waits until the waiter really
     * blocks, which is what the sleep stood for. */
    wait_blocked(seed.event, 1);
    seed.blocked_first = true;
    weft_event_set(seed.event); /* "Signaler: Setting event" */
    return NULL;
}

TEST(event_seed_waiter_and_signaler)
{
    CHECK_OK(weft_event_new(&seed.event));
    pthread_t t1, t2;
    CHECK_OK(pthread_create(&t1, NULL, seed_waiter, NULL));
    CHECK_OK(pthread_create(&t2, NULL, seed_signaler, NULL));
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    CHECK_OK(seed.rc);
    CHECK(seed.received);
    CHECK(seed.blocked_first);
    CHECK(weft_event_is_set(seed.event));
    weft_event_free(seed.event);
}

/* ---------------------------------------------------------------- wakeups */

#define WAITERS 4
static struct {
    weft_event *event;
    double timeout;
    int rcs[WAITERS];
} many;

static void *many_waiter(void *arg)
{
    int i = (int)(intptr_t)arg;
    many.rcs[i] = weft_event_wait(many.event, many.timeout);
    return NULL;
}

static void start_waiters(pthread_t *th, double timeout)
{
    many.timeout = timeout;
    for (int i = 0; i < WAITERS; i++) {
        many.rcs[i] = -1;
        CHECK_OK(pthread_create(&th[i], NULL, many_waiter, (void *)(intptr_t)i));
    }
    wait_blocked(many.event, WAITERS);
}

TEST(event_set_wakes_every_waiter)
{
    CHECK_OK(weft_event_new(&many.event));
    pthread_t th[WAITERS];
    start_waiters(th, WEFT_FOREVER);
    weft_event_set(many.event);
    for (int i = 0; i < WAITERS; i++) {
        pthread_join(th[i], NULL);
        CHECK_OK(many.rcs[i]);
    }
    weft_event_free(many.event);
}

/* set() then clear() before any waiter runs: Python's Event.wait() returns
 * True to every thread that was waiting when set() ran. */
TEST(event_set_then_clear_still_wakes_waiters)
{
    CHECK_OK(weft_event_new(&many.event));
    pthread_t th[WAITERS];
    start_waiters(th, 30);
    weft_event_set(many.event);
    weft_event_clear(many.event);
    for (int i = 0; i < WAITERS; i++) {
        pthread_join(th[i], NULL);
        CHECK_OK(many.rcs[i]);
    }
    CHECK(!weft_event_is_set(many.event));
    /* A later waiter sees the flag clear again. */
    CHECK_RC(weft_event_wait(many.event, 0), ETIMEDOUT);
    weft_event_free(many.event);
}

TEST(event_set_then_clear_wakes_untimed_waiters)
{
    CHECK_OK(weft_event_new(&many.event));
    pthread_t th[WAITERS];
    start_waiters(th, WEFT_FOREVER);
    weft_event_set(many.event);
    weft_event_clear(many.event);
    for (int i = 0; i < WAITERS; i++) {
        pthread_join(th[i], NULL);
        CHECK_OK(many.rcs[i]);
    }
    weft_event_free(many.event);
}

/* ---------------------------------------------------------------- cancel */

static struct {
    weft_event *event;
    weft__cancel tok;
    int rc;
} cx;

static void *cancellable_wait(void *arg)
{
    (void)arg;
    weft__cancel_swap(&cx.tok);
    cx.rc = weft_event_wait(cx.event, WEFT_FOREVER);
    weft__cancel_swap(NULL);
    return NULL;
}

TEST(event_cancel_wakes_a_blocked_waiter)
{
    CHECK_OK(weft_event_new(&cx.event));
    weft__cancel_init(&cx.tok);
    pthread_t th;
    CHECK_OK(pthread_create(&th, NULL, cancellable_wait, NULL));
    wait_blocked(cx.event, 1);
    weft__cancel_request(&cx.tok);
    pthread_join(th, NULL);
    CHECK_RC(cx.rc, ECANCELED);
    CHECK_EQ(weft__event_n_waiting(cx.event), 0);
    CHECK(!weft_event_is_set(cx.event));
    weft__cancel_destroy(&cx.tok);
    weft_event_free(cx.event);
}

TEST(event_cancel_requested_before_waiting)
{
    weft_event *e;
    CHECK_OK(weft_event_new(&e));
    weft__cancel tok;
    weft__cancel_init(&tok);
    weft__cancel_request(&tok);
    weft__cancel_swap(&tok);
    CHECK_RC(weft_event_wait(e, WEFT_FOREVER), ECANCELED);
    CHECK_RC(weft_event_wait(e, 1), ECANCELED);
    /* Already set: nothing to wait for, so it succeeds. */
    weft_event_set(e);
    CHECK_OK(weft_event_wait(e, WEFT_FOREVER));
    weft__cancel_swap(NULL);
    weft__cancel_destroy(&tok);
    weft_event_free(e);
}

/* ---------------------------------------------------------------- stress */

/* Rounds of publish-then-set: whatever the setter wrote before set() must be
 * visible to a waiter that returned 0 (TSan checks the happens-before, the
 * plain reads check the values). */
#define STRESS_THREADS 4
#define STRESS_ROUNDS  400
static struct {
    weft_event *go;
    pthread_barrier_t round;
    int data[STRESS_ROUNDS]; /* plain ints on purpose */
    atomic_int bad;
} st;

static void *stress_waiter(void *arg)
{
    (void)arg;
    for (int r = 0; r < STRESS_ROUNDS; r++) {
        int rc;
        /* Some waiters poll with timeouts, some block. */
        while ((rc = weft_event_wait(st.go, r % 2 ? 1e-4 : WEFT_FOREVER)) == ETIMEDOUT)
            ;
        if (rc != 0 || st.data[r] != r + 1)
            atomic_fetch_add(&st.bad, 1);
        pthread_barrier_wait(&st.round); /* everyone saw round r */
        pthread_barrier_wait(&st.round); /* the setter cleared it */
    }
    return NULL;
}

TEST(event_stress_publication)
{
    CHECK_OK(weft_event_new(&st.go));
    CHECK_OK(pthread_barrier_init(&st.round, NULL, STRESS_THREADS + 1));
    pthread_t th[STRESS_THREADS];
    for (int i = 0; i < STRESS_THREADS; i++)
        CHECK_OK(pthread_create(&th[i], NULL, stress_waiter, NULL));
    for (int r = 0; r < STRESS_ROUNDS; r++) {
        st.data[r] = r + 1;
        weft_event_set(st.go);
        pthread_barrier_wait(&st.round);
        weft_event_clear(st.go);
        pthread_barrier_wait(&st.round);
    }
    for (int i = 0; i < STRESS_THREADS; i++)
        pthread_join(th[i], NULL);
    CHECK_EQ(atomic_load(&st.bad), 0);
    pthread_barrier_destroy(&st.round);
    weft_event_free(st.go);
}

/* A one-shot event freed by its waiter as soon as wait() returns: the setter
 * must be done with the event by then (as with a pthread mutex, which may be
 * destroyed once unlocked). If wait() could return through a lock-free look
 * at the flag while set() still held the mutex, the free below would race
 * with set()'s broadcast and unlock (TSan: heap-use-after-free). */
#define FREE_ROUNDS 20000
static struct {
    pthread_barrier_t go;
    weft_event *e;
} fr;

static void *free_race_setter(void *arg)
{
    (void)arg;
    for (int r = 0; r < FREE_ROUNDS; r++) {
        pthread_barrier_wait(&fr.go);
        weft_event_set(fr.e); /* the last touch of e on this thread */
    }
    return NULL;
}

TEST_T(event_waiter_may_free_once_wait_returns, 20)
{
    CHECK_OK(pthread_barrier_init(&fr.go, NULL, 2));
    pthread_t th;
    CHECK_OK(pthread_create(&th, NULL, free_race_setter, NULL));
    for (int r = 0; r < FREE_ROUNDS; r++) {
        CHECK_OK(weft_event_new(&fr.e));
        pthread_barrier_wait(&fr.go);
        /* Spin so that wait() starts right as the flag turns on. */
        while (!weft_event_is_set(fr.e))
            ;
        CHECK_OK(weft_event_wait(fr.e, WEFT_FOREVER));
        weft_event_free(fr.e);
    }
    pthread_join(th, NULL);
    pthread_barrier_destroy(&fr.go);
}

TEST(null_handles)
{
    CHECK_RC(weft_event_new(NULL), EINVAL);
    CHECK_RC(weft_event_wait(NULL, 0), EINVAL);
    CHECK_RC(weft_event_wait(NULL, WEFT_FOREVER), EINVAL);
    weft_event_set(NULL);
    weft_event_clear(NULL);
    CHECK(!weft_event_is_set(NULL));
    weft_event_free(NULL);
}
