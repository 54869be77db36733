/* Queues: FIFO/LIFO/priority order, bounds and backpressure, timeouts,
 * task_done/join, shutdown, dispose, cancellation, allocation failures and
 * stress under contention. */
#include "test.h"
#include "cancel-internal.h"
#include "queue-internal.h"

#include <math.h>
#include <sched.h>

#define ITEM(i) ((void *)(uintptr_t)(i))
#define NUM(p)  ((uintptr_t)(p))

/* Handshake: returns once exactly the given numbers of threads sleep in
 * get, put and join. The counts change only when a thread really blocks. */
static void wait_waiters(weft_queue *q, unsigned getters, unsigned putters, unsigned joiners)
{
    for (;;) {
        unsigned g, p, j;
        weft__queue_waiters(q, &g, &p, &j);
        if (g == getters && p == putters && j == joiners)
            return;
        sched_yield();
    }
}

static void *get_one(weft_queue *q, double timeout)
{
    void *item = ITEM(0xdead);
    CHECK_OK(weft_queue_get(q, &item, timeout));
    return item;
}

/* ------------------------------------------------------------ basics */

TEST(new_defaults_and_bad_arguments)
{
    weft_queue *q = NULL;
    CHECK_OK(weft_queue_new(&q, NULL)); /* unbounded FIFO */
    for (uintptr_t i = 0; i < 1000; i++)
        CHECK_OK(weft_queue_put(q, ITEM(i), 0));
    CHECK(!weft_queue_full(q));
    CHECK_EQ(weft_queue_qsize(q), 1000);
    CHECK_EQ(NUM(get_one(q, 0)), 0);
    weft_queue_free(q, NULL, NULL);

    weft_queue_opts bad = {.kind = (weft_queue_kind)42};
    q = ITEM(1);
    CHECK_RC(weft_queue_new(&q, &bad), EINVAL);
    CHECK(q == NULL);
    CHECK_RC(weft_queue_new(NULL, NULL), EINVAL);
    weft_queue_free(NULL, NULL, NULL);
}

TEST(bad_timeouts_are_einval)
{
    weft_queue *q = new_queue(WEFT_QUEUE_FIFO, 0);
    void *item;
    CHECK_RC(weft_queue_put(q, NULL, NAN), EINVAL);
    CHECK_RC(weft_queue_put(q, NULL, -0.5), EINVAL);
    CHECK_RC(weft_queue_put_priority(q, NULL, 1, -2), EINVAL);
    CHECK_RC(weft_queue_get(q, &item, NAN), EINVAL);
    CHECK_RC(weft_queue_get(q, NULL, 0), EINVAL);
    CHECK_RC(weft_queue_join(q, NAN), EINVAL);
    CHECK_EQ(weft_queue_qsize(q), 0);
    CHECK_OK(weft_queue_join(q, 0)); /* nothing was put */
    weft_queue_free(q, NULL, NULL);
}

TEST(fifo_order_with_wraparound_and_growth)
{
    weft_queue *q = new_queue(WEFT_QUEUE_FIFO, 0);
    uintptr_t next_in = 0, next_out = 0;
    /* Move the ring's head, then grow it while wrapped, several times. */
    for (int round = 0; round < 6; round++) {
        for (int i = 0; i < 10 + round * 13; i++)
            CHECK_OK(weft_queue_put(q, ITEM(next_in++), WEFT_FOREVER));
        for (int i = 0; i < 7 + round * 5; i++)
            CHECK_EQ(NUM(get_one(q, WEFT_FOREVER)), next_out++);
    }
    while (next_out < next_in)
        CHECK_EQ(NUM(get_one(q, 0)), next_out++);
    CHECK(weft_queue_empty(q));
    weft_queue_free(q, NULL, NULL);
}

TEST(null_is_a_valid_item)
{
    weft_queue *q = new_queue(WEFT_QUEUE_FIFO, 2);
    CHECK_OK(weft_queue_put(q, NULL, 0));
    CHECK_OK(weft_queue_put(q, ITEM(5), 0));
    CHECK(get_one(q, 0) == NULL);
    CHECK_EQ(NUM(get_one(q, 0)), 5);
    weft_queue_free(q, NULL, NULL);
}

