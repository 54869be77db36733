/* Semaphores: counting, bounded, FIFO service, timeouts, cancellation, and
 * the seeds' Semaphore(3) over ten threads. */
#include "test.h"
#include "cancel-internal.h"
#include "sync-internal.h"

#include <limits.h>
#include <math.h>
#include <sched.h>

/* Spins (yielding) until n threads are queued in acquire: a handshake on the
 * semaphore's own state, not a guess at how long a thread takes to block. */
static void wait_queued(weft_sem *s, unsigned n)
{
    while (weft__sem_n_waiting(s) != n)
        sched_yield();
}

TEST(sem_counts_and_reports_value)
{
    weft_sem *s;
    CHECK_OK(weft_sem_new(&s, 2));
    CHECK_EQ(weft_sem_value(s), 2);
    CHECK_OK(weft_sem_acquire(s, 0));
    CHECK_OK(weft_sem_acquire(s, WEFT_FOREVER));
    CHECK_EQ(weft_sem_value(s), 0);
    CHECK_RC(weft_sem_acquire(s, 0), EBUSY);
    CHECK_OK(weft_sem_release(s, 1));
    CHECK_EQ(weft_sem_value(s), 1);
    /* Unbounded: releasing above the initial value is allowed. */
    CHECK_OK(weft_sem_release(s, 5));
    CHECK_EQ(weft_sem_value(s), 6);
    weft_sem_free(s);
    weft_sem_free(NULL);
}

TEST(sem_zero_timeout_is_ebusy_not_etimedout)
{
    weft_sem *s;
    CHECK_OK(weft_sem_new(&s, 0));
    CHECK_RC(weft_sem_acquire(s, 0), EBUSY);
    CHECK_RC(weft_sem_acquire(s, 0.0), EBUSY);
    CHECK_EQ(weft_sem_value(s), 0);
    weft_sem_free(s);
}

TEST(sem_rejects_bad_timeouts_and_zero_release)
{
    weft_sem *s;
    CHECK_OK(weft_sem_new(&s, 1));
    /* Rejected even though a permit is free, and nothing is taken. */
    CHECK_RC(weft_sem_acquire(s, NAN), EINVAL);
    CHECK_RC(weft_sem_acquire(s, -0.5), EINVAL);
    CHECK_RC(weft_sem_acquire(s, -2), EINVAL);
    CHECK_EQ(weft_sem_value(s), 1);
    CHECK_RC(weft_sem_release(s, 0), EINVAL);
    CHECK_EQ(weft_sem_value(s), 1);
    weft_sem_free(s);
}

TEST(sem_bounded_over_release_is_eoverflow)
{
    weft_sem *s;
    CHECK_OK(weft_sem_new_bounded(&s, 2));
    CHECK_RC(weft_sem_release(s, 1), EOVERFLOW);
    CHECK_EQ(weft_sem_value(s), 2);
    CHECK_OK(weft_sem_acquire(s, 0));
    /* Two would exceed the bound: nothing at all is released. */
    CHECK_RC(weft_sem_release(s, 2), EOVERFLOW);
    CHECK_EQ(weft_sem_value(s), 1);
    CHECK_OK(weft_sem_release(s, 1));
    CHECK_EQ(weft_sem_value(s), 2);
    CHECK_RC(weft_sem_release(s, 1), EOVERFLOW);
    weft_sem_free(s);

    CHECK_OK(weft_sem_new_bounded(&s, 0));
    CHECK_RC(weft_sem_release(s, 1), EOVERFLOW);
    weft_sem_free(s);
}

TEST(sem_count_overflow_is_eoverflow)
{
    weft_sem *s;
    CHECK_OK(weft_sem_new(&s, UINT_MAX - 1));
    CHECK_RC(weft_sem_release(s, 2), EOVERFLOW);
    CHECK_EQ(weft_sem_value(s), UINT_MAX - 1);
    CHECK_OK(weft_sem_release(s, 1));
    CHECK_EQ(weft_sem_value(s), UINT_MAX);
    CHECK_RC(weft_sem_release(s, 1), EOVERFLOW);
    CHECK_RC(weft_sem_release(s, UINT_MAX), EOVERFLOW);
    CHECK_EQ(weft_sem_value(s), UINT_MAX);
    weft_sem_free(s);
}

