/* weft_cond: the seeds' producer/consumer, FIFO notify, notify_all, timeouts
 * with the lock held again, RLock levels restored, wait_for, ownership
 * errors, cancellation, fault injection and a many-producer stress test. */
#include "test.h"
#include "cancel-internal.h"

#include <math.h>
#include <pthread.h>

/* ------------------------------------------------------------ the seed */

/* The seeds' example: one producer appends 0..4, notify_all; two consumers
 * pop under `while (!data) wait`. The seed's consumers stop at item 4, which
 * only one of them ever sees; here the producer also says "done". */
typedef struct {
    weft_cond *cond;
    int data[5], head, tail;
    bool done;
    int got[2][5], ngot[2];
    int rc;
} seed_state;

typedef struct {
    seed_state *s;
    int id;
} seed_consumer;

static void *seed_producer_main(void *arg)
{
    seed_state *s = arg;
    for (int i = 0; i < 5; i++) {
        weft_cond_acquire(s->cond, WEFT_FOREVER);
        s->data[s->tail++] = i;
        weft_cond_notify_all(s->cond); /* wake sleeping consumers */
        weft_cond_release(s->cond);
    }
    weft_cond_acquire(s->cond, WEFT_FOREVER);
    s->done = true;
    weft_cond_notify_all(s->cond);
    weft_cond_release(s->cond);
    return NULL;
}

static void *seed_consumer_main(void *arg)
{
    seed_consumer *c = arg;
    seed_state *s = c->s;
    for (;;) {
        weft_cond_acquire(s->cond, WEFT_FOREVER);
        while (s->head == s->tail && !s->done) { /* while, not if */
            int rc = weft_cond_wait(s->cond, WEFT_FOREVER);
            if (rc)
                s->rc = rc;
        }
        if (s->head == s->tail) {
            weft_cond_release(s->cond);
            return NULL;
        }
        s->got[c->id][s->ngot[c->id]++] = s->data[s->head++];
        weft_cond_release(s->cond);
    }
}

TEST(seed_producer_consumer)
{
    seed_state s = {0};
    CHECK_OK(weft_cond_new(&s.cond, NULL)); /* Python's Condition() */
    seed_consumer cs[2] = {{&s, 0}, {&s, 1}};
    pthread_t t[3];
    CHECK_EQ(pthread_create(&t[0], NULL, seed_producer_main, &s), 0);
    CHECK_EQ(pthread_create(&t[1], NULL, seed_consumer_main, &cs[0]), 0);
    CHECK_EQ(pthread_create(&t[2], NULL, seed_consumer_main, &cs[1]), 0);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    CHECK_OK(s.rc);
    CHECK_EQ(s.ngot[0] + s.ngot[1], 5);
    /* Every item consumed exactly once, each consumer in order. */
    int seen = 0;
    for (int c = 0; c < 2; c++)
        for (int i = 0; i < s.ngot[c]; i++) {
            seen |= 1 << s.got[c][i];
            if (i > 0)
                CHECK(s.got[c][i] > s.got[c][i - 1]);
        }
    CHECK_EQ(seen, 0x1f);
    weft_cond_free(s.cond);
}

/* ------------------------------------------------------------ notify */

#define NWAITERS 3

typedef struct {
    weft_lock *lock;
    weft_cond *cond;
    weft_cond *progress; /* the waiters report here, so as not to wake each other */
    flag queued[NWAITERS];
    int order[NWAITERS], nwoken;
    int rc[NWAITERS];
    bool held_after[NWAITERS];
} fifo_state;

typedef struct {
    fifo_state *s;
    int id;
} fifo_waiter;

static void *fifo_main(void *arg)
{
    fifo_waiter *w = arg;
    fifo_state *s = w->s;
    weft_lock_acquire(s->lock, WEFT_FOREVER);
    flag_set(&s->queued[w->id], 1);
    int rc = weft_cond_wait(s->cond, WEFT_FOREVER);
    s->rc[w->id] = rc;
    s->held_after[w->id] = weft_lock_held(s->lock);
    s->order[s->nwoken++] = w->id;
    weft_cond_notify_all(s->progress);
    weft_lock_release(s->lock);
    return NULL;
}

