/* SimpleQueue: FIFO order, put never blocks, get's timeout and wakeups,
 * cancellation, dispose at free, allocation failure, stress. */
#include "test.h"
#include "cancel-internal.h"
#include "queue-internal.h"

#include <sched.h>

#define ITEM(i) ((void *)(uintptr_t)(i))
#define NUM(p)  ((uintptr_t)(p))

/* A SimpleQueue is a weft_queue inside (simplequeue.c): the queue's test
 * hook tells when a getter really sleeps. */
static void wait_getters(weft_simplequeue *q, unsigned n)
{
    for (;;) {
        unsigned g, p, j;
        weft__queue_waiters((weft_queue *)q, &g, &p, &j);
        if (g == n)
            return;
        sched_yield();
    }
}

static weft_simplequeue *make(void)
{
    weft_simplequeue *q = NULL;
    CHECK_OK(weft_simplequeue_new(&q));
    CHECK(q != NULL);
    return q;
}

TEST(fifo_order_put_never_blocks)
{
    weft_simplequeue *q = make();
    CHECK(weft_simplequeue_empty(q));
    enum { N = 100000 };
    /* Far past any initial capacity, from one thread with no consumer: a
     * put that could block would hang here (the watchdog would fail it). */
    for (uintptr_t i = 0; i < N; i++)
        CHECK_OK(weft_simplequeue_put(q, ITEM(i)));
    CHECK_EQ(weft_simplequeue_qsize(q), N);
    CHECK(!weft_simplequeue_empty(q));
    for (uintptr_t i = 0; i < N; i++) {
        void *item = ITEM(-1);
        CHECK_OK(weft_simplequeue_get(q, &item, 0));
        CHECK_EQ(NUM(item), i);
    }
    CHECK(weft_simplequeue_empty(q));
    CHECK_OK(weft_simplequeue_put(q, NULL)); /* NULL is an item */
    void *item = ITEM(1);
    CHECK_OK(weft_simplequeue_get(q, &item, WEFT_FOREVER));
    CHECK(item == NULL);
    weft_simplequeue_free(q, NULL, NULL);
}

TEST(get_empty_eagain_and_timeout_not_early)
{
    weft_simplequeue *q = make();
    void *item = ITEM(5);
    CHECK_RC(weft_simplequeue_get(q, &item, 0), EAGAIN);
    CHECK_EQ(NUM(item), 5);
    double t0 = weft_monotonic();
    CHECK_RC(weft_simplequeue_get(q, &item, 0.05), ETIMEDOUT);
    CHECK(weft_monotonic() - t0 >= 0.05 - 1e-3);
    CHECK_RC(weft_simplequeue_get(q, &item, -2), EINVAL);
    CHECK_RC(weft_simplequeue_get(q, NULL, 0), EINVAL);
    weft_simplequeue_free(q, NULL, NULL);
}

typedef struct call {
    weft_simplequeue *q;
    void *item;
    int rc;
    weft__cancel *tok;
} call;

static void *do_get(void *arg)
{
    call *c = arg;
    weft__cancel_swap(c->tok);
    c->rc = weft_simplequeue_get(c->q, &c->item, WEFT_FOREVER);
    return NULL;
}

