/* weft_lock: the seeds' race counter, try/timed acquire, ownership errors,
 * cancellation, the WEFT_WITH_LOCK guard, fault injection and a stress test. */
#include "test.h"
#include "cancel-internal.h"

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------ helpers */

/* ------------------------------------------------------------ basics */

TEST(new_is_unlocked)
{
    weft_lock *l;
    CHECK_OK(weft_lock_new(&l));
    CHECK(!weft_lock_locked(l));
    CHECK(!weft_lock_held(l));
    CHECK_OK(weft_lock_acquire(l, WEFT_FOREVER));
    CHECK(weft_lock_locked(l));
    CHECK(weft_lock_held(l));
    CHECK_OK(weft_lock_release(l));
    CHECK(!weft_lock_locked(l));
    CHECK(!weft_lock_held(l));
    weft_lock_free(l);
    weft_lock_free(NULL);
}

TEST(self_reacquire_is_edeadlk)
{
    weft_lock *l;
    CHECK_OK(weft_lock_new(&l));
    CHECK_OK(weft_lock_acquire(l, 0));
    CHECK_RC(weft_lock_acquire(l, WEFT_FOREVER), EDEADLK);
    CHECK_RC(weft_lock_acquire(l, 0), EDEADLK);
    CHECK_RC(weft_lock_acquire(l, 0.01), EDEADLK);
    CHECK(weft_lock_held(l));
    CHECK_OK(weft_lock_release(l));
    weft_lock_free(l);
}

TEST(release_unlocked_is_eperm)
{
    weft_lock *l;
    CHECK_OK(weft_lock_new(&l));
    CHECK_RC(weft_lock_release(l), EPERM);
    CHECK_OK(weft_lock_acquire(l, 0));
    CHECK_OK(weft_lock_release(l));
    CHECK_RC(weft_lock_release(l), EPERM);
    CHECK(!weft_lock_locked(l));
    weft_lock_free(l);
}

TEST(bad_timeouts_are_einval)
{
    weft_lock *l;
    CHECK_OK(weft_lock_new(&l));
    /* Free lock: the timeout is still checked. */
    CHECK_RC(weft_lock_acquire(l, NAN), EINVAL);
    CHECK_RC(weft_lock_acquire(l, -0.5), EINVAL);
    CHECK_RC(weft_lock_acquire(l, -2), EINVAL);
    CHECK(!weft_lock_locked(l));
    CHECK_OK(weft_lock_acquire(l, 1e300)); /* huge saturates */
    CHECK_OK(weft_lock_release(l));
    weft_lock_free(l);
}

/* A thread that holds `lock` until told to release it. */
typedef struct {
    weft_lock *lock;
    flag holding, done;
    int rc;
} holder;

static void *hold_main(void *arg)
{
    holder *h = arg;
    h->rc = weft_lock_acquire(h->lock, WEFT_FOREVER);
    flag_set(&h->holding, 1);
    flag_wait(&h->done, 1);
    if (h->rc == 0)
        h->rc = weft_lock_release(h->lock);
    return NULL;
}

static void holder_start(holder *h, pthread_t *t, weft_lock *l)
{
    h->lock = l;
    flag_init(&h->holding);
    flag_init(&h->done);
    CHECK_EQ(pthread_create(t, NULL, hold_main, h), 0);
    flag_wait(&h->holding, 1);
    CHECK_OK(h->rc);
}

static void holder_stop(holder *h, pthread_t t)
{
    flag_set(&h->done, 1);
    pthread_join(t, NULL);
    CHECK_OK(h->rc);
    flag_destroy(&h->holding);
    flag_destroy(&h->done);
}

TEST(try_acquire_held_elsewhere_is_ebusy)
{
    weft_lock *l;
    CHECK_OK(weft_lock_new(&l));
    holder h;
    pthread_t t;
    holder_start(&h, &t, l);
    CHECK(weft_lock_locked(l));
    CHECK(!weft_lock_held(l));
    CHECK_RC(weft_lock_acquire(l, 0), EBUSY);
    /* Not the owner: release is refused and changes nothing. */
    CHECK_RC(weft_lock_release(l), EPERM);
    CHECK(weft_lock_locked(l));
    holder_stop(&h, t);
    CHECK(!weft_lock_locked(l));
    CHECK_OK(weft_lock_acquire(l, 0));
    CHECK_OK(weft_lock_release(l));
    weft_lock_free(l);
}