TEST(lifo_order)
{
    weft_queue *q = new_queue(WEFT_QUEUE_LIFO, 0);
    for (uintptr_t i = 0; i < 100; i++)
        CHECK_OK(weft_queue_put(q, ITEM(i), 0));
    for (uintptr_t i = 0; i < 50; i++)
        CHECK_EQ(NUM(get_one(q, 0)), 99 - i);
    CHECK_OK(weft_queue_put(q, ITEM(1000), 0));
    CHECK_EQ(NUM(get_one(q, 0)), 1000);
    for (uintptr_t i = 50; i < 100; i++)
        CHECK_EQ(NUM(get_one(q, 0)), 99 - i);
    /* Priorities are ignored outside priority queues. */
    CHECK_OK(weft_queue_put_priority(q, ITEM(1), 9, 0));
    CHECK_OK(weft_queue_put_priority(q, ITEM(2), -9, 0));
    CHECK_EQ(NUM(get_one(q, 0)), 2);
    CHECK_EQ(NUM(get_one(q, 0)), 1);
    weft_queue_free(q, NULL, NULL);
}

TEST(fifo_ignores_priority)
{
    weft_queue *q = new_queue(WEFT_QUEUE_FIFO, 0);
    CHECK_OK(weft_queue_put_priority(q, ITEM(1), 9, 0));
    CHECK_OK(weft_queue_put_priority(q, ITEM(2), -9, 0));
    CHECK_EQ(NUM(get_one(q, 0)), 1);
    CHECK_EQ(NUM(get_one(q, 0)), 2);
    weft_queue_free(q, NULL, NULL);
}

TEST(priority_order_is_stable)
{
    weft_queue *q = new_queue(WEFT_QUEUE_PRIORITY, 0);
    /* 300 items over 5 priorities, put in a scrambled priority order; each
     * item records (priority, rank within its priority). */
    enum { N = 300, P = 5 };
    int rank[P] = {0};
    for (int i = 0; i < N; i++) {
        int prio = (i * 7 + i / 3) % P;
        uintptr_t tag = (uintptr_t)prio * 1000 + (uintptr_t)rank[prio]++;
        CHECK_OK(weft_queue_put_priority(q, ITEM(tag), prio - 2, 0));
    }
    uintptr_t prev = 0;
    for (int i = 0; i < N; i++) {
        uintptr_t tag = NUM(get_one(q, 0));
        if (i > 0)
            CHECK(tag == prev + 1 || (tag / 1000 > prev / 1000 && tag % 1000 == 0));
        else
            CHECK_EQ(tag, 0);
        prev = tag;
    }
    /* weft_queue_put means priority 0; extremes order correctly. */
    CHECK_OK(weft_queue_put(q, ITEM(0), 0));
    CHECK_OK(weft_queue_put_priority(q, ITEM(1), INT64_MAX, 0));
    CHECK_OK(weft_queue_put_priority(q, ITEM(2), INT64_MIN, 0));
    CHECK_OK(weft_queue_put_priority(q, ITEM(3), 0, 0));
    CHECK_OK(weft_queue_put(q, NULL, 0));
    CHECK_EQ(NUM(get_one(q, 0)), 2);
    CHECK_EQ(NUM(get_one(q, 0)), 0);
    CHECK_EQ(NUM(get_one(q, 0)), 3);
    CHECK(get_one(q, 0) == NULL);
    CHECK_EQ(NUM(get_one(q, 0)), 1);
    weft_queue_free(q, NULL, NULL);
}

TEST(qsize_empty_full)
{
    weft_queue *q = new_queue(WEFT_QUEUE_LIFO, 2);
    CHECK(weft_queue_empty(q));
    CHECK(!weft_queue_full(q));
    CHECK_EQ(weft_queue_qsize(q), 0);
    CHECK_OK(weft_queue_put(q, NULL, 0));
    CHECK(!weft_queue_empty(q));
    CHECK(!weft_queue_full(q));
    CHECK_EQ(weft_queue_qsize(q), 1);
    CHECK_OK(weft_queue_put(q, NULL, 0));
    CHECK(weft_queue_full(q));
    CHECK_EQ(weft_queue_qsize(q), 2);
    get_one(q, 0);
    CHECK(!weft_queue_full(q));
    weft_queue_free(q, NULL, NULL);
    CHECK_EQ(weft_queue_qsize(NULL), 0);
}

TEST(nowait_eagain)
{
    weft_queue *q = new_queue(WEFT_QUEUE_PRIORITY, 1);
    void *item = ITEM(7);
    CHECK_RC(weft_queue_get(q, &item, 0), EAGAIN);
    CHECK_EQ(NUM(item), 7); /* untouched on failure */
    CHECK_OK(weft_queue_put(q, ITEM(1), 0));
    CHECK_RC(weft_queue_put(q, ITEM(2), 0), EAGAIN);
    CHECK_EQ(weft_queue_qsize(q), 1);
    CHECK_EQ(NUM(get_one(q, 0)), 1);
    weft_queue_free(q, NULL, NULL);
}

