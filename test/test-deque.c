/* Deque: both ends in order, growth and wrap-around, maxlen dropping from
 * the other end (with no lock held), never blocking, dispose at free,
 * allocation failure, stress from both ends. */
#include "test.h"
#include "base-internal.h"

#include <sched.h>

#define ITEM(i) ((void *)(uintptr_t)(i))
#define NUM(p)  ((uintptr_t)(p))

static weft_deque *make(size_t maxlen, weft_queue_dispose_fn *dropped, void *ud)
{
    weft_deque *d = NULL;
    weft_deque_opts o = {.maxlen = maxlen, .dropped = dropped, .ud = ud};
    CHECK_OK(weft_deque_new(&d, &o));
    CHECK(d != NULL);
    return d;
}

static uintptr_t popl(weft_deque *d)
{
    void *item = ITEM(-1);
    CHECK_OK(weft_deque_popleft(d, &item));
    return NUM(item);
}

static uintptr_t popr(weft_deque *d)
{
    void *item = ITEM(-1);
    CHECK_OK(weft_deque_pop(d, &item));
    return NUM(item);
}

TEST(both_ends_in_order)
{
    weft_deque *d = NULL;
    CHECK_OK(weft_deque_new(&d, NULL));
    CHECK_EQ(weft_deque_maxlen(d), 0);
    CHECK_EQ(weft_deque_len(d), 0);
    void *item = ITEM(9);
    CHECK_RC(weft_deque_pop(d, &item), EAGAIN); /* IndexError, at once */
    CHECK_RC(weft_deque_popleft(d, &item), EAGAIN);
    CHECK_EQ(NUM(item), 9);

    /* deque([1, 2, 3]); appendleft(0); append(4) -> [0, 1, 2, 3, 4] */
    for (uintptr_t i = 1; i <= 3; i++)
        CHECK_OK(weft_deque_append(d, ITEM(i)));
    CHECK_OK(weft_deque_appendleft(d, ITEM(0)));
    CHECK_OK(weft_deque_append(d, ITEM(4)));
    CHECK_EQ(weft_deque_len(d), 5);
    CHECK_EQ(popr(d), 4); /* pop: the right end */
    CHECK_EQ(popl(d), 0); /* popleft: the left end */
    CHECK_EQ(popl(d), 1);
    CHECK_EQ(popr(d), 3);
    CHECK_EQ(popr(d), 2);
    CHECK_EQ(weft_deque_len(d), 0);
    CHECK_OK(weft_deque_append(d, NULL)); /* NULL is an item */
    item = ITEM(1);
    CHECK_OK(weft_deque_pop(d, &item));
    CHECK(item == NULL);
    weft_deque_free(d, NULL, NULL);
}

TEST(growth_and_wraparound_from_both_ends)
{
    weft_deque *d = make(0, NULL, NULL);
    /* Left pushes wrap the head below 0 at once; the ring grows several
     * times with the items split across its end. */
    enum { N = 1000 };
    for (uintptr_t i = 0; i < N; i++) {
        CHECK_OK(weft_deque_appendleft(d, ITEM(N - 1 - i))); /* ... N-1 */
        CHECK_OK(weft_deque_append(d, ITEM(N + i)));         /* N ... */
    }
    CHECK_EQ(weft_deque_len(d), 2 * N);
    for (uintptr_t i = 0; i < N; i++) {
        CHECK_EQ(popl(d), i);
        CHECK_EQ(popr(d), 2 * N - 1 - i);
    }
    CHECK_EQ(weft_deque_len(d), 0);
    weft_deque_free(d, NULL, NULL);
}

typedef struct drops {
    weft_deque *d;
    uintptr_t items[64];
    size_t n;
    size_t len_seen; /* weft_deque_len from inside the callback */
} drops;

static void on_drop(void *ud, void *item)
{
    drops *dr = ud;
    /* Takes no lock, but a pop does: it would hang (watchdog) if the
     * callback ran under the deque's lock. */
    void *other;
    if (weft_deque_pop(dr->d, &other) == 0)
        CHECK_OK(weft_deque_append(dr->d, other)); /* put it back */
    dr->len_seen = weft_deque_len(dr->d);
    dr->items[dr->n++] = NUM(item);
}

