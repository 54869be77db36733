/* bench-queue.c: bounded queue throughput, weft_queue against a plain
 * pthread mutex + condvar ring buffer written here, in the same run.
 *
 * DESIGN: P producers put N items in total into a queue of capacity 1024,
 * C consumers get them; the figure is items per second from the barrier
 * that starts every thread to the join of the last one. Each configuration
 * runs several rounds and reports the best (least disturbed) one. Not built
 * by CMake yet:
 *
 *   cc -O2 -Iinclude bench/bench-queue.c build/cc/libweft.a -lpthread
 *   ./a.out [items [weft|plain]]
 *
 * The second argument runs one side only, for perf stat. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <weft.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CAPACITY 1024
#define ROUNDS   5

/* ------------------------------------------------------------ the peer */

/* The textbook bounded buffer: one mutex, two condvars, signal every time. */
typedef struct plain_queue {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    void *slot[CAPACITY];
    size_t head, count;
} plain_queue;

static void plain_init(plain_queue *q)
{
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->not_empty, NULL);
    pthread_cond_init(&q->not_full, NULL);
    q->head = q->count = 0;
}

static void plain_destroy(plain_queue *q)
{
    pthread_cond_destroy(&q->not_full);
    pthread_cond_destroy(&q->not_empty);
    pthread_mutex_destroy(&q->mu);
}

static void plain_put(plain_queue *q, void *item)
{
    pthread_mutex_lock(&q->mu);
    while (q->count == CAPACITY)
        pthread_cond_wait(&q->not_full, &q->mu);
    q->slot[(q->head + q->count++) % CAPACITY] = item;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
}

static void *plain_get(plain_queue *q)
{
    pthread_mutex_lock(&q->mu);
    while (q->count == 0)
        pthread_cond_wait(&q->not_empty, &q->mu);
    void *item = q->slot[q->head];
    q->head = (q->head + 1) % CAPACITY;
    q->count--;
    pthread_cond_signal(&q->not_full);
    pthread_mutex_unlock(&q->mu);
    return item;
}

/* ------------------------------------------------------------ harness */

typedef struct run {
    bool weft;
    weft_queue *wq;
    plain_queue *pq;
    long per_producer, per_consumer;
    pthread_barrier_t start;
    uintptr_t sums[64];
} run;

typedef struct worker {
    run *r;
    int index;
} worker;

static void *producer(void *arg)
{
    worker *w = arg;
    run *r = w->r;
    pthread_barrier_wait(&r->start);
    for (long i = 1; i <= r->per_producer; i++) {
        void *item = (void *)(uintptr_t)i;
        if (r->weft) {
            int rc = weft_queue_put(r->wq, item, WEFT_FOREVER);
            if (rc != 0) {
                fprintf(stderr, "put: %s\n", weft_strerror(rc));
                exit(1);
            }
        } else {
            plain_put(r->pq, item);
        }
    }
    return NULL;
}

static void *consumer(void *arg)
{
    worker *w = arg;
    run *r = w->r;
    uintptr_t sum = 0;
    pthread_barrier_wait(&r->start);
    for (long i = 0; i < r->per_consumer; i++) {
        void *item;
        if (r->weft) {
            int rc = weft_queue_get(r->wq, &item, WEFT_FOREVER);
            if (rc != 0) {
                fprintf(stderr, "get: %s\n", weft_strerror(rc));
                exit(1);
            }
        } else {
            item = plain_get(r->pq);
        }
        sum += (uintptr_t)item;
    }
    r->sums[w->index] = sum;
    return NULL;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Items per second for one round. */
static double once(bool use_weft, int producers, int consumers, long items)
{
    run r = {.weft = use_weft};
    plain_queue *pq = NULL;
    if (use_weft) {
        weft_queue_opts o = {.kind = WEFT_QUEUE_FIFO, .maxsize = CAPACITY};
        if (weft_queue_new(&r.wq, &o) != 0)
            exit(1);
    } else {
        pq = malloc(sizeof *pq);
        if (!pq)
            exit(1);
        plain_init(pq);
        r.pq = pq;
    }
    r.per_producer = items / producers;
    r.per_consumer = r.per_producer * producers / consumers;
    pthread_barrier_init(&r.start, NULL, (unsigned)(producers + consumers + 1));
    pthread_t th[64];
    worker w[64];
    int n = 0;
    for (int i = 0; i < producers; i++, n++) {
        w[n] = (worker){&r, n};
        pthread_create(&th[n], NULL, producer, &w[n]);
    }
    for (int i = 0; i < consumers; i++, n++) {
        w[n] = (worker){&r, n};
        pthread_create(&th[n], NULL, consumer, &w[n]);
    }
    pthread_barrier_wait(&r.start);
    double t0 = now();
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    double dt = now() - t0;
    uintptr_t got = 0;
    for (int i = producers; i < n; i++)
        got += r.sums[i];
    uintptr_t want =
        (uintptr_t)producers * (uintptr_t)r.per_producer * ((uintptr_t)r.per_producer + 1) / 2;
    if (got != want) {
        fprintf(stderr, "checksum mismatch\n");
        exit(1);
    }
    pthread_barrier_destroy(&r.start);
    if (use_weft) {
        weft_queue_free(r.wq, NULL, NULL);
    } else {
        plain_destroy(pq);
        free(pq);
    }
    return (double)(r.per_producer * producers) / dt;
}

static double best(bool use_weft, int producers, int consumers, long items)
{
    double b = 0;
    for (int i = 0; i < ROUNDS; i++) {
        double x = once(use_weft, producers, consumers, items);
        if (x > b)
            b = x;
    }
    return b;
}

int main(int argc, char **argv)
{
    long items = argc > 1 ? atol(argv[1]) : 4000000;
    const char *only = argc > 2 ? argv[2] : "";
    static const int shapes[][2] = {{1, 1}, {2, 2}};
    printf("bounded queue, capacity %d, %ld items, best of %d rounds\n", CAPACITY, items, ROUNDS);
    printf("%-6s %14s %14s %7s\n", "P->C", "weft items/s", "plain items/s", "ratio");
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        int p = shapes[i][0], c = shapes[i][1];
        double w = strcmp(only, "plain") == 0 ? 0 : best(true, p, c, items);
        double pl = strcmp(only, "weft") == 0 ? 0 : best(false, p, c, items);
        printf("%d->%-3d %14.0f %14.0f %7.2f\n", p, c, w, pl, pl > 0 ? w / pl : 0);
    }
    return 0;
}