TEST(sem_timed_acquire_not_early)
{
    weft_sem *s;
    CHECK_OK(weft_sem_new(&s, 0));
    double t0 = weft_monotonic();
    CHECK_RC(weft_sem_acquire(s, 0.1), ETIMEDOUT);
    CHECK(weft_monotonic() - t0 >= 0.1 - 1e-3);
    CHECK_EQ(weft__sem_n_waiting(s), 0);
    weft_sem_free(s);
}

TEST(sem_fault_injection)
{
    for (int bounded = 0; bounded < 2; bounded++) {
        weft_sem *s = NULL;
        for (long n = 0;; n++) {
            weft__alloc_fail_after(n);
            int rc = bounded ? weft_sem_new_bounded(&s, 3) : weft_sem_new(&s, 3);
            weft__alloc_fail_reset();
            if (rc == 0)
                break;
            CHECK_RC(rc, ENOMEM);
            CHECK(n < 100);
        }
        CHECK_EQ(weft_sem_value(s), 3);
        weft_sem_free(s);
    }
}

/* ---------------------------------------------------------------- the seed */

/* Semaphore(3) over ten threads. Each thread holds its permit until the main
 * thread lets it go, so three really are inside at once, and the main thread
 * checks at every step that a fourth never gets in. */
#define SEED_THREADS 10
#define SEED_PERMITS 3
static struct {
    weft_sem *sem;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int entered; /* threads that got in so far */
    int allowed; /* threads the main thread has let go */
    atomic_int inside, max_inside;
} seed = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void *seed_access_resource(void *arg)
{
    (void)arg;
    if (weft_sem_acquire(seed.sem, WEFT_FOREVER) != 0)
        abort();
    int now = atomic_fetch_add(&seed.inside, 1) + 1;
    int max = atomic_load(&seed.max_inside);
    while (now > max && !atomic_compare_exchange_weak(&seed.max_inside, &max, now))
        ;
    pthread_mutex_lock(&seed.mu);
    int turn = seed.entered++;
    pthread_cond_broadcast(&seed.cv);
    while (seed.allowed <= turn)
        pthread_cond_wait(&seed.cv, &seed.mu);
    pthread_mutex_unlock(&seed.mu);
    atomic_fetch_sub(&seed.inside, 1);
    if (weft_sem_release(seed.sem, 1) != 0)
        abort();
    return NULL;
}

static void seed_wait_entered(int n)
{
    pthread_mutex_lock(&seed.mu);
    while (seed.entered < n)
        pthread_cond_wait(&seed.cv, &seed.mu);
    pthread_mutex_unlock(&seed.mu);
}

TEST(sem_seed_three_of_ten)
{
    CHECK_OK(weft_sem_new(&seed.sem, SEED_PERMITS));
    pthread_t th[SEED_THREADS];
    for (int i = 0; i < SEED_THREADS; i++)
        CHECK_OK(pthread_create(&th[i], NULL, seed_access_resource, NULL));
    for (int step = 0; step < SEED_THREADS; step++) {
        int expect = step + SEED_PERMITS < SEED_THREADS ? step + SEED_PERMITS : SEED_THREADS;
        seed_wait_entered(expect);
        if (expect < SEED_THREADS) {
            /* The others are (or are about to be) queued; none got in. */
            CHECK_EQ(atomic_load(&seed.inside), SEED_PERMITS);
            CHECK_EQ(weft_sem_value(seed.sem), 0);
        }
        CHECK_INT(atomic_load(&seed.max_inside), <=, SEED_PERMITS);
        pthread_mutex_lock(&seed.mu);
        seed.allowed++;
        pthread_cond_broadcast(&seed.cv);
        pthread_mutex_unlock(&seed.mu);
    }
    for (int i = 0; i < SEED_THREADS; i++)
        pthread_join(th[i], NULL);
    CHECK_EQ(atomic_load(&seed.max_inside), SEED_PERMITS);
    CHECK_EQ(atomic_load(&seed.inside), 0);
    CHECK_EQ(weft_sem_value(seed.sem), SEED_PERMITS);
    weft_sem_free(seed.sem);
}

