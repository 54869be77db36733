/* weft_rlock: the seeds' recursion (outer/inner, the bank-account transfer),
 * ownership errors, overflow, timeouts, cancellation, the guard, fault
 * injection and a stress test. */
#include "cancel-internal.h"
#include "test.h"
#include "sync-internal.h" /* white box: the overflow test sets the count */

#include <limits.h>
#include <math.h>
#include <pthread.h>

/* ------------------------------------------------------------ the seeds */

static weft_rlock *seed_lock;
static int trail[4], ntrail;

static void inner(void)
{
    WEFT_WITH_RLOCK(seed_lock); /* the same thread acquires again */
    trail[ntrail++] = (int)weft_rlock_count(seed_lock);
}

static void outer(void)
{
    WEFT_WITH_RLOCK(seed_lock);
    trail[ntrail++] = (int)weft_rlock_count(seed_lock);
    inner();
    trail[ntrail++] = (int)weft_rlock_count(seed_lock);
}

TEST(outer_inner_recursion)
{
    CHECK_OK(weft_rlock_new(&seed_lock));
    outer();
    CHECK_EQ(ntrail, 3);
    CHECK_EQ(trail[0], 1);
    CHECK_EQ(trail[1], 2);
    CHECK_EQ(trail[2], 1);
    CHECK(!weft_rlock_is_owned(seed_lock));
    CHECK_EQ(weft_rlock_count(seed_lock), 0);
    weft_rlock_free(seed_lock);
    weft_rlock_free(NULL);
}

typedef struct {
    long balance;
    weft_rlock *lock;
} account;

static void deposit(account *a, long amount)
{
    WEFT_WITH_RLOCK(a->lock);
    a->balance += amount;
}

static void transfer_from(account *self, account *other, long amount)
{
    WEFT_WITH_RLOCK(self->lock);
    WEFT_WITH_RLOCK(other->lock);
    self->balance -= amount;
    deposit(other, amount); /* takes other->lock a second time */
}

typedef struct {
    account *from, *to;
    pthread_barrier_t *start;
} transfer_arg;

static void *transfer_main(void *arg)
{
    transfer_arg *t = arg;
    pthread_barrier_wait(t->start);
    for (int i = 0; i < 20000; i++) {
        transfer_from(t->from, t->to, 1);
        deposit(t->from, 1);
    }
    return NULL;
}

TEST(bank_account_transfer)
{
    account a = {100, NULL}, b = {50, NULL};
    CHECK_OK(weft_rlock_new(&a.lock));
    CHECK_OK(weft_rlock_new(&b.lock));
    transfer_from(&a, &b, 30);
    CHECK_EQ(a.balance, 70);
    CHECK_EQ(b.balance, 80);
    /* Concurrent transfers in the same direction (one lock order, so no
     * deadlock): each moves 1 and puts 1 back, so a is unchanged and b
     * gains 1 per step. */
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, 3);
    transfer_arg ta = {&a, &b, &start};
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, transfer_main, &ta), 0);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ(a.balance, 70);
    CHECK_EQ(b.balance, 80 + 3 * 20000);
    pthread_barrier_destroy(&start);
    weft_rlock_free(a.lock);
    weft_rlock_free(b.lock);
}

/* ------------------------------------------------------------ errors */

TEST(release_not_owned_is_eperm)
{
    weft_rlock *l;
    CHECK_OK(weft_rlock_new(&l));
    CHECK_RC(weft_rlock_release(l), EPERM);
    CHECK_OK(weft_rlock_acquire(l, 0));
    CHECK_OK(weft_rlock_acquire(l, 0));
    CHECK_EQ(weft_rlock_count(l), 2);
    CHECK_OK(weft_rlock_release(l));
    CHECK(weft_rlock_is_owned(l));
    CHECK_OK(weft_rlock_release(l));
    CHECK(!weft_rlock_is_owned(l));
    CHECK_RC(weft_rlock_release(l), EPERM);
    weft_rlock_free(l);
}