TEST(timed_get_and_put_not_early)
{
    weft_queue *q = new_queue(WEFT_QUEUE_FIFO, 1);
    void *item;
    double t0 = weft_monotonic();
    CHECK_RC(weft_queue_get(q, &item, 0.05), ETIMEDOUT);
    CHECK(weft_monotonic() - t0 >= 0.05 - 1e-3);
    CHECK_OK(weft_queue_put(q, NULL, 0));
    t0 = weft_monotonic();
    CHECK_RC(weft_queue_put(q, NULL, 0.05), ETIMEDOUT);
    CHECK(weft_monotonic() - t0 >= 0.05 - 1e-3);
    CHECK_EQ(weft_queue_qsize(q), 1);
    weft_queue_free(q, NULL, NULL);
}

/* ------------------------------------------------------------ blocking */

typedef struct call {
    weft_queue *q;
    void *item;
    double timeout;
    int rc;
    weft__cancel *tok; /* installed in the thread when set */
} call;

static void *do_put(void *arg)
{
    call *c = arg;
    weft__cancel_swap(c->tok);
    c->rc = weft_queue_put(c->q, c->item, c->timeout);
    return NULL;
}

static void *do_get(void *arg)
{
    call *c = arg;
    weft__cancel_swap(c->tok);
    c->rc = weft_queue_get(c->q, &c->item, c->timeout);
    return NULL;
}

static void *do_join(void *arg)
{
    call *c = arg;
    weft__cancel_swap(c->tok);
    c->rc = weft_queue_join(c->q, c->timeout);
    return NULL;
}

TEST(bounded_put_blocks_until_get)
{
    weft_queue *q = new_queue(WEFT_QUEUE_FIFO, 2);
    CHECK_OK(weft_queue_put(q, ITEM(1), 0));
    CHECK_OK(weft_queue_put(q, ITEM(2), 0));
    call c = {q, ITEM(3), WEFT_FOREVER, -1, NULL};
    pthread_t th;
    CHECK_OK(pthread_create(&th, NULL, do_put, &c));
    wait_waiters(q, 0, 1, 0); /* the putter sleeps on the full queue */
    CHECK_EQ(weft_queue_qsize(q), 2);
    CHECK_EQ(NUM(get_one(q, 0)), 1);
    pthread_join(th, NULL);
    CHECK_OK(c.rc);
    CHECK_EQ(NUM(get_one(q, 0)), 2);
    CHECK_EQ(NUM(get_one(q, 0)), 3);
    weft_queue_free(q, NULL, NULL);
}

TEST(blocked_get_wakes_on_put)
{
    weft_queue *q = new_queue(WEFT_QUEUE_PRIORITY, 0);
    call c = {q, ITEM(0xdead), 30, -1, NULL};
    pthread_t th;
    CHECK_OK(pthread_create(&th, NULL, do_get, &c));
    wait_waiters(q, 1, 0, 0);
    CHECK_OK(weft_queue_put(q, NULL, 0));
    pthread_join(th, NULL);
    CHECK_OK(c.rc);
    CHECK(c.item == NULL);
    weft_queue_free(q, NULL, NULL);
}

TEST(task_done_and_join)
{
    weft_queue *q = new_queue(WEFT_QUEUE_FIFO, 0);
    CHECK_RC(weft_queue_task_done(q), EINVAL); /* nothing put yet */
    CHECK_OK(weft_queue_put(q, ITEM(1), 0));
    CHECK_OK(weft_queue_put(q, ITEM(2), 0));
    double t0 = weft_monotonic();
    CHECK_RC(weft_queue_join(q, 0.05), ETIMEDOUT);
    CHECK(weft_monotonic() - t0 >= 0.05 - 1e-3);
    CHECK_RC(weft_queue_join(q, 0), ETIMEDOUT);
    get_one(q, 0);
    get_one(q, 0);
    /* Gotten is not done: join still waits. */
    CHECK_RC(weft_queue_join(q, 0.01), ETIMEDOUT);
    CHECK_OK(weft_queue_task_done(q));
    call c = {q, NULL, WEFT_FOREVER, -1, NULL};
    pthread_t th;
    CHECK_OK(pthread_create(&th, NULL, do_join, &c));
    wait_waiters(q, 0, 0, 1);
    CHECK_OK(weft_queue_task_done(q));
    pthread_join(th, NULL);
    CHECK_OK(c.rc);
    CHECK_RC(weft_queue_task_done(q), EINVAL); /* more than were put */
    CHECK_OK(weft_queue_join(q, 0));
    weft_queue_free(q, NULL, NULL);
}