/* Starts the waiters one at a time: once waiter i has said it holds the lock,
 * the test's own acquisition can only succeed after waiter i released it
 * inside wait, by which time it is queued. So the queue order is 0, 1, 2. */
static void fifo_start(fifo_state *s, fifo_waiter *ws, pthread_t *t)
{
    CHECK_OK(weft_lock_new(&s->lock));
    CHECK_OK(weft_cond_new(&s->cond, s->lock));
    CHECK_OK(weft_cond_new(&s->progress, s->lock));
    for (int i = 0; i < NWAITERS; i++) {
        flag_init(&s->queued[i]);
        ws[i].s = s;
        ws[i].id = i;
        CHECK_EQ(pthread_create(&t[i], NULL, fifo_main, &ws[i]), 0);
        flag_wait(&s->queued[i], 1);
        CHECK_OK(weft_lock_acquire(s->lock, WEFT_FOREVER));
        CHECK_OK(weft_lock_release(s->lock));
    }
}

static int want_woken;
static bool woken_reached(void *arg)
{
    return ((fifo_state *)arg)->nwoken >= want_woken;
}

static void fifo_finish(fifo_state *s, pthread_t *t)
{
    for (int i = 0; i < NWAITERS; i++) {
        pthread_join(t[i], NULL);
        CHECK_OK(s->rc[i]);
        CHECK(s->held_after[i]);
        flag_destroy(&s->queued[i]);
    }
    CHECK(!weft_lock_locked(s->lock));
    weft_cond_free(s->cond);
    weft_cond_free(s->progress);
    weft_lock_free(s->lock);
}

TEST(notify_one_wakes_longest_waiting_first)
{
    fifo_state s = {0};
    fifo_waiter ws[NWAITERS];
    pthread_t t[NWAITERS];
    fifo_start(&s, ws, t);
    CHECK_OK(weft_lock_acquire(s.lock, WEFT_FOREVER));
    for (int k = 1; k <= NWAITERS; k++) {
        CHECK_OK(weft_cond_notify(s.cond, 1));
        want_woken = k;
        CHECK_OK(weft_cond_wait_for(s.progress, woken_reached, &s, WEFT_FOREVER));
        CHECK_EQ(s.nwoken, k);           /* exactly one per notify(1) ... */
        CHECK_EQ(s.order[k - 1], k - 1); /* ... and the oldest one */
        if (k < NWAITERS) {
            /* No other waiter is on its way: nothing more arrives. */
            want_woken = k + 1;
            CHECK_RC(weft_cond_wait_for(s.progress, woken_reached, &s, 0.05), ETIMEDOUT);
            CHECK(weft_lock_held(s.lock));
        }
    }
    CHECK_OK(weft_lock_release(s.lock));
    fifo_finish(&s, t);
}

TEST(notify_n_and_notify_all)
{
    fifo_state s = {0};
    fifo_waiter ws[NWAITERS];
    pthread_t t[NWAITERS];
    fifo_start(&s, ws, t);
    CHECK_OK(weft_lock_acquire(s.lock, WEFT_FOREVER));
    CHECK_OK(weft_cond_notify(s.cond, 0)); /* wakes nobody */
    CHECK_OK(weft_cond_notify(s.cond, 2));
    want_woken = 2;
    CHECK_OK(weft_cond_wait_for(s.progress, woken_reached, &s, WEFT_FOREVER));
    CHECK_EQ(s.nwoken, 2);
    CHECK_OK(weft_cond_notify_all(s.cond));
    want_woken = NWAITERS;
    CHECK_OK(weft_cond_wait_for(s.progress, woken_reached, &s, WEFT_FOREVER));
    CHECK_EQ(s.order[NWAITERS - 1], NWAITERS - 1);
    CHECK_OK(weft_lock_release(s.lock));
    fifo_finish(&s, t);
}