TEST(timed_acquire_times_out_not_early)
{
    weft_lock *l;
    CHECK_OK(weft_lock_new(&l));
    holder h;
    pthread_t t;
    holder_start(&h, &t, l);
    double t0 = weft_monotonic();
    CHECK_RC(weft_lock_acquire(l, 0.1), ETIMEDOUT);
    CHECK(weft_monotonic() - t0 >= 0.1 - 1e-3);
    CHECK(!weft_lock_held(l));
    holder_stop(&h, t);
    /* The timed-out waiter left no trace: the lock works normally. */
    CHECK_OK(weft_lock_acquire(l, 0));
    CHECK_OK(weft_lock_release(l));
    weft_lock_free(l);
}

/* A waiter blocked behind a holder gets the lock when it is released. */
typedef struct {
    weft_lock *lock;
    flag started;
    int rc;
    bool held_after;
} waiter_arg;

static void *wait_main(void *arg)
{
    waiter_arg *w = arg;
    flag_set(&w->started, 1);
    w->rc = weft_lock_acquire(w->lock, 5.0);
    w->held_after = weft_lock_held(w->lock);
    if (w->rc == 0)
        weft_lock_release(w->lock);
    return NULL;
}

TEST(waiter_gets_lock_on_release)
{
    weft_lock *l;
    CHECK_OK(weft_lock_new(&l));
    CHECK_OK(weft_lock_acquire(l, WEFT_FOREVER));
    waiter_arg w = {.lock = l};
    flag_init(&w.started);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, wait_main, &w), 0);
    flag_wait(&w.started, 1);
    CHECK_OK(weft_lock_release(l));
    pthread_join(t, NULL);
    CHECK_OK(w.rc);
    CHECK(w.held_after);
    CHECK(!weft_lock_locked(l));
    flag_destroy(&w.started);
    weft_lock_free(l);
}

/* ------------------------------------------------------------ cancellation */

typedef struct {
    weft_lock *lock;
    weft__cancel tok;
    flag ready;
    int rc;
    double waited;
} cancel_arg;

static void *cancel_main(void *arg)
{
    cancel_arg *a = arg;
    weft__cancel_swap(&a->tok);
    flag_set(&a->ready, 1);
    double t0 = weft_monotonic();
    a->rc = weft_lock_acquire(a->lock, WEFT_FOREVER);
    a->waited = weft_monotonic() - t0;
    weft__cancel_swap(NULL);
    return NULL;
}

TEST(cancelled_waiter_returns_ecanceled)
{
    weft_lock *l;
    CHECK_OK(weft_lock_new(&l));
    CHECK_OK(weft_lock_acquire(l, WEFT_FOREVER));
    cancel_arg a = {.lock = l};
    weft__cancel_init(&a.tok);
    flag_init(&a.ready);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, cancel_main, &a), 0);
    flag_wait(&a.ready, 1);
    /* Whether the waiter is asleep yet or not, it must see the request. */
    weft__cancel_request(&a.tok);
    pthread_join(t, NULL);
    CHECK_RC(a.rc, ECANCELED);
    CHECK(a.waited < 5.0); /* promptly: nobody else would ever wake it */
    CHECK(weft_lock_held(l));
    CHECK_OK(weft_lock_release(l));
    CHECK(!weft_lock_locked(l));
    weft__cancel_destroy(&a.tok);
    flag_destroy(&a.ready);
    weft_lock_free(l);
}

/* ------------------------------------------------------------ guard */

static int guarded(weft_lock *l, int early, bool *was_held)
{
    WEFT_WITH_LOCK(l);
    *was_held = weft_lock_held(l);
    if (early)
        return 1; /* released here */
    return 0;
}

TEST(with_lock_releases_on_every_path)
{
    weft_lock *l;
    CHECK_OK(weft_lock_new(&l));
    bool was_held = false;
    CHECK_EQ(guarded(l, 1, &was_held), 1);
    CHECK(was_held);
    CHECK(!weft_lock_locked(l));
    was_held = false;
    CHECK_EQ(guarded(l, 0, &was_held), 0);
    CHECK(was_held);
    CHECK(!weft_lock_locked(l));
    for (int i = 0; i < 3; i++) {
        WEFT_WITH_LOCK(l);
        CHECK(weft_lock_held(l));
        if (i == 1)
            break; /* released on break too */
    }
    CHECK(!weft_lock_locked(l));
    weft_lock_free(l);
}

static void *cancel_guard_main(void *arg)
{
    cancel_arg *a = arg;
    weft__cancel_swap(&a->tok);
    weft__cancel_request(&a->tok);
    WEFT_WITH_LOCK(a->lock); /* cancelled while blocked: must abort */
    a->rc = 0;
    return NULL;
}