/* ------------------------------------------------------------ the seed */

/* The seed's producer/consumer: Queue(maxsize=3), one producer, two
 * consumers that call task_done; stop by NULL sentinels or by shutdown. */
enum { SEED_ITEMS = 2000, SEED_MAX = 3 };

typedef struct seed_run {
    weft_queue *q;
    bool use_shutdown;
    atomic_int seen[SEED_ITEMS + 1];
    atomic_int over_max;
    atomic_int consumed;
} seed_run;

static void *seed_producer(void *arg)
{
    seed_run *s = arg;
    for (uintptr_t i = 1; i <= SEED_ITEMS; i++) {
        CHECK_OK(weft_queue_put(s->q, ITEM(i), WEFT_FOREVER));
        if (weft_queue_qsize(s->q) > SEED_MAX)
            atomic_fetch_add(&s->over_max, 1);
    }
    return NULL;
}

static void *seed_consumer(void *arg)
{
    seed_run *s = arg;
    for (;;) {
        void *item;
        int rc = weft_queue_get(s->q, &item, WEFT_FOREVER);
        if (s->use_shutdown && rc == ESHUTDOWN)
            return NULL;
        CHECK_OK(rc);
        if (item == NULL) { /* sentinel */
            CHECK(!s->use_shutdown);
            CHECK_OK(weft_queue_task_done(s->q));
            return NULL;
        }
        CHECK(NUM(item) >= 1 && NUM(item) <= SEED_ITEMS);
        atomic_fetch_add(&s->seen[NUM(item)], 1);
        atomic_fetch_add(&s->consumed, 1);
        CHECK_OK(weft_queue_task_done(s->q));
    }
}

static void run_seed(bool use_shutdown)
{
    static seed_run s;
    memset(&s, 0, sizeof s);
    s.q = new_queue(WEFT_QUEUE_FIFO, SEED_MAX);
    s.use_shutdown = use_shutdown;
    pthread_t prod, cons[2];
    CHECK_OK(pthread_create(&prod, NULL, seed_producer, &s));
    for (int i = 0; i < 2; i++)
        CHECK_OK(pthread_create(&cons[i], NULL, seed_consumer, &s));
    pthread_join(prod, NULL);
    if (use_shutdown) {
        CHECK_OK(weft_queue_join(s.q, WEFT_FOREVER)); /* every item processed */
        CHECK_EQ(atomic_load(&s.consumed), SEED_ITEMS);
        weft_queue_shutdown(s.q, false, NULL, NULL);
        CHECK_RC(weft_queue_put(s.q, NULL, 0), ESHUTDOWN);
    } else {
        CHECK_OK(weft_queue_put(s.q, NULL, WEFT_FOREVER));
        CHECK_OK(weft_queue_put(s.q, NULL, WEFT_FOREVER));
    }
    for (int i = 0; i < 2; i++)
        pthread_join(cons[i], NULL);
    CHECK_OK(weft_queue_join(s.q, 0));
    CHECK_EQ(atomic_load(&s.over_max), 0);
    CHECK_EQ(atomic_load(&s.consumed), SEED_ITEMS);
    for (int i = 1; i <= SEED_ITEMS; i++)
        CHECK_EQ(atomic_load(&s.seen[i]), 1);
    CHECK(weft_queue_empty(s.q));
    weft_queue_free(s.q, NULL, NULL);
}

TEST(seed_producer_consumer_sentinels)
{
    run_seed(false);
}

TEST(seed_producer_consumer_shutdown)
{
    run_seed(true);
}

/* ------------------------------------------------------------ shutdown */

TEST(shutdown_wakes_blocked_getters)
{
    weft_queue *q = new_queue(WEFT_QUEUE_LIFO, 0);
    call c[2] = {{q, NULL, WEFT_FOREVER, -1, NULL}, {q, NULL, 60, -1, NULL}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        CHECK_OK(pthread_create(&th[i], NULL, do_get, &c[i]));
    wait_waiters(q, 2, 0, 0);
    weft_queue_shutdown(q, false, NULL, NULL);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        CHECK_RC(c[i].rc, ESHUTDOWN);
    }
    weft_queue_free(q, NULL, NULL);
}