/* ---------------------------------------------------------------- FIFO */

#define FIFO_N 6
static struct {
    weft_sem *sem;
    atomic_int order[FIFO_N];
    atomic_int claimed, got;
    int rcs[FIFO_N];
    double timeouts[FIFO_N];
} fifo;

static void *fifo_waiter(void *arg)
{
    int i = (int)(intptr_t)arg;
    fifo.rcs[i] = weft_sem_acquire(fifo.sem, fifo.timeouts[i]);
    if (fifo.rcs[i] == 0) {
        /* Claim a slot, fill it, then publish: `got` counts filled slots. */
        atomic_store(&fifo.order[atomic_fetch_add(&fifo.claimed, 1)], i);
        atomic_fetch_add(&fifo.got, 1);
    }
    return NULL;
}

TEST(sem_serves_waiters_in_arrival_order)
{
    CHECK_OK(weft_sem_new(&fifo.sem, 0));
    pthread_t th[FIFO_N];
    for (int i = 0; i < FIFO_N; i++) {
        fifo.timeouts[i] = WEFT_FOREVER;
        CHECK_OK(pthread_create(&th[i], NULL, fifo_waiter, (void *)(intptr_t)i));
        wait_queued(fifo.sem, (unsigned)i + 1);
    }
    /* A late arrival must not overtake the queue, even with a timeout 0. */
    CHECK_RC(weft_sem_acquire(fifo.sem, 0), EBUSY);
    for (int k = 0; k < FIFO_N; k++) {
        CHECK_OK(weft_sem_release(fifo.sem, 1));
        while (atomic_load(&fifo.got) != k + 1)
            sched_yield();
        CHECK_EQ(atomic_load(&fifo.order[k]), k);
        /* The permit went to the waiter, not to the free count. */
        CHECK_EQ(weft_sem_value(fifo.sem), 0);
    }
    for (int i = 0; i < FIFO_N; i++) {
        pthread_join(th[i], NULL);
        CHECK_OK(fifo.rcs[i]);
    }
    weft_sem_free(fifo.sem);
}

TEST(sem_release_n_wakes_n_oldest_waiters)
{
    CHECK_OK(weft_sem_new(&fifo.sem, 0));
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        fifo.timeouts[i] = WEFT_FOREVER;
        CHECK_OK(pthread_create(&th[i], NULL, fifo_waiter, (void *)(intptr_t)i));
        wait_queued(fifo.sem, (unsigned)i + 1);
    }
    CHECK_OK(weft_sem_release(fifo.sem, 2));
    CHECK_EQ(weft__sem_n_waiting(fifo.sem), 1);
    CHECK_EQ(weft_sem_value(fifo.sem), 0);
    pthread_join(th[0], NULL);
    pthread_join(th[1], NULL);
    CHECK_EQ(atomic_load(&fifo.got), 2);
    /* Permits beyond the waiters stay free. */
    CHECK_OK(weft_sem_release(fifo.sem, 3));
    pthread_join(th[2], NULL);
    CHECK_EQ(atomic_load(&fifo.got), 3);
    CHECK_EQ(weft_sem_value(fifo.sem), 2);
    weft_sem_free(fifo.sem);
}

/* A waiter that times out leaves the queue without taking a permit with it:
 * the next release goes to the one behind. A's timeout must outlast B
 * queueing behind it, which no timeout guarantees: when A times out first,
 * the round is redone with a longer one (no wait here depends on timing). */
static atomic_bool fifo_done[2];

static void *fifo_waiter_done(void *arg)
{
    fifo_waiter(arg);
    atomic_store(&fifo_done[(intptr_t)arg], true);
    return NULL;
}