TEST(with_lock_aborts_when_cancelled)
{
    /* The guard's failure aborts the process: do it in a grandchild. */
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        weft_lock *l;
        if (weft_lock_new(&l))
            _exit(3);
        weft_lock_acquire(l, WEFT_FOREVER);
        cancel_arg a = {.lock = l, .rc = -1};
        weft__cancel_init(&a.tok);
        pthread_t t;
        pthread_create(&t, NULL, cancel_guard_main, &a);
        pthread_join(t, NULL);
        _exit(0); /* not reached if the guard aborted */
    }
    int status;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFSIGNALED(status));
    CHECK_EQ(WTERMSIG(status), SIGABRT);
}

/* ------------------------------------------------------------ faults */

TEST(new_under_fault_injection)
{
    for (long n = 0;; n++) {
        weft_lock *l = NULL;
        weft__alloc_fail_after(n);
        int rc = weft_lock_new(&l);
        weft__alloc_fail_reset();
        if (rc == 0) {
            CHECK_OK(weft_lock_acquire(l, 0));
            CHECK_OK(weft_lock_release(l));
            weft_lock_free(l);
            break;
        }
        CHECK_RC(rc, ENOMEM);
        CHECK(n < 10);
    }
}

/* ------------------------------------------------------------ the seeds' race */

#define RACE_THREADS 5
#define RACE_ITERS   100000

typedef struct {
    weft_lock *lock;
    pthread_barrier_t *start;
    long *counter;
} race_arg;

static void *race_main(void *arg)
{
    race_arg *a = arg;
    pthread_barrier_wait(a->start);
    for (int i = 0; i < RACE_ITERS; i++) {
        WEFT_WITH_LOCK(a->lock);
        (*a->counter)++;
    }
    return NULL;
}

TEST(race_counter_is_exact)
{
    weft_lock *l;
    CHECK_OK(weft_lock_new(&l));
    long counter = 0;
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, RACE_THREADS);
    race_arg a = {.lock = l, .start = &start, .counter = &counter};
    pthread_t t[RACE_THREADS];
    for (int i = 0; i < RACE_THREADS; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, race_main, &a), 0);
    for (int i = 0; i < RACE_THREADS; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ(counter, (long)RACE_THREADS * RACE_ITERS);
    CHECK(!weft_lock_locked(l));
    pthread_barrier_destroy(&start);
    weft_lock_free(l);
}

/* ------------------------------------------------------------ stress */

/* A little work inside the critical section, so holders overlap with
 * arrivals and the slow path (sleep, timeout, wakeup) really runs. */
static void busy_work(void)
{
    for (volatile int k = 0; k < 50; k++)
        ;
}

#define STRESS_THREADS 6
#define STRESS_ITERS   100000

typedef struct {
    weft_lock *lock;
    pthread_barrier_t *start;
    long *counter;
    int inside; /* threads inside the critical section: must stay <= 1 */
    long timeouts, busies;
    int bad;
} stress_arg;

static void *stress_main(void *arg)
{
    stress_arg *a = arg;
    long timeouts = 0, busies = 0;
    pthread_barrier_wait(a->start);
    for (int i = 0; i < STRESS_ITERS; i++) {
        /* Mix untimed, try and short timed acquisitions. */
        double timeout = i % 3 == 0 ? WEFT_FOREVER : i % 3 == 1 ? 0 : 1e-5;
        int rc = weft_lock_acquire(a->lock, timeout);
        if (rc == EBUSY) {
            busies++;
            continue;
        }
        if (rc == ETIMEDOUT) {
            timeouts++;
            continue;
        }
        if (rc != 0) {
            __atomic_store_n(&a->bad, rc, __ATOMIC_RELAXED);
            break;
        }
        if (__atomic_add_fetch(&a->inside, 1, __ATOMIC_RELAXED) != 1)
            __atomic_store_n(&a->bad, -1, __ATOMIC_RELAXED);
        (*a->counter)++;
        busy_work();
        __atomic_sub_fetch(&a->inside, 1, __ATOMIC_RELAXED);
        if (weft_lock_release(a->lock) != 0)
            __atomic_store_n(&a->bad, -2, __ATOMIC_RELAXED);
    }
    __atomic_add_fetch(&a->timeouts, timeouts, __ATOMIC_RELAXED);
    __atomic_add_fetch(&a->busies, busies, __ATOMIC_RELAXED);
    return NULL;
}

TEST_T(stress_mixed_acquire, 20)
{
    weft_lock *l;
    CHECK_OK(weft_lock_new(&l));
    long counter = 0;
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, STRESS_THREADS);
    stress_arg a = {.lock = l, .start = &start, .counter = &counter};
    pthread_t t[STRESS_THREADS];
    for (int i = 0; i < STRESS_THREADS; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, stress_main, &a), 0);
    for (int i = 0; i < STRESS_THREADS; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ(a.bad, 0);
    CHECK_EQ(counter + a.timeouts + a.busies, (long)STRESS_THREADS * STRESS_ITERS);
    CHECK(!weft_lock_locked(l));
    /* No wakeup was lost: the lock is still usable from here. */
    CHECK_OK(weft_lock_acquire(l, 0));
    CHECK_OK(weft_lock_release(l));
    pthread_barrier_destroy(&start);
    weft_lock_free(l);
}