TEST(shutdown_wakes_blocked_putters)
{
    weft_queue *q = new_queue(WEFT_QUEUE_FIFO, 1);
    CHECK_OK(weft_queue_put(q, ITEM(1), 0));
    call c[2] = {{q, ITEM(2), WEFT_FOREVER, -1, NULL}, {q, ITEM(3), 60, -1, NULL}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        CHECK_OK(pthread_create(&th[i], NULL, do_put, &c[i]));
    wait_waiters(q, 0, 2, 0);
    weft_queue_shutdown(q, false, NULL, NULL);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        CHECK_RC(c[i].rc, ESHUTDOWN);
    }
    /* Gets drain what is left, then fail. */
    CHECK_EQ(NUM(get_one(q, WEFT_FOREVER)), 1);
    void *item;
    CHECK_RC(weft_queue_get(q, &item, WEFT_FOREVER), ESHUTDOWN);
    CHECK_RC(weft_queue_get(q, &item, 0), ESHUTDOWN);
    weft_queue_free(q, NULL, NULL);
}

TEST(shutdown_puts_fail_gets_drain)
{
    weft_queue *q = new_queue(WEFT_QUEUE_PRIORITY, 0);
    CHECK_OK(weft_queue_put_priority(q, ITEM(2), 2, 0));
    CHECK_OK(weft_queue_put_priority(q, ITEM(1), 1, 0));
    weft_queue_shutdown(q, false, NULL, NULL);
    weft_queue_shutdown(q, false, NULL, NULL); /* idempotent */
    CHECK_RC(weft_queue_put(q, NULL, 0), ESHUTDOWN);
    CHECK_RC(weft_queue_put(q, NULL, WEFT_FOREVER), ESHUTDOWN);
    CHECK_EQ(weft_queue_qsize(q), 2);
    CHECK_EQ(NUM(get_one(q, 0)), 1);
    CHECK_EQ(NUM(get_one(q, WEFT_FOREVER)), 2);
    void *item;
    CHECK_RC(weft_queue_get(q, &item, 1), ESHUTDOWN);
    CHECK_OK(weft_queue_task_done(q));
    CHECK_OK(weft_queue_task_done(q));
    CHECK_OK(weft_queue_join(q, 0));
    weft_queue_free(q, NULL, NULL);
}

typedef struct collected {
    uintptr_t items[64];
    int n;
} collected;

static void collect(void *ud, void *item)
{
    collected *c = ud;
    if (c->n < 64)
        c->items[c->n] = NUM(item);
    c->n++;
}

TEST(immediate_shutdown_discards_and_join_returns)
{
    weft_queue *q = new_queue(WEFT_QUEUE_FIFO, 0);
    for (uintptr_t i = 1; i <= 5; i++)
        CHECK_OK(weft_queue_put(q, ITEM(i), 0));
    CHECK_EQ(NUM(get_one(q, 0)), 1); /* gotten, not yet done */
    call j = {q, NULL, WEFT_FOREVER, -1, NULL};
    pthread_t th;
    CHECK_OK(pthread_create(&th, NULL, do_join, &j));
    wait_waiters(q, 0, 0, 1);
    collected c = {{0}, 0};
    weft_queue_shutdown(q, true, collect, &c);
    CHECK_EQ(c.n, 4);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(c.items[i], (uintptr_t)i + 2);
    CHECK_EQ(weft_queue_qsize(q), 0);
    void *item;
    CHECK_RC(weft_queue_get(q, &item, 0), ESHUTDOWN);
    CHECK_RC(weft_queue_put(q, NULL, 0), ESHUTDOWN);
    /* The item gotten before the shutdown still counts until it is done. */
    CHECK_RC(weft_queue_join(q, 0), ETIMEDOUT);
    CHECK_OK(weft_queue_task_done(q));
    pthread_join(th, NULL);
    CHECK_OK(j.rc);
    weft_queue_shutdown(q, true, collect, &c); /* idempotent, nothing left */
    CHECK_EQ(c.n, 4);
    weft_queue_free(q, collect, &c);
    CHECK_EQ(c.n, 4);
}