TEST(blocked_getters_woken_by_puts)
{
    weft_simplequeue *q = make();
    call c[2] = {{q, NULL, -1, NULL}, {q, NULL, -1, NULL}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        CHECK_OK(pthread_create(&th[i], NULL, do_get, &c[i]));
    wait_getters(q, 2);
    CHECK_OK(weft_simplequeue_put(q, ITEM(1)));
    CHECK_OK(weft_simplequeue_put(q, ITEM(2)));
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    CHECK_OK(c[0].rc);
    CHECK_OK(c[1].rc);
    CHECK_EQ(NUM(c[0].item) + NUM(c[1].item), 3);
    CHECK(NUM(c[0].item) != NUM(c[1].item));
    weft_simplequeue_free(q, NULL, NULL);
}

TEST(blocked_get_is_cancellable)
{
    weft_simplequeue *q = make();
    weft__cancel tok;
    weft__cancel_init(&tok);
    call c = {q, ITEM(7), -1, &tok};
    pthread_t th;
    CHECK_OK(pthread_create(&th, NULL, do_get, &c));
    wait_getters(q, 1);
    weft__cancel_request(&tok);
    pthread_join(th, NULL);
    CHECK_RC(c.rc, ECANCELED);
    CHECK_EQ(NUM(c.item), 7);
    weft__cancel_destroy(&tok);
    /* Still usable. */
    CHECK_OK(weft_simplequeue_put(q, ITEM(3)));
    void *item;
    CHECK_OK(weft_simplequeue_get(q, &item, 0));
    CHECK_EQ(NUM(item), 3);
    weft_simplequeue_free(q, NULL, NULL);
}

static void collect(void *ud, void *item)
{
    uintptr_t *seen = ud;
    seen[seen[0]++ + 1] = NUM(item);
}

TEST(free_disposes_in_queue_order)
{
    weft_simplequeue *q = make();
    for (uintptr_t i = 10; i < 15; i++)
        CHECK_OK(weft_simplequeue_put(q, ITEM(i)));
    void *item;
    CHECK_OK(weft_simplequeue_get(q, &item, 0));
    uintptr_t seen[8] = {0};
    weft_simplequeue_free(q, collect, seen);
    CHECK_EQ(seen[0], 4);
    for (uintptr_t i = 0; i < 4; i++)
        CHECK_EQ(seen[i + 1], 11 + i);
    weft_simplequeue_free(NULL, collect, seen);
}

TEST(put_fails_only_for_memory)
{
    weft_simplequeue *q = make();
    /* The first put allocates the ring. */
    weft__alloc_fail_after(0);
    int rc = weft_simplequeue_put(q, ITEM(1));
    weft__alloc_fail_reset();
    CHECK_RC(rc, ENOMEM);
    CHECK_EQ(weft_simplequeue_qsize(q), 0);
    CHECK_OK(weft_simplequeue_put(q, ITEM(2)));
    CHECK_EQ(weft_simplequeue_qsize(q), 1);
    weft_simplequeue_free(q, NULL, NULL);

    for (long n = 0;; n++) {
        weft_simplequeue *p = ITEM(1);
        weft__alloc_fail_after(n);
        rc = weft_simplequeue_new(&p);
        weft__alloc_fail_reset();
        if (rc == 0) {
            weft_simplequeue_free(p, NULL, NULL);
            break;
        }
        CHECK_RC(rc, ENOMEM);
        CHECK(n < 100);
    }
}

TEST(null_handles)
{
    CHECK_RC(weft_simplequeue_new(NULL), EINVAL);
    CHECK_RC(weft_simplequeue_put(NULL, NULL), EINVAL);
    void *item;
    CHECK_RC(weft_simplequeue_get(NULL, &item, 0), EINVAL);
    CHECK_EQ(weft_simplequeue_qsize(NULL), 0);
    CHECK(!weft_simplequeue_empty(NULL));
    weft_simplequeue_free(NULL, NULL, NULL);
}

/* ------------------------------------------------------------ stress */

enum { PRODUCERS = 4, CONSUMERS = 4, PER = 20000 };

typedef struct side {
    weft_simplequeue *q;
    pthread_barrier_t *start;
    int id;
    uintptr_t sum;
    long got;
    int bad;
} side;

static void *produce(void *arg)
{
    side *s = arg;
    pthread_barrier_wait(s->start);
    for (uintptr_t i = 0; i < PER; i++)
        if (weft_simplequeue_put(s->q, ITEM((uintptr_t)s->id * PER + i + 1)) != 0)
            s->bad++;
    return NULL;
}

static void *consume(void *arg)
{
    side *s = arg;
    pthread_barrier_wait(s->start);
    for (;;) {
        void *item;
        if (weft_simplequeue_get(s->q, &item, WEFT_FOREVER) != 0) {
            s->bad++;
            return NULL;
        }
        if (item == NULL) /* the sentinel */
            return NULL;
        s->sum += NUM(item);
        s->got++;
    }
}

TEST_T(stress_every_item_once, 30)
{
    weft_simplequeue *q = make();
    pthread_barrier_t b;
    pthread_barrier_init(&b, NULL, PRODUCERS + CONSUMERS);
    side p[PRODUCERS], c[CONSUMERS];
    pthread_t tp[PRODUCERS], tc[CONSUMERS];
    for (int i = 0; i < CONSUMERS; i++) {
        c[i] = (side){q, &b, i, 0, 0, 0};
        CHECK_OK(pthread_create(&tc[i], NULL, consume, &c[i]));
    }
    for (int i = 0; i < PRODUCERS; i++) {
        p[i] = (side){q, &b, i, 0, 0, 0};
        CHECK_OK(pthread_create(&tp[i], NULL, produce, &p[i]));
    }
    for (int i = 0; i < PRODUCERS; i++) {
        pthread_join(tp[i], NULL);
        CHECK_EQ(p[i].bad, 0);
    }
    for (int i = 0; i < CONSUMERS; i++)
        CHECK_OK(weft_simplequeue_put(q, NULL));
    uintptr_t sum = 0;
    long got = 0;
    for (int i = 0; i < CONSUMERS; i++) {
        pthread_join(tc[i], NULL);
        CHECK_EQ(c[i].bad, 0);
        sum += c[i].sum;
        got += c[i].got;
    }
    uintptr_t n = (uintptr_t)PRODUCERS * PER;
    CHECK_EQ(got, (long)n);
    CHECK_EQ(sum, n * (n + 1) / 2);
    CHECK(weft_simplequeue_empty(q));
    pthread_barrier_destroy(&b);
    weft_simplequeue_free(q, NULL, NULL);
}