TEST(maxlen_drops_from_the_other_end)
{
    drops dr = {0};
    weft_deque *d = make(3, on_drop, &dr);
    dr.d = d;
    CHECK_EQ(weft_deque_maxlen(d), 3);
    for (uintptr_t i = 1; i <= 3; i++)
        CHECK_OK(weft_deque_append(d, ITEM(i))); /* [1, 2, 3] */
    CHECK_EQ(dr.n, 0);
    CHECK_OK(weft_deque_append(d, ITEM(4))); /* [2, 3, 4]: 1 falls out left */
    CHECK_EQ(dr.n, 1);
    CHECK_EQ(dr.items[0], 1);
    CHECK_EQ(dr.len_seen, 3);
    CHECK_OK(weft_deque_appendleft(d, ITEM(0))); /* [0, 2, 3]: 4 falls out right */
    CHECK_EQ(dr.n, 2);
    CHECK_EQ(dr.items[1], 4);
    CHECK_EQ(weft_deque_len(d), 3);
    CHECK_EQ(popl(d), 0);
    CHECK_EQ(popl(d), 2);
    CHECK_EQ(popl(d), 3);

    /* The "last N lines" idiom: a long run keeps only the newest three. */
    for (uintptr_t i = 100; i < 150; i++)
        CHECK_OK(weft_deque_append(d, ITEM(i)));
    CHECK_EQ(weft_deque_len(d), 3);
    CHECK_EQ(popl(d), 147);
    CHECK_EQ(popl(d), 148);
    CHECK_EQ(popl(d), 149);
    CHECK_EQ(dr.n, 2 + 47);
    CHECK_EQ(dr.items[2], 100);
    weft_deque_free(d, NULL, NULL);

    /* Without a callback the dropped items are just forgotten. */
    d = make(1, NULL, NULL);
    CHECK_OK(weft_deque_append(d, ITEM(1)));
    CHECK_OK(weft_deque_append(d, ITEM(2)));
    CHECK_EQ(weft_deque_len(d), 1);
    CHECK_EQ(popr(d), 2);
    weft_deque_free(d, NULL, NULL);
}

static void collect(void *ud, void *item)
{
    uintptr_t *seen = ud;
    seen[seen[0]++ + 1] = NUM(item);
}

TEST(free_disposes_left_to_right)
{
    weft_deque *d = make(0, NULL, NULL);
    CHECK_OK(weft_deque_append(d, ITEM(2)));
    CHECK_OK(weft_deque_append(d, ITEM(3)));
    CHECK_OK(weft_deque_appendleft(d, ITEM(1)));
    uintptr_t seen[8] = {0};
    weft_deque_free(d, collect, seen);
    CHECK_EQ(seen[0], 3);
    CHECK_EQ(seen[1], 1);
    CHECK_EQ(seen[2], 2);
    CHECK_EQ(seen[3], 3);
    weft_deque_free(NULL, collect, seen);
    CHECK_EQ(seen[0], 3);
}

TEST(append_that_grows_fails_cleanly)
{
    weft_deque *d = make(0, NULL, NULL);
    uintptr_t n = 0;
    weft__alloc_fail_after(0);
    int rc = weft_deque_append(d, ITEM(n));
    weft__alloc_fail_reset();
    CHECK_RC(rc, ENOMEM); /* the first append allocates */
    CHECK_EQ(weft_deque_len(d), 0);
    for (;;) {
        weft__alloc_fail_after(0);
        rc = (n & 1) ? weft_deque_appendleft(d, ITEM(n)) : weft_deque_append(d, ITEM(n));
        weft__alloc_fail_reset();
        if (rc == ENOMEM && n > 0)
            break;
        if (rc == ENOMEM) {
            CHECK_OK(weft_deque_append(d, ITEM(n)));
        } else {
            CHECK_OK(rc);
        }
        n++;
    }
    /* Unchanged: the same items, in the same places. */
    CHECK_EQ(weft_deque_len(d), n);
    CHECK_OK(weft_deque_append(d, ITEM(n))); /* grows now */
    CHECK_EQ(weft_deque_len(d), n + 1);
    CHECK_EQ(popr(d), n);
    /* Odd numbers went left: n-1 or n-2 (odd) is leftmost. */
    uintptr_t left = (n - 1) & 1 ? n - 1 : n - 2;
    CHECK_EQ(popl(d), left);
    weft_deque_free(d, NULL, NULL);

    for (long k = 0;; k++) {
        weft_deque *p = ITEM(1);
        weft__alloc_fail_after(k);
        rc = weft_deque_new(&p, NULL);
        weft__alloc_fail_reset();
        if (rc == 0) {
            weft_deque_free(p, NULL, NULL);
            break;
        }
        CHECK_RC(rc, ENOMEM);
        CHECK(k < 100);
    }
}

TEST(null_handles)
{
    CHECK_RC(weft_deque_new(NULL, NULL), EINVAL);
    void *item;
    CHECK_RC(weft_deque_append(NULL, NULL), EINVAL);
    CHECK_RC(weft_deque_appendleft(NULL, NULL), EINVAL);
    CHECK_RC(weft_deque_pop(NULL, &item), EINVAL);
    CHECK_RC(weft_deque_popleft(NULL, &item), EINVAL);
    weft_deque *d = make(0, NULL, NULL);
    CHECK_RC(weft_deque_pop(d, NULL), EINVAL);
    CHECK_RC(weft_deque_popleft(d, NULL), EINVAL);
    weft_deque_free(d, NULL, NULL);
    CHECK_EQ(weft_deque_len(NULL), 0);
    CHECK_EQ(weft_deque_maxlen(NULL), 0);
    weft_deque_free(NULL, NULL, NULL);
}