TEST(immediate_shutdown_wakes_getters_at_once)
{
    weft_queue *q = new_queue(WEFT_QUEUE_FIFO, 0);
    call g = {q, NULL, WEFT_FOREVER, -1, NULL};
    pthread_t th;
    CHECK_OK(pthread_create(&th, NULL, do_get, &g));
    wait_waiters(q, 1, 0, 0);
    weft_queue_shutdown(q, true, NULL, NULL);
    pthread_join(th, NULL);
    CHECK_RC(g.rc, ESHUTDOWN);
    CHECK_OK(weft_queue_join(q, 0));
    weft_queue_free(q, NULL, NULL);
}

static void check_free_order(weft_queue_kind kind, const uintptr_t *want, int n)
{
    weft_queue *q = new_queue(kind, 0);
    /* Wrap the ring first so free must unwrap it. */
    for (int i = 0; i < 10; i++)
        CHECK_OK(weft_queue_put(q, ITEM(100), 0));
    for (int i = 0; i < 10; i++)
        get_one(q, 0);
    for (int i = 0; i < n; i++)
        CHECK_OK(weft_queue_put_priority(q, ITEM(i + 1), (i * 5) % 3, 0));
    collected c = {{0}, 0};
    weft_queue_free(q, collect, &c);
    CHECK_EQ(c.n, n);
    for (int i = 0; i < n; i++)
        CHECK_EQ(c.items[i], want[i]);
}

TEST(free_disposes_every_item_in_queue_order)
{
    /* 12 items 1..12 with priorities (i*5)%3 = 0,2,1,0,2,1,... */
    uintptr_t fifo[12], lifo[12];
    for (int i = 0; i < 12; i++) {
        fifo[i] = (uintptr_t)i + 1;
        lifo[i] = 12 - (uintptr_t)i;
    }
    uintptr_t prio[12] = {1, 4, 7, 10, 3, 6, 9, 12, 2, 5, 8, 11};
    check_free_order(WEFT_QUEUE_FIFO, fifo, 12);
    check_free_order(WEFT_QUEUE_LIFO, lifo, 12);
    check_free_order(WEFT_QUEUE_PRIORITY, prio, 12);
    weft_queue *q = new_queue(WEFT_QUEUE_FIFO, 0);
    CHECK_OK(weft_queue_put(q, NULL, 0));
    weft_queue_free(q, NULL, NULL); /* dispose may be NULL */
}

/* ------------------------------------------------------------ cancel */

TEST(cancel_blocked_get_put_join)
{
    weft_queue *q = new_queue(WEFT_QUEUE_FIFO, 1);
    weft__cancel tok[3];
    for (int i = 0; i < 3; i++)
        weft__cancel_init(&tok[i]);
    pthread_t th[3];

    call g = {q, ITEM(7), WEFT_FOREVER, -1, &tok[0]};
    CHECK_OK(pthread_create(&th[0], NULL, do_get, &g));
    wait_waiters(q, 1, 0, 0);
    weft__cancel_request(&tok[0]);
    pthread_join(th[0], NULL);
    CHECK_RC(g.rc, ECANCELED);
    CHECK_EQ(NUM(g.item), 7);

    CHECK_OK(weft_queue_put(q, ITEM(1), 0));
    call p = {q, ITEM(2), 60, -1, &tok[1]};
    CHECK_OK(pthread_create(&th[1], NULL, do_put, &p));
    wait_waiters(q, 0, 1, 0);
    weft__cancel_request(&tok[1]);
    pthread_join(th[1], NULL);
    CHECK_RC(p.rc, ECANCELED);
    CHECK_EQ(weft_queue_qsize(q), 1);

    call j = {q, NULL, WEFT_FOREVER, -1, &tok[2]};
    CHECK_OK(pthread_create(&th[2], NULL, do_join, &j));
    wait_waiters(q, 0, 0, 1);
    weft__cancel_request(&tok[2]);
    pthread_join(th[2], NULL);
    CHECK_RC(j.rc, ECANCELED);

    /* The queue still works after cancelled waits. */
    CHECK_EQ(NUM(get_one(q, 0)), 1);
    CHECK_OK(weft_queue_task_done(q));
    CHECK_OK(weft_queue_join(q, 0));
    for (int i = 0; i < 3; i++)
        weft__cancel_destroy(&tok[i]);
    weft_queue_free(q, NULL, NULL);
}