/* Spins until n are queued or A has returned; true when n are queued. */
static bool queued_or_a_done(unsigned n)
{
    for (;;) {
        if (atomic_load(&fifo_done[0]))
            return false;
        if (weft__sem_n_waiting(fifo.sem) == n)
            return true;
        sched_yield();
    }
}

TEST_T(sem_timed_out_waiter_loses_no_permit, 30)
{
    CHECK_OK(weft_sem_new(&fifo.sem, 0));
    for (double timeout = 0.05;; timeout *= 2) {
        pthread_t th[2];
        atomic_store(&fifo.claimed, 0);
        atomic_store(&fifo.got, 0);
        atomic_store(&fifo_done[0], false);
        atomic_store(&fifo_done[1], false);
        fifo.timeouts[0] = timeout;
        fifo.timeouts[1] = WEFT_FOREVER;
        CHECK_OK(pthread_create(&th[0], NULL, fifo_waiter_done, (void *)(intptr_t)0));
        bool started_b = false, both = false;
        if (queued_or_a_done(1)) {
            CHECK_OK(pthread_create(&th[1], NULL, fifo_waiter_done, (void *)(intptr_t)1));
            started_b = true;
            both = queued_or_a_done(2);
        }
        pthread_join(th[0], NULL);
        CHECK_RC(fifo.rcs[0], ETIMEDOUT);
        /* A left the queue; B, when it queued behind A, is still there. */
        if (both)
            CHECK_EQ(weft__sem_n_waiting(fifo.sem), 1);
        if (started_b) {
            CHECK_OK(weft_sem_release(fifo.sem, 1));
            pthread_join(th[1], NULL);
            CHECK_OK(fifo.rcs[1]);
        }
        CHECK_EQ(weft_sem_value(fifo.sem), 0);
        if (both)
            break; /* else A timed out before B queued: redo, longer */
    }
    weft_sem_free(fifo.sem);
}

/* ---------------------------------------------------------------- cancel */

static struct {
    weft_sem *sem;
    weft__cancel tok;
    int rc;
} cx;

static void *cancellable_acquire(void *arg)
{
    (void)arg;
    weft__cancel_swap(&cx.tok);
    cx.rc = weft_sem_acquire(cx.sem, WEFT_FOREVER);
    weft__cancel_swap(NULL);
    return NULL;
}

TEST(sem_cancel_wakes_a_blocked_waiter)
{
    CHECK_OK(weft_sem_new(&cx.sem, 0));
    weft__cancel_init(&cx.tok);
    pthread_t th;
    CHECK_OK(pthread_create(&th, NULL, cancellable_acquire, NULL));
    wait_queued(cx.sem, 1);
    weft__cancel_request(&cx.tok);
    pthread_join(th, NULL);
    CHECK_RC(cx.rc, ECANCELED);
    CHECK_EQ(weft__sem_n_waiting(cx.sem), 0);
    /* Nothing was lost or taken. */
    CHECK_EQ(weft_sem_value(cx.sem), 0);
    CHECK_OK(weft_sem_release(cx.sem, 1));
    CHECK_EQ(weft_sem_value(cx.sem), 1);
    weft__cancel_destroy(&cx.tok);
    weft_sem_free(cx.sem);
}

TEST(sem_cancel_requested_before_waiting)
{
    weft_sem *s;
    CHECK_OK(weft_sem_new(&s, 0));
    weft__cancel tok;
    weft__cancel_init(&tok);
    weft__cancel_request(&tok);
    weft__cancel_swap(&tok);
    CHECK_RC(weft_sem_acquire(s, WEFT_FOREVER), ECANCELED);
    CHECK_RC(weft_sem_acquire(s, 5), ECANCELED);
    /* A call that need not block still succeeds or fails as usual. */
    CHECK_RC(weft_sem_acquire(s, 0), EBUSY);
    CHECK_OK(weft_sem_release(s, 1));
    CHECK_OK(weft_sem_acquire(s, WEFT_FOREVER));
    weft__cancel_swap(NULL);
    weft__cancel_destroy(&tok);
    weft_sem_free(s);
}

/* The cancelled waiter was first in line; the permit released afterwards
 * must reach the waiter behind it. */