TEST(notify_all_wakes_every_waiter)
{
    fifo_state s = {0};
    fifo_waiter ws[NWAITERS];
    pthread_t t[NWAITERS];
    fifo_start(&s, ws, t);
    CHECK_OK(weft_lock_acquire(s.lock, WEFT_FOREVER));
    CHECK_OK(weft_cond_notify_all(s.cond));
    CHECK_OK(weft_lock_release(s.lock));
    fifo_finish(&s, t); /* joins: every waiter returned 0 holding the lock */
    CHECK_EQ(s.nwoken, NWAITERS);
}

/* ------------------------------------------------------------ errors */

TEST(not_holding_the_lock_is_eperm)
{
    weft_lock *l;
    weft_cond *c;
    CHECK_OK(weft_lock_new(&l));
    CHECK_OK(weft_cond_new(&c, l));
    CHECK_RC(weft_cond_wait(c, 0), EPERM);
    CHECK_RC(weft_cond_wait_for(c, woken_reached, NULL, 0), EPERM);
    CHECK_RC(weft_cond_notify(c, 1), EPERM);
    CHECK_RC(weft_cond_notify_all(c), EPERM);
    CHECK_RC(weft_cond_release(c), EPERM);
    CHECK(!weft_lock_locked(l));
    CHECK_OK(weft_cond_acquire(c, 0));
    CHECK(weft_lock_held(l));
    CHECK_RC(weft_cond_acquire(c, 0), EDEADLK); /* a plain lock's codes */
    CHECK_RC(weft_cond_wait(c, NAN), EINVAL);
    CHECK_RC(weft_cond_wait(c, -0.5), EINVAL);
    CHECK(weft_lock_held(l));
    CHECK_OK(weft_cond_release(c));
    weft_cond_free(c);
    weft_cond_free(NULL);
    weft_lock_free(l);
}

TEST(wait_timeout_holds_lock_again)
{
    weft_lock *l;
    weft_cond *c;
    CHECK_OK(weft_lock_new(&l));
    CHECK_OK(weft_cond_new(&c, l));
    CHECK_OK(weft_cond_acquire(c, WEFT_FOREVER));
    double t0 = weft_monotonic();
    CHECK_RC(weft_cond_wait(c, 0.1), ETIMEDOUT);
    CHECK(weft_monotonic() - t0 >= 0.1 - 1e-3);
    CHECK(weft_lock_held(l));
    CHECK_RC(weft_cond_wait(c, 0), ETIMEDOUT);
    CHECK(weft_lock_held(l));
    /* The timed-out waiter left the queue: a notify now wakes nobody and
     * nothing breaks. */
    CHECK_OK(weft_cond_notify(c, 1));
    CHECK_OK(weft_cond_release(c));
    weft_cond_free(c);
    weft_lock_free(l);
}

TEST(own_rlock_and_new_rlock)
{
    weft_cond *c;
    CHECK_OK(weft_cond_new(&c, NULL));
    CHECK_OK(weft_cond_acquire(c, 0));
    CHECK_OK(weft_cond_acquire(c, 0)); /* reentrant */
    CHECK_RC(weft_cond_wait(c, 0.01), ETIMEDOUT);
    CHECK_OK(weft_cond_release(c));
    CHECK_OK(weft_cond_notify(c, 1)); /* still held one level */
    CHECK_OK(weft_cond_release(c));
    CHECK_RC(weft_cond_notify(c, 1), EPERM);
    weft_cond_free(c);
    CHECK_RC(weft_cond_new_rlock(&c, NULL), EINVAL);
}

/* ------------------------------------------------------------ RLock levels */

typedef struct {
    weft_rlock *rlock;
    weft_cond *cond;
    flag ready;
    bool go;
    int rc;
    unsigned count_after;
} rlock_state;