TEST(cancelled_token_fails_only_calls_that_would_block)
{
    weft_queue *q = new_queue(WEFT_QUEUE_FIFO, 1);
    weft__cancel tok;
    weft__cancel_init(&tok);
    weft__cancel_request(&tok); /* before any wait: the flag alone must do */
    weft__cancel_swap(&tok);
    void *item;
    CHECK_RC(weft_queue_get(q, &item, WEFT_FOREVER), ECANCELED);
    CHECK_OK(weft_queue_put(q, ITEM(1), WEFT_FOREVER)); /* room: no wait */
    CHECK_RC(weft_queue_put(q, ITEM(2), WEFT_FOREVER), ECANCELED);
    CHECK_RC(weft_queue_join(q, WEFT_FOREVER), ECANCELED);
    CHECK_EQ(NUM(get_one(q, WEFT_FOREVER)), 1); /* an item: no wait */
    CHECK_RC(weft_queue_get(q, &item, 0), EAGAIN);
    weft__cancel_swap(NULL);
    weft__cancel_destroy(&tok);
    weft_queue_free(q, NULL, NULL);
}

/* ------------------------------------------------------------ memory */

TEST(new_under_fault_injection)
{
    for (long n = 0;; n++) {
        weft_queue *q = ITEM(1);
        weft__alloc_fail_after(n);
        int rc = weft_queue_new(&q, NULL);
        weft__alloc_fail_reset();
        if (rc == 0) {
            CHECK(q != NULL);
            CHECK_OK(weft_queue_put(q, NULL, 0));
            weft_queue_free(q, NULL, NULL);
            break;
        }
        CHECK_RC(rc, ENOMEM);
        CHECK(q == NULL);
        CHECK(n < 100);
    }
}

static void check_grow_failure(weft_queue_kind kind)
{
    weft_queue *q = new_queue(kind, 0);
    /* Fill until a put fails under fault injection: that put needed to grow. */
    uintptr_t n = 0;
    for (;;) {
        weft__alloc_fail_after(0);
        int rc = weft_queue_put_priority(q, ITEM(n), -(int64_t)n, 0);
        weft__alloc_fail_reset();
        if (rc == ENOMEM)
            break;
        CHECK_OK(rc);
        n++;
    }
    /* The first put always allocates. */
    CHECK_EQ(n, 0);
    CHECK_OK(weft_queue_put_priority(q, ITEM(n), -(int64_t)n, 0));
    n++;
    for (;;) {
        weft__alloc_fail_after(0);
        int rc = weft_queue_put_priority(q, ITEM(n), -(int64_t)n, 0);
        weft__alloc_fail_reset();
        if (rc == ENOMEM)
            break;
        CHECK_OK(rc);
        n++;
    }
    CHECK(n > 1);
    /* Unchanged: same size, nothing counted as unfinished, same items. */
    CHECK_EQ(weft_queue_qsize(q), n);
    CHECK_OK(weft_queue_put_priority(q, ITEM(n), -(int64_t)n, 0)); /* grows now */
    n++;
    CHECK_EQ(weft_queue_qsize(q), n);
    for (uintptr_t i = 0; i < n; i++) {
        uintptr_t want = kind == WEFT_QUEUE_FIFO ? i : n - 1 - i;
        CHECK_EQ(NUM(get_one(q, 0)), want);
        CHECK_OK(weft_queue_task_done(q));
    }
    CHECK_RC(weft_queue_task_done(q), EINVAL); /* the failed put was not counted */
    weft_queue_free(q, NULL, NULL);
}

TEST(put_that_grows_fails_cleanly)
{
    check_grow_failure(WEFT_QUEUE_FIFO);
    check_grow_failure(WEFT_QUEUE_LIFO);
    check_grow_failure(WEFT_QUEUE_PRIORITY);
}

/* ------------------------------------------------------------ stress */

enum { STRESS_THREADS = 4, STRESS_ITEMS = 200000 };

typedef struct stress {
    weft_queue *q;
    pthread_barrier_t start;
    atomic_uchar *seen;
    atomic_int next_producer;
    atomic_long timeouts;
    bool timed;
} stress;

static void *stress_producer(void *arg)
{
    stress *s = arg;
    int id = atomic_fetch_add(&s->next_producer, 1);
    unsigned seed = (unsigned)id * 2654435761u + 1;
    pthread_barrier_wait(&s->start);
    for (int i = id; i < STRESS_ITEMS; i += STRESS_THREADS) {
        void *item = ITEM((uintptr_t)i + 1); /* keep NULL out: 0 is never sent */
        if (!s->timed) {
            CHECK_OK(weft_queue_put(s->q, item, WEFT_FOREVER));
            continue;
        }
        for (;;) {
            seed = seed * 1103515245u + 12345u;
            double timeout = (seed >> 16) % 3 == 0 ? 0 : ((seed >> 16) % 3 == 1 ? 1e-5 : 1e-3);
            int rc = weft_queue_put_priority(s->q, item, (int64_t)((seed >> 8) % 7), timeout);
            if (rc == 0)
                break;
            CHECK(rc == EAGAIN || rc == ETIMEDOUT);
            atomic_fetch_add_explicit(&s->timeouts, 1, memory_order_relaxed);
        }
    }
    return NULL;
}

