/* bench/lib-pthread.c: the baseline every C programmer could write in an
 * afternoon: a thread pool of one mutex, one condvar and a malloc'd task
 * list, a bounded ring buffer of one mutex and two condvars, a plain
 * pthread_mutex_t, pthread_create with pthread_attr_setstacksize.
 *
 * DESIGN: textbook on purpose: signal on every push, workers started up
 * front, a node allocated per task. It is what weft has to beat to be worth
 * a dependency; it has none of weft's features (futures, errors, timeouts,
 * cancellation, lazy threads). */
#include "bench.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

static void ok(int rc, const char *what)
{
    bench_check(rc, what);
}

/* ------------------------------------------------------------ the pool */

typedef struct task {
    void (*fn)(void *);
    void *arg;
    struct task *next;
} task;

typedef struct ppool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    task *head, *tail;
    bool stop;
    int n;
    pthread_t *t;
} ppool;

static void *pworker(void *p)
{
    ppool *pp = p;
    pthread_mutex_lock(&pp->mu);
    for (;;) {
        task *t;
        while (!pp->head && !pp->stop)
            pthread_cond_wait(&pp->cv, &pp->mu);
        if (!pp->head)
            break;
        t = pp->head;
        pp->head = t->next;
        if (!pp->head)
            pp->tail = NULL;
        pthread_mutex_unlock(&pp->mu);
        t->fn(t->arg);
        free(t);
        pthread_mutex_lock(&pp->mu);
    }
    pthread_mutex_unlock(&pp->mu);
    return NULL;
}

static ppool *pool(int n)
{
    ppool *pp = calloc(1, sizeof *pp);
    pthread_mutex_init(&pp->mu, NULL);
    pthread_cond_init(&pp->cv, NULL);
    pp->n = n;
    pp->t = calloc((size_t)n, sizeof *pp->t);
    for (int i = 0; i < n; i++)
        ok(pthread_create(&pp->t[i], NULL, pworker, pp), "pthread_create");
    return pp;
}

static void submit(ppool *pp, void (*fn)(void *), void *arg)
{
    task *t = malloc(sizeof *t);
    if (!t)
        bench_check(-1, "malloc");
    t->fn = fn;
    t->arg = arg;
    t->next = NULL;
    pthread_mutex_lock(&pp->mu);
    if (pp->tail)
        pp->tail->next = t;
    else
        pp->head = t;
    pp->tail = t;
    pthread_cond_signal(&pp->cv);
    pthread_mutex_unlock(&pp->mu);
}

static void pool_free(ppool *pp)
{
    pthread_mutex_lock(&pp->mu);
    pp->stop = true;
    pthread_cond_broadcast(&pp->cv);
    pthread_mutex_unlock(&pp->mu);
    for (int i = 0; i < pp->n; i++)
        pthread_join(pp->t[i], NULL);
    pthread_cond_destroy(&pp->cv);
    pthread_mutex_destroy(&pp->mu);
    free(pp->t);
    free(pp);
}

static void tiny(void *arg)
{
    bench_tiny();
}

static void batch(ppool *pp, long n)
{
    bench_done_reset(n);
    for (long i = 0; i < n; i++)
        submit(pp, tiny, NULL);
    bench_done_wait();
}

static double tasks(int workers, long n)
{
    ppool *pp = pool(workers);
    double t0;
    batch(pp, n / 10);
    t0 = bench_now();
    batch(pp, n);
    t0 = bench_now() - t0;
    pool_free(pp);
    return t0;
}

static void ping(void *arg)
{
    bench_ping_post();
}

static int rtt(int workers, int n, double *samples)
{
    ppool *pp = pool(workers);
    for (int i = -100; i < n; i++) {
        double t0 = bench_now();
        submit(pp, ping, NULL);
        bench_ping_wait();
        if (i >= 0)
            samples[i] = bench_now() - t0;
    }
    pool_free(pp);
    return 0;
}

static double sleep_s;

static void sleeper(void *arg)
{
    bench_sleep(sleep_s);
    bench_tiny();
}

static void warm_task(void *arg)
{
    bench_warm_task();
}