static void *rlock_waiter_main(void *arg)
{
    rlock_state *s = arg;
    for (int i = 0; i < 3; i++)
        weft_rlock_acquire(s->rlock, WEFT_FOREVER);
    flag_set(&s->ready, 1);
    while (!s->go && s->rc == 0)
        s->rc = weft_cond_wait(s->cond, WEFT_FOREVER);
    s->count_after = weft_rlock_count(s->rlock);
    for (int i = 0; i < 3; i++)
        weft_rlock_release(s->rlock);
    return NULL;
}

TEST(wait_over_rlock_restores_levels)
{
    rlock_state s = {0};
    CHECK_OK(weft_rlock_new(&s.rlock));
    CHECK_OK(weft_cond_new_rlock(&s.cond, s.rlock));
    flag_init(&s.ready);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, rlock_waiter_main, &s), 0);
    flag_wait(&s.ready, 1);
    /* Succeeds only once the waiter released all three levels in wait. */
    CHECK_OK(weft_rlock_acquire(s.rlock, WEFT_FOREVER));
    CHECK_EQ(weft_rlock_count(s.rlock), 1);
    s.go = true;
    CHECK_OK(weft_cond_notify(s.cond, 1));
    CHECK_OK(weft_rlock_release(s.rlock));
    pthread_join(t, NULL);
    CHECK_OK(s.rc);
    CHECK_EQ(s.count_after, 3);
    CHECK(!weft_rlock_is_owned(s.rlock));
    CHECK_OK(weft_rlock_acquire(s.rlock, 0)); /* fully released by the waiter */
    CHECK_OK(weft_rlock_release(s.rlock));
    flag_destroy(&s.ready);
    weft_cond_free(s.cond);
    weft_rlock_free(s.rlock);
}

/* ------------------------------------------------------------ wait_for */

typedef struct {
    weft_cond *cond;
    weft_lock *lock;
    int value;
    int calls;
    bool unlocked_call;
} pred_state;

static bool value_is_3(void *arg)
{
    pred_state *p = arg;
    p->calls++;
    if (!weft_lock_held(p->lock))
        p->unlocked_call = true;
    return p->value == 3;
}

static void *stepper_main(void *arg)
{
    pred_state *p = arg;
    for (int i = 0; i < 3; i++) {
        weft_lock_acquire(p->lock, WEFT_FOREVER);
        p->value++;
        weft_cond_notify_all(p->cond);
        weft_lock_release(p->lock);
    }
    return NULL;
}

TEST(wait_for_predicate)
{
    pred_state p = {0};
    CHECK_OK(weft_lock_new(&p.lock));
    CHECK_OK(weft_cond_new(&p.cond, p.lock));
    CHECK_OK(weft_lock_acquire(p.lock, WEFT_FOREVER));
    /* Never true: times out, not early, holding the lock. */
    double t0 = weft_monotonic();
    CHECK_RC(weft_cond_wait_for(p.cond, value_is_3, &p, 0.1), ETIMEDOUT);
    CHECK(weft_monotonic() - t0 >= 0.1 - 1e-3);
    CHECK(weft_lock_held(p.lock));
    CHECK(p.calls >= 1);
    /* Becomes true through several notifies. */
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, stepper_main, &p), 0);
    CHECK_OK(weft_cond_wait_for(p.cond, value_is_3, &p, WEFT_FOREVER));
    CHECK_EQ(p.value, 3);
    CHECK(weft_lock_held(p.lock));
    CHECK_OK(weft_lock_release(p.lock));
    pthread_join(t, NULL);
    /* Already true: checked first, no wait even with timeout 0. */
    CHECK_OK(weft_lock_acquire(p.lock, WEFT_FOREVER));
    p.calls = 0;
    CHECK_OK(weft_cond_wait_for(p.cond, value_is_3, &p, 0));
    CHECK_EQ(p.calls, 1);
    CHECK_RC(weft_cond_wait_for(p.cond, value_is_3, &p, NAN), EINVAL);
    CHECK_OK(weft_lock_release(p.lock));
    CHECK(!p.unlocked_call);
    weft_cond_free(p.cond);
    weft_lock_free(p.lock);
}