static void *stress_consumer(void *arg)
{
    stress *s = arg;
    unsigned seed = (unsigned)(uintptr_t)&seed;
    pthread_barrier_wait(&s->start);
    for (;;) {
        void *item;
        double timeout = WEFT_FOREVER;
        if (s->timed) {
            seed = seed * 1103515245u + 12345u;
            timeout = (seed >> 16) % 3 == 0 ? 0 : ((seed >> 16) % 3 == 1 ? 1e-5 : 1e-3);
        }
        int rc = weft_queue_get(s->q, &item, timeout);
        if (rc == ESHUTDOWN)
            return NULL;
        if (rc == EAGAIN || rc == ETIMEDOUT) {
            CHECK(s->timed);
            atomic_fetch_add_explicit(&s->timeouts, 1, memory_order_relaxed);
            continue;
        }
        CHECK_OK(rc);
        uintptr_t i = NUM(item);
        CHECK(i >= 1 && i <= STRESS_ITEMS);
        CHECK_EQ(atomic_fetch_add(&s->seen[i - 1], 1), 0);
        CHECK_OK(weft_queue_task_done(s->q));
    }
}

static void run_stress(weft_queue_kind kind, bool timed)
{
    static stress s;
    memset(&s, 0, sizeof s);
    s.q = new_queue(kind, 16);
    s.timed = timed;
    s.seen = calloc(STRESS_ITEMS, sizeof *s.seen);
    CHECK(s.seen != NULL);
    CHECK_OK(pthread_barrier_init(&s.start, NULL, 2 * STRESS_THREADS + 1));
    pthread_t prod[STRESS_THREADS], cons[STRESS_THREADS];
    for (int i = 0; i < STRESS_THREADS; i++) {
        CHECK_OK(pthread_create(&prod[i], NULL, stress_producer, &s));
        CHECK_OK(pthread_create(&cons[i], NULL, stress_consumer, &s));
    }
    pthread_barrier_wait(&s.start);
    for (int i = 0; i < STRESS_THREADS; i++)
        pthread_join(prod[i], NULL);
    CHECK_OK(weft_queue_join(s.q, WEFT_FOREVER));
    weft_queue_shutdown(s.q, false, NULL, NULL);
    for (int i = 0; i < STRESS_THREADS; i++)
        pthread_join(cons[i], NULL);
    for (int i = 0; i < STRESS_ITEMS; i++)
        CHECK_EQ(atomic_load(&s.seen[i]), 1);
    CHECK(weft_queue_empty(s.q));
    CHECK_RC(weft_queue_task_done(s.q), EINVAL);
    pthread_barrier_destroy(&s.start);
    free(s.seen);
    weft_queue_free(s.q, NULL, NULL);
}

TEST_T(stress_4x4_every_item_once, 20)
{
    run_stress(WEFT_QUEUE_FIFO, false);
}

TEST_T(stress_mixed_timeouts_priority, 20)
{
    run_stress(WEFT_QUEUE_PRIORITY, true);
}

TEST_T(stress_mixed_timeouts_lifo, 20)
{
    run_stress(WEFT_QUEUE_LIFO, true);
}

TEST(null_handles)
{
    CHECK_RC(weft_queue_new(NULL, NULL), EINVAL);
    void *item;
    CHECK_RC(weft_queue_put(NULL, NULL, 0), EINVAL);
    CHECK_RC(weft_queue_put_priority(NULL, NULL, 1, 0), EINVAL);
    CHECK_RC(weft_queue_get(NULL, &item, 0), EINVAL);
    CHECK_RC(weft_queue_task_done(NULL), EINVAL);
    CHECK_RC(weft_queue_join(NULL, 0), EINVAL);
    CHECK_EQ(weft_queue_qsize(NULL), 0);
    CHECK(!weft_queue_empty(NULL));
    CHECK(!weft_queue_full(NULL));
    weft_queue_shutdown(NULL, true, NULL, NULL);
    weft_queue_free(NULL, NULL, NULL);
}