static double io(int workers, int n, double s, int warm)
{
    double t0 = bench_now();
    ppool *pp = pool(workers);
    if (warm) {
        bench_warm_begin(workers + 1, workers);
        for (int i = 0; i < workers; i++)
            submit(pp, warm_task, NULL);
        bench_warm_end(1);
        t0 = bench_now();
    }
    sleep_s = s;
    bench_done_reset(n);
    for (int i = 0; i < n; i++)
        submit(pp, sleeper, NULL);
    bench_done_wait();
    t0 = bench_now() - t0;
    pool_free(pp);
    return t0;
}

/* ------------------------------------------------------------ the queue */

typedef struct ring {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    void **slot;
    size_t cap, head, count;
} ring;

static ring rq;
static long per_thread;

static void ring_put(ring *r, void *item)
{
    pthread_mutex_lock(&r->mu);
    while (r->count == r->cap)
        pthread_cond_wait(&r->not_full, &r->mu);
    r->slot[(r->head + r->count++) % r->cap] = item;
    pthread_cond_signal(&r->not_empty);
    pthread_mutex_unlock(&r->mu);
}

static void *ring_get(ring *r)
{
    void *item;
    pthread_mutex_lock(&r->mu);
    while (r->count == 0)
        pthread_cond_wait(&r->not_empty, &r->mu);
    item = r->slot[r->head];
    r->head = (r->head + 1) % r->cap;
    r->count--;
    pthread_cond_signal(&r->not_full);
    pthread_mutex_unlock(&r->mu);
    return item;
}

static void *producer(void *arg)
{
    bench_gate_wait();
    for (long i = 0; i < per_thread; i++)
        ring_put(&rq, (void *)(intptr_t)(i + 1));
    return NULL;
}

static void *consumer(void *arg)
{
    bench_gate_wait();
    for (long i = 0; i < per_thread; i++)
        ring_get(&rq);
    return NULL;
}

static pthread_t *spawn(int n, void *(*fn)(void *), void *(*fn2)(void *), int n2)
{
    pthread_t *t = calloc((size_t)(n + n2), sizeof *t);
    for (int i = 0; i < n + n2; i++)
        ok(pthread_create(&t[i], NULL, i < n ? fn : fn2, NULL), "pthread_create");
    return t;
}

static double join_all(pthread_t *t, int n, double t0)
{
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    t0 = bench_now() - t0;
    free(t);
    return t0;
}

static double queue(int pairs, long items, int cap)
{
    pthread_t *t;
    double s;
    pthread_mutex_init(&rq.mu, NULL);
    pthread_cond_init(&rq.not_empty, NULL);
    pthread_cond_init(&rq.not_full, NULL);
    rq.cap = (size_t)cap;
    rq.slot = calloc(rq.cap, sizeof *rq.slot);
    per_thread = items / pairs;
    bench_gate_init(2 * pairs + 1);
    t = spawn(pairs, producer, consumer, pairs);
    bench_gate_wait();
    s = join_all(t, 2 * pairs, bench_now());
    bench_gate_destroy();
    free(rq.slot);
    return s;
}

/* ------------------------------------------------------------ the deque */

/* The textbook thread-safe deque: a default mutex over a power-of-two ring
 * that doubles when full (only the append and popleft it is measured on). */
typedef struct deq {
    pthread_mutex_t mu;
    void **slot;
    size_t cap, head, count;
} deq;

static deq dq;

static void deq_append(deq *d, void *item)
{
    pthread_mutex_lock(&d->mu);
    if (d->count == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        void **s = malloc(cap * sizeof *s);
        if (!s)
            ok(ENOMEM, "malloc");
        for (size_t i = 0; i < d->count; i++)
            s[i] = d->slot[(d->head + i) & (d->cap - 1)];
        free(d->slot);
        d->slot = s;
        d->cap = cap;
        d->head = 0;
    }
    d->slot[(d->head + d->count++) & (d->cap - 1)] = item;
    pthread_mutex_unlock(&d->mu);
}

static bool deq_popleft(deq *d, void **item)
{
    bool got = false;
    pthread_mutex_lock(&d->mu);
    if (d->count > 0) {
        *item = d->slot[d->head];
        d->head = (d->head + 1) & (d->cap - 1);
        d->count--;
        got = true;
    }
    pthread_mutex_unlock(&d->mu);
    return got;
}