/* ------------------------------------------------------------ cancellation */

typedef struct {
    weft_cond *cond;
    weft_lock *lock;
    weft__cancel tok;
    flag ready;
    int rc;
    bool held_after;
} cancel_state;

static void *cancel_main(void *arg)
{
    cancel_state *s = arg;
    weft__cancel_swap(&s->tok);
    weft_lock_acquire(s->lock, WEFT_FOREVER);
    flag_set(&s->ready, 1);
    s->rc = weft_cond_wait(s->cond, WEFT_FOREVER);
    s->held_after = weft_lock_held(s->lock);
    weft_lock_release(s->lock);
    weft__cancel_swap(NULL);
    return NULL;
}

TEST(cancelled_wait_returns_ecanceled_holding_lock)
{
    cancel_state s = {0};
    CHECK_OK(weft_lock_new(&s.lock));
    CHECK_OK(weft_cond_new(&s.cond, s.lock));
    weft__cancel_init(&s.tok);
    flag_init(&s.ready);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, cancel_main, &s), 0);
    flag_wait(&s.ready, 1);
    /* Hold the lock while cancelling: the waiter must still get it back
     * (uncancellably) before returning. */
    CHECK_OK(weft_lock_acquire(s.lock, WEFT_FOREVER));
    weft__cancel_request(&s.tok);
    CHECK_OK(weft_lock_release(s.lock));
    pthread_join(t, NULL);
    CHECK_RC(s.rc, ECANCELED);
    CHECK(s.held_after);
    CHECK(!weft_lock_locked(s.lock));
    weft__cancel_destroy(&s.tok);
    flag_destroy(&s.ready);
    weft_cond_free(s.cond);
    weft_lock_free(s.lock);
}

/* ------------------------------------------------------------ faults */

TEST(constructors_under_fault_injection)
{
    weft_lock *l;
    weft_rlock *r;
    CHECK_OK(weft_lock_new(&l));
    CHECK_OK(weft_rlock_new(&r));
    for (int kind = 0; kind < 3; kind++) {
        for (long n = 0;; n++) {
            weft_cond *c = NULL;
            weft__alloc_fail_after(n);
            int rc = kind == 0   ? weft_cond_new(&c, NULL)
                     : kind == 1 ? weft_cond_new(&c, l)
                                 : weft_cond_new_rlock(&c, r);
            weft__alloc_fail_reset();
            if (rc == 0) {
                CHECK_OK(weft_cond_acquire(c, 0));
                CHECK_OK(weft_cond_notify_all(c));
                CHECK_OK(weft_cond_release(c));
                weft_cond_free(c);
                break;
            }
            CHECK_RC(rc, ENOMEM);
            CHECK(n < 10);
        }
    }
    weft_rlock_free(r);
    weft_lock_free(l);
}

/* ------------------------------------------------------------ stress */

#define PRODUCERS  4
#define CONSUMERS  4
#define ITEMS_EACH 20000
#define RING       8

typedef struct {
    weft_lock *lock;
    weft_cond *not_empty, *not_full;
    pthread_barrier_t start;
    long ring[RING];
    int head, count;
    long put_sum, got_sum, put_n, got_n;
    int producers_left;
    int bad;
} stress_state;