TEST(count_overflow_is_eoverflow)
{
    weft_rlock *l;
    CHECK_OK(weft_rlock_new(&l));
    CHECK_OK(weft_rlock_acquire(l, WEFT_FOREVER));
    l->count = UINT_MAX - 1; /* instead of 4 billion acquisitions */
    CHECK_OK(weft_rlock_acquire(l, WEFT_FOREVER));
    CHECK_EQ(weft_rlock_count(l), UINT_MAX);
    CHECK_RC(weft_rlock_acquire(l, WEFT_FOREVER), EOVERFLOW);
    CHECK_EQ(weft_rlock_count(l), UINT_MAX); /* unchanged */
    l->count = 1;
    CHECK_OK(weft_rlock_release(l));
    CHECK(!weft_lock_locked(&l->lock));
    weft_rlock_free(l);
}

TEST(bad_timeouts_are_einval)
{
    weft_rlock *l;
    CHECK_OK(weft_rlock_new(&l));
    CHECK_RC(weft_rlock_acquire(l, NAN), EINVAL);
    CHECK_RC(weft_rlock_acquire(l, -0.5), EINVAL);
    CHECK_EQ(weft_rlock_count(l), 0);
    CHECK_OK(weft_rlock_acquire(l, 0));
    CHECK_RC(weft_rlock_acquire(l, NAN), EINVAL); /* even for the owner */
    CHECK_EQ(weft_rlock_count(l), 1);
    CHECK_OK(weft_rlock_release(l));
    weft_rlock_free(l);
}

/* A thread holding the lock two levels deep until told to let go. */
typedef struct {
    weft_rlock *lock;
    flag holding, done;
    int rc;
} holder;

static void *hold_main(void *arg)
{
    holder *h = arg;
    h->rc = weft_rlock_acquire(h->lock, WEFT_FOREVER);
    if (h->rc == 0)
        h->rc = weft_rlock_acquire(h->lock, WEFT_FOREVER);
    flag_set(&h->holding, 1);
    flag_wait(&h->done, 1);
    if (h->rc == 0)
        h->rc = weft_rlock_release(h->lock);
    if (h->rc == 0)
        h->rc = weft_rlock_release(h->lock);
    return NULL;
}

TEST(other_owner_busy_timeout_and_eperm)
{
    weft_rlock *l;
    CHECK_OK(weft_rlock_new(&l));
    holder h = {.lock = l};
    flag_init(&h.holding);
    flag_init(&h.done);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, hold_main, &h), 0);
    flag_wait(&h.holding, 1);
    CHECK_OK(h.rc);
    CHECK(!weft_rlock_is_owned(l));
    CHECK_EQ(weft_rlock_count(l), 0); /* the caller's level, not the owner's */
    CHECK_RC(weft_rlock_acquire(l, 0), EBUSY);
    CHECK_RC(weft_rlock_release(l), EPERM);
    double t0 = weft_monotonic();
    CHECK_RC(weft_rlock_acquire(l, 0.1), ETIMEDOUT);
    CHECK(weft_monotonic() - t0 >= 0.1 - 1e-3);
    flag_set(&h.done, 1);
    CHECK_OK(weft_rlock_acquire(l, WEFT_FOREVER)); /* free once both levels go */
    CHECK_EQ(weft_rlock_count(l), 1);
    CHECK_OK(weft_rlock_release(l));
    pthread_join(t, NULL);
    CHECK_OK(h.rc);
    flag_destroy(&h.holding);
    flag_destroy(&h.done);
    weft_rlock_free(l);
}

typedef struct {
    weft_rlock *lock;
    weft__cancel tok;
    flag ready;
    int rc;
} cancel_arg;

static void *cancel_main(void *arg)
{
    cancel_arg *a = arg;
    weft__cancel_swap(&a->tok);
    flag_set(&a->ready, 1);
    a->rc = weft_rlock_acquire(a->lock, WEFT_FOREVER);
    weft__cancel_swap(NULL);
    return NULL;
}

TEST(cancelled_waiter_returns_ecanceled)
{
    weft_rlock *l;
    CHECK_OK(weft_rlock_new(&l));
    CHECK_OK(weft_rlock_acquire(l, WEFT_FOREVER));
    cancel_arg a = {.lock = l};
    weft__cancel_init(&a.tok);
    flag_init(&a.ready);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, cancel_main, &a), 0);
    flag_wait(&a.ready, 1);
    weft__cancel_request(&a.tok);
    pthread_join(t, NULL);
    CHECK_RC(a.rc, ECANCELED);
    CHECK_EQ(weft_rlock_count(l), 1);
    CHECK_OK(weft_rlock_release(l));
    weft__cancel_destroy(&a.tok);
    flag_destroy(&a.ready);
    weft_rlock_free(l);
}