/* Waiters that give up (cancelled) while others sleep must not swallow the
 * wakeup those others need: the plain waiters here would then hang. */
#define CSTRESS_PLAIN     3
#define CSTRESS_CANCELLED 2
#define CSTRESS_ITERS     100000

typedef struct {
    weft_lock *lock;
    pthread_barrier_t *start;
    weft__cancel *tok; /* NULL for a plain waiter */
    long *counter;
    long cancels;
    int bad;
} cstress_arg;

static void *cstress_main(void *arg)
{
    cstress_arg *a = arg;
    weft__cancel_swap(a->tok);
    pthread_barrier_wait(a->start);
    for (int i = 0; i < CSTRESS_ITERS; i++) {
        int rc = weft_lock_acquire(a->lock, WEFT_FOREVER);
        if (rc == ECANCELED && a->tok) {
            a->cancels++;
            continue;
        }
        if (rc != 0) {
            a->bad = rc;
            break;
        }
        (*a->counter)++;
        busy_work();
        weft_lock_release(a->lock);
    }
    weft__cancel_swap(NULL);
    return NULL;
}

TEST_T(stress_cancelled_waiters_lose_no_wakeup, 20)
{
    enum { N = CSTRESS_PLAIN + CSTRESS_CANCELLED };
    weft_lock *l;
    CHECK_OK(weft_lock_new(&l));
    long counter = 0;
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, N + 1);
    weft__cancel toks[CSTRESS_CANCELLED];
    cstress_arg a[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        a[i] = (cstress_arg){.lock = l, .start = &start, .counter = &counter};
        if (i < CSTRESS_CANCELLED) {
            weft__cancel_init(&toks[i]);
            a[i].tok = &toks[i];
        }
        CHECK_EQ(pthread_create(&t[i], NULL, cstress_main, &a[i]), 0);
    }
    pthread_barrier_wait(&start);
    for (int i = 0; i < CSTRESS_CANCELLED; i++)
        weft__cancel_request(&toks[i]);
    long cancels = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        CHECK_EQ(a[i].bad, 0);
        cancels += a[i].cancels;
    }
    CHECK_EQ(counter + cancels, (long)N * CSTRESS_ITERS);
    CHECK(!weft_lock_locked(l));
    for (int i = 0; i < CSTRESS_CANCELLED; i++)
        weft__cancel_destroy(&toks[i]);
    pthread_barrier_destroy(&start);
    weft_lock_free(l);
}

/* The owner's non-blocking acquire is EDEADLK, as documented (Python's
 * acquire(blocking=False) would return False): the same with the deadlock
 * detector on, whose path is separate. Another thread's gets EBUSY. */
static void *try_from_other(void *arg)
{
    *(int *)((void **)arg)[1] = weft_lock_acquire(((void **)arg)[0], 0);
    return NULL;
}

TEST(owner_try_acquire_is_edeadlk_other_thread_ebusy)
{
    for (int mode = 0; mode < 2; mode++) {
        CHECK_OK(weft_deadlock_set_mode(mode ? WEFT_DEADLOCK_REPORT : WEFT_DEADLOCK_OFF));
        weft_lock *l;
        CHECK_OK(weft_lock_new(&l));
        CHECK_OK(weft_lock_acquire(l, 0));
        CHECK_RC(weft_lock_acquire(l, 0), EDEADLK);
        int rc = -1;
        void *args[2] = {l, &rc};
        pthread_t th;
        CHECK_OK(pthread_create(&th, NULL, try_from_other, args));
        pthread_join(th, NULL);
        CHECK_RC(rc, EBUSY);
        CHECK(weft_lock_held(l));
        CHECK_OK(weft_lock_release(l));
        weft_lock_free(l);
    }
    CHECK_OK(weft_deadlock_set_mode(WEFT_DEADLOCK_OFF));
}

TEST(null_handles)
{
    CHECK_RC((weft_lock_new)(NULL), EINVAL);
    CHECK_RC(weft_lock_new(NULL), EINVAL);
    CHECK_RC(weft_lock_new_named(NULL, "x"), EINVAL);
    CHECK_RC(weft_lock_acquire(NULL, 0), EINVAL);
    CHECK_RC(weft_lock_acquire(NULL, WEFT_FOREVER), EINVAL);
    CHECK_RC(weft_lock_release(NULL), EINVAL);
    CHECK(!weft_lock_locked(NULL));
    CHECK(!weft_lock_held(NULL));
    weft_lock_free(NULL);
}