static void *deque_producer(void *arg)
{
    bench_gate_wait();
    for (long i = 0; i < per_thread; i++)
        deq_append(&dq, (void *)(intptr_t)(i + 1));
    return NULL;
}

static void *deque_consumer(void *arg)
{
    void *item;
    bench_gate_wait();
    for (long i = 0; i < per_thread;) {
        if (!deq_popleft(&dq, &item)) {
            sched_yield();
            continue;
        }
        i++;
    }
    return NULL;
}

static double deque(int pairs, long items)
{
    pthread_t *t;
    double s;
    pthread_mutex_init(&dq.mu, NULL);
    dq.slot = NULL;
    dq.cap = dq.head = dq.count = 0;
    per_thread = items / pairs;
    bench_gate_init(2 * pairs + 1);
    t = spawn(pairs, deque_producer, deque_consumer, pairs);
    bench_gate_wait();
    s = join_all(t, 2 * pairs, bench_now());
    bench_gate_destroy();
    free(dq.slot);
    pthread_mutex_destroy(&dq.mu);
    return s;
}

/* ------------------------------------------------------------ the lock */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long shared_counter;

static double lock(long n)
{
    double t0 = bench_now();
    for (long i = 0; i < n; i++) {
        pthread_mutex_lock(&mu);
        pthread_mutex_unlock(&mu);
    }
    return bench_now() - t0;
}

static void *locker(void *arg)
{
    bench_gate_wait();
    for (long i = 0; i < per_thread; i++) {
        pthread_mutex_lock(&mu);
        shared_counter++;
        pthread_mutex_unlock(&mu);
    }
    return NULL;
}

static double lockc(int threads, long n)
{
    pthread_t *t;
    double s;
    per_thread = n / threads;
    bench_gate_init(threads + 1);
    t = spawn(threads, locker, NULL, 0);
    bench_gate_wait();
    s = join_all(t, threads, bench_now());
    bench_gate_destroy();
    return s;
}

/* ------------------------------------------------------------ threads */

static void *nothing(void *arg)
{
    return NULL;
}

static double thread(int n)
{
    double t0 = bench_now();
    for (int i = 0; i < n; i++) {
        pthread_t t;
        ok(pthread_create(&t, NULL, nothing, NULL), "pthread_create");
        pthread_join(t, NULL);
    }
    return bench_now() - t0;
}

static void parked(void *arg)
{
    bench_gate_wait();
}

static void *idle_up(int workers)
{
    ppool *pp = pool(workers);
    bench_gate_init(workers + 1);
    for (int i = 0; i < workers; i++)
        submit(pp, parked, NULL);
    bench_gate_wait();
    return pp;
}

static void idle_down(void *p)
{
    pool_free(p);
    bench_gate_destroy();
}

typedef struct sleepers {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool go;
    pthread_t *t;
    int n;
} sleepers;

static void *sleeping(void *arg)
{
    sleepers *s = arg;
    bench_started_add();
    pthread_mutex_lock(&s->mu);
    while (!s->go)
        pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static void *sleepers_up(int n, size_t stack)
{
    sleepers *s = calloc(1, sizeof *s);
    pthread_attr_t a;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->t = calloc((size_t)n, sizeof *s->t);
    s->n = n;
    pthread_attr_init(&a);
    ok(pthread_attr_setstacksize(&a, stack), "pthread_attr_setstacksize");
    bench_started_reset();
    for (int i = 0; i < n; i++)
        ok(pthread_create(&s->t[i], &a, sleeping, s), "pthread_create");
    pthread_attr_destroy(&a);
    return s;
}

static void sleepers_down(void *p)
{
    sleepers *s = p;
    pthread_mutex_lock(&s->mu);
    s->go = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->n; i++)
        pthread_join(s->t[i], NULL);
    free(s->t);
    free(s);
}

const bench_impl bench_this = {
    .name = "pthread",
    .tasks = tasks,
    .rtt = rtt,
    .io = io,
    .queue = queue,
    .deque = deque,
    .lock = lock,
    .lockc = lockc,
    .thread = thread,
    .idle_up = idle_up,
    .idle_down = idle_down,
    .sleepers_up = sleepers_up,
    .sleepers_down = sleepers_down,
};