static void *stress_producer(void *arg)
{
    stress_state *s = arg;
    pthread_barrier_wait(&s->start);
    for (long i = 1; i <= ITEMS_EACH; i++) {
        weft_lock_acquire(s->lock, WEFT_FOREVER);
        while (s->count == RING) {
            /* Mix timed waits in: timeouts must not lose notifies. */
            int rc = weft_cond_wait(s->not_full, i % 2 ? 1e-4 : WEFT_FOREVER);
            if (rc != 0 && rc != ETIMEDOUT)
                s->bad = rc;
        }
        s->ring[(s->head + s->count++) % RING] = i;
        s->put_sum += i;
        s->put_n++;
        weft_cond_notify(s->not_empty, 1);
        weft_lock_release(s->lock);
    }
    weft_lock_acquire(s->lock, WEFT_FOREVER);
    if (--s->producers_left == 0)
        weft_cond_notify_all(s->not_empty);
    weft_lock_release(s->lock);
    return NULL;
}

static void *stress_consumer(void *arg)
{
    stress_state *s = arg;
    pthread_barrier_wait(&s->start);
    for (int k = 0;; k++) {
        weft_lock_acquire(s->lock, WEFT_FOREVER);
        while (s->count == 0 && s->producers_left > 0) {
            int rc = weft_cond_wait(s->not_empty, k % 2 ? 1e-4 : WEFT_FOREVER);
            if (rc != 0 && rc != ETIMEDOUT)
                s->bad = rc;
        }
        if (s->count == 0) {
            weft_lock_release(s->lock);
            return NULL;
        }
        long v = s->ring[s->head];
        s->head = (s->head + 1) % RING;
        s->count--;
        s->got_sum += v;
        s->got_n++;
        weft_cond_notify(s->not_full, 1);
        weft_lock_release(s->lock);
    }
}

TEST_T(stress_producers_consumers, 30)
{
    stress_state s = {0};
    CHECK_OK(weft_lock_new(&s.lock));
    CHECK_OK(weft_cond_new(&s.not_empty, s.lock));
    CHECK_OK(weft_cond_new(&s.not_full, s.lock));
    s.producers_left = PRODUCERS;
    pthread_barrier_init(&s.start, NULL, PRODUCERS + CONSUMERS);
    pthread_t t[PRODUCERS + CONSUMERS];
    for (int i = 0; i < PRODUCERS + CONSUMERS; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, i < PRODUCERS ? stress_producer : stress_consumer, &s),
                 0);
    for (int i = 0; i < PRODUCERS + CONSUMERS; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ(s.bad, 0);
    CHECK_EQ(s.put_n, (long)PRODUCERS * ITEMS_EACH);
    CHECK_EQ(s.got_n, s.put_n);
    CHECK_EQ(s.got_sum, s.put_sum);
    CHECK_EQ(s.count, 0);
    CHECK(!weft_lock_locked(s.lock));
    pthread_barrier_destroy(&s.start);
    weft_cond_free(s.not_empty);
    weft_cond_free(s.not_full);
    weft_lock_free(s.lock);
}

static bool always(void *arg)
{
    return true;
}

TEST(null_handles)
{
    CHECK_RC(weft_cond_new(NULL, NULL), EINVAL);
    CHECK_RC(weft_cond_new_rlock(NULL, NULL), EINVAL);
    weft_cond *c = NULL;
    CHECK_RC(weft_cond_new_rlock(&c, NULL), EINVAL);
    CHECK_RC(weft_cond_acquire(NULL, 0), EINVAL);
    CHECK_RC(weft_cond_release(NULL), EINVAL);
    CHECK_RC(weft_cond_wait(NULL, 0), EINVAL);
    CHECK_RC(weft_cond_wait_for(NULL, always, NULL, 0), EINVAL);
    CHECK_RC(weft_cond_notify(NULL, 1), EINVAL);
    CHECK_RC(weft_cond_notify_all(NULL), EINVAL);
    CHECK_OK(weft_cond_new(&c, NULL));
    CHECK_OK(weft_cond_acquire(c, 0));
    CHECK_RC(weft_cond_wait_for(c, NULL, NULL, 0), EINVAL);
    CHECK_OK(weft_cond_release(c));
    weft_cond_free(c);
    weft_cond_free(NULL);
}