/* ------------------------------------------------------------ stress */

enum { PRODUCERS = 3, CONSUMERS = 3, PER = 20000 };

typedef struct side {
    weft_deque *d;
    pthread_barrier_t *start;
    atomic_long *remaining; /* items not yet taken */
    int id;
    uintptr_t sum;
    int bad;
} side;

/* Even producers append, odd ones appendleft. */
static void *produce(void *arg)
{
    side *s = arg;
    pthread_barrier_wait(s->start);
    for (uintptr_t i = 0; i < PER; i++) {
        void *item = ITEM((uintptr_t)s->id * PER + i + 1);
        int rc = (s->id & 1) ? weft_deque_appendleft(s->d, item) : weft_deque_append(s->d, item);
        if (rc != 0)
            s->bad++;
    }
    return NULL;
}

/* Consumers take from both ends and never wait inside the deque: an empty
 * deque says EAGAIN, and the consumer yields (polling is how a deque is
 * used between threads; a queue is the type that waits). */
static void *consume(void *arg)
{
    side *s = arg;
    pthread_barrier_wait(s->start);
    unsigned k = 0;
    while (atomic_load(s->remaining) > 0) {
        void *item;
        int rc = (k++ & 1) ? weft_deque_pop(s->d, &item) : weft_deque_popleft(s->d, &item);
        if (rc == EAGAIN) {
            sched_yield();
            continue;
        }
        if (rc != 0) {
            s->bad++;
            return NULL;
        }
        s->sum += NUM(item);
        atomic_fetch_sub(s->remaining, 1);
    }
    return NULL;
}

TEST_T(stress_both_ends_every_item_once, 30)
{
    weft_deque *d = make(0, NULL, NULL);
    atomic_long remaining = (long)PRODUCERS * PER;
    pthread_barrier_t b;
    pthread_barrier_init(&b, NULL, PRODUCERS + CONSUMERS);
    side p[PRODUCERS], c[CONSUMERS];
    pthread_t tp[PRODUCERS], tc[CONSUMERS];
    for (int i = 0; i < CONSUMERS; i++) {
        c[i] = (side){d, &b, &remaining, i, 0, 0};
        CHECK_OK(pthread_create(&tc[i], NULL, consume, &c[i]));
    }
    for (int i = 0; i < PRODUCERS; i++) {
        p[i] = (side){d, &b, &remaining, i, 0, 0};
        CHECK_OK(pthread_create(&tp[i], NULL, produce, &p[i]));
    }
    for (int i = 0; i < PRODUCERS; i++) {
        pthread_join(tp[i], NULL);
        CHECK_EQ(p[i].bad, 0);
    }
    uintptr_t sum = 0;
    for (int i = 0; i < CONSUMERS; i++) {
        pthread_join(tc[i], NULL);
        CHECK_EQ(c[i].bad, 0);
        sum += c[i].sum;
    }
    uintptr_t n = (uintptr_t)PRODUCERS * PER;
    CHECK_EQ(sum, n * (n + 1) / 2);
    CHECK_EQ(weft_deque_len(d), 0);
    pthread_barrier_destroy(&b);
    weft_deque_free(d, NULL, NULL);
}

/* With a maxlen, concurrent appends at both ends never hold more than
 * maxlen, and every item is either still there, taken, or dropped once. */
static atomic_long dropped_sum, dropped_n;

static void count_drop(void *ud, void *item)
{
    atomic_fetch_add(&dropped_sum, (long)NUM(item));
    atomic_fetch_add(&dropped_n, 1);
}

TEST_T(stress_maxlen_accounts_for_every_item, 30)
{
    enum { MAXLEN = 8 };
    weft_deque *d = make(MAXLEN, count_drop, NULL);
    atomic_long remaining = 0; /* consumers: none; producers only */
    pthread_barrier_t b;
    pthread_barrier_init(&b, NULL, PRODUCERS);
    side p[PRODUCERS];
    pthread_t tp[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++) {
        p[i] = (side){d, &b, &remaining, i, 0, 0};
        CHECK_OK(pthread_create(&tp[i], NULL, produce, &p[i]));
    }
    for (int i = 0; i < PRODUCERS; i++) {
        pthread_join(tp[i], NULL);
        CHECK_EQ(p[i].bad, 0);
    }
    CHECK_EQ(weft_deque_len(d), MAXLEN);
    long left = 0;
    for (int i = 0; i < MAXLEN; i++)
        left += (long)popl(d);
    uintptr_t n = (uintptr_t)PRODUCERS * PER;
    CHECK_EQ(atomic_load(&dropped_n), (long)n - MAXLEN);
    CHECK_EQ((uintptr_t)(atomic_load(&dropped_sum) + left), n * (n + 1) / 2);
    pthread_barrier_destroy(&b);
    weft_deque_free(d, NULL, NULL);
}