TEST(sem_cancelled_waiter_loses_no_permit)
{
    CHECK_OK(weft_sem_new(&cx.sem, 0));
    fifo.sem = cx.sem;
    weft__cancel_init(&cx.tok);
    pthread_t a, b;
    CHECK_OK(pthread_create(&a, NULL, cancellable_acquire, NULL));
    wait_queued(cx.sem, 1);
    fifo.timeouts[0] = WEFT_FOREVER;
    CHECK_OK(pthread_create(&b, NULL, fifo_waiter, (void *)(intptr_t)0));
    wait_queued(cx.sem, 2);
    weft__cancel_request(&cx.tok);
    pthread_join(a, NULL);
    CHECK_RC(cx.rc, ECANCELED);
    CHECK_OK(weft_sem_release(cx.sem, 1));
    pthread_join(b, NULL);
    CHECK_OK(fifo.rcs[0]);
    CHECK_EQ(weft_sem_value(cx.sem), 0);
    weft__cancel_destroy(&cx.tok);
    weft_sem_free(cx.sem);
}

/* ---------------------------------------------------------------- stress */

#define STRESS_THREADS 8
#define STRESS_PERMITS 3
#define STRESS_ITERS   3000
static struct {
    weft_sem *sem;
    pthread_barrier_t start;
    atomic_int inside;
    atomic_int violations;
    atomic_long acquired;
} st;

static void *stress_worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    pthread_barrier_wait(&st.start);
    for (int i = 0; i < STRESS_ITERS; i++) {
        /* Mix blocking, non-blocking and tiny timeouts, so waiters leave the
         * queue while permits are being handed over. */
        double timeout = (i + id) % 3 == 0 ? WEFT_FOREVER : (i + id) % 3 == 1 ? 0 : 1e-5;
        int rc = weft_sem_acquire(st.sem, timeout);
        if (rc == EBUSY || rc == ETIMEDOUT)
            continue;
        if (rc != 0)
            abort();
        int now = atomic_fetch_add(&st.inside, 1) + 1;
        if (now < 1 || now > STRESS_PERMITS)
            atomic_fetch_add(&st.violations, 1);
        atomic_fetch_add(&st.acquired, 1);
        if (atomic_fetch_sub(&st.inside, 1) - 1 < 0)
            atomic_fetch_add(&st.violations, 1);
        if (weft_sem_release(st.sem, 1) != 0)
            abort();
    }
    return NULL;
}

TEST(sem_stress_never_more_than_permits)
{
    CHECK_OK(weft_sem_new_bounded(&st.sem, STRESS_PERMITS));
    CHECK_OK(pthread_barrier_init(&st.start, NULL, STRESS_THREADS));
    pthread_t th[STRESS_THREADS];
    for (int i = 0; i < STRESS_THREADS; i++)
        CHECK_OK(pthread_create(&th[i], NULL, stress_worker, (void *)(intptr_t)i));
    for (int i = 0; i < STRESS_THREADS; i++)
        pthread_join(th[i], NULL);
    CHECK_EQ(atomic_load(&st.violations), 0);
    CHECK_EQ(atomic_load(&st.inside), 0);
    /* Every blocking acquire succeeded, and no permit was lost. */
    CHECK_INT(atomic_load(&st.acquired), >=, STRESS_THREADS * STRESS_ITERS / 3);
    CHECK_EQ(weft_sem_value(st.sem), STRESS_PERMITS);
    CHECK_EQ(weft__sem_n_waiting(st.sem), 0);
    pthread_barrier_destroy(&st.start);
    weft_sem_free(st.sem);
}

TEST(null_handles)
{
    CHECK_RC(weft_sem_new(NULL, 1), EINVAL);
    CHECK_RC(weft_sem_new_bounded(NULL, 1), EINVAL);
    CHECK_RC(weft_sem_acquire(NULL, 0), EINVAL);
    CHECK_RC(weft_sem_release(NULL, 1), EINVAL);
    CHECK_EQ(weft_sem_value(NULL), 0);
    weft_sem_free(NULL);
}