static int guarded(weft_rlock *l, int depth)
{
    WEFT_WITH_RLOCK(l);
    if (depth == 0)
        return (int)weft_rlock_count(l); /* early return releases each level */
    return guarded(l, depth - 1);
}

TEST(with_rlock_releases_on_every_path)
{
    weft_rlock *l;
    CHECK_OK(weft_rlock_new(&l));
    CHECK_EQ(guarded(l, 4), 5);
    CHECK(!weft_rlock_is_owned(l));
    CHECK(!weft_lock_locked(&l->lock));
    weft_rlock_free(l);
}

TEST(new_under_fault_injection)
{
    for (long n = 0;; n++) {
        weft_rlock *l = NULL;
        weft__alloc_fail_after(n);
        int rc = weft_rlock_new(&l);
        weft__alloc_fail_reset();
        if (rc == 0) {
            CHECK_OK(weft_rlock_acquire(l, 0));
            CHECK_OK(weft_rlock_release(l));
            weft_rlock_free(l);
            break;
        }
        CHECK_RC(rc, ENOMEM);
        CHECK(n < 10);
    }
}

/* ------------------------------------------------------------ stress */

#define STRESS_THREADS 6
#define STRESS_ITERS   50000

typedef struct {
    weft_rlock *lock;
    pthread_barrier_t *start;
    long counter, skipped;
    int inside;
    int bad;
} stress_arg;

static void *stress_main(void *arg)
{
    stress_arg *a = arg;
    long skipped = 0;
    pthread_barrier_wait(a->start);
    for (int i = 0; i < STRESS_ITERS; i++) {
        double timeout = i % 3 == 0 ? WEFT_FOREVER : i % 3 == 1 ? 0 : 1e-5;
        int rc = weft_rlock_acquire(a->lock, timeout);
        if (rc == EBUSY || rc == ETIMEDOUT) {
            skipped++;
            continue;
        }
        if (rc != 0 || weft_rlock_acquire(a->lock, 0) != 0) {
            __atomic_store_n(&a->bad, rc ? rc : -3, __ATOMIC_RELAXED);
            break;
        }
        if (__atomic_add_fetch(&a->inside, 1, __ATOMIC_RELAXED) != 1)
            __atomic_store_n(&a->bad, -1, __ATOMIC_RELAXED);
        a->counter++;
        __atomic_sub_fetch(&a->inside, 1, __ATOMIC_RELAXED);
        if (weft_rlock_release(a->lock) != 0 || weft_rlock_release(a->lock) != 0)
            __atomic_store_n(&a->bad, -2, __ATOMIC_RELAXED);
    }
    __atomic_add_fetch(&a->skipped, skipped, __ATOMIC_RELAXED);
    return NULL;
}

TEST_T(stress_mixed_acquire, 20)
{
    weft_rlock *l;
    CHECK_OK(weft_rlock_new(&l));
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, STRESS_THREADS);
    stress_arg a = {.lock = l, .start = &start};
    pthread_t t[STRESS_THREADS];
    for (int i = 0; i < STRESS_THREADS; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, stress_main, &a), 0);
    for (int i = 0; i < STRESS_THREADS; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ(a.bad, 0);
    CHECK_EQ(a.counter + a.skipped, (long)STRESS_THREADS * STRESS_ITERS);
    CHECK_OK(weft_rlock_acquire(l, 0));
    CHECK_OK(weft_rlock_release(l));
    pthread_barrier_destroy(&start);
    weft_rlock_free(l);
}

TEST(null_handles)
{
    CHECK_RC((weft_rlock_new)(NULL), EINVAL);
    CHECK_RC(weft_rlock_new(NULL), EINVAL);
    CHECK_RC(weft_rlock_new_named(NULL, "x"), EINVAL);
    CHECK_RC(weft_rlock_acquire(NULL, 0), EINVAL);
    CHECK_RC(weft_rlock_release(NULL), EINVAL);
    CHECK(!weft_rlock_is_owned(NULL));
    CHECK_EQ(weft_rlock_count(NULL), 0);
    weft_rlock_free(NULL);
}
