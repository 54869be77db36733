/* bench-executor.c: weft's executor against a plain pthread pool (one mutex,
 * one condvar, a malloc'd task list, workers started up front), both in
 * this file so they run on the same machine in the same run.
 *
 * Figures: tiny no-op task throughput (200,000 tasks; 2, 8, 100 workers;
 * warm pools for the comparison, weft's cold start and futures separately),
 * submit-to-result round-trip latency (p50/p99, idle pool of 2), blocking
 * overlap (2,000 tasks x 10 ms sleep on 200 workers, efficiency = ideal
 * 0.100 s / actual), and the CPU an idle pool burns.
 *
 * Build (not part of CMake):
 *   cc -O2 -Iinclude bench/bench-executor.c build/cc/libweft.a -lpthread
 */
#define _GNU_SOURCE
#include <weft.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------ plain pool */

typedef struct ptask {
    void (*fn)(void *);
    void *arg;
    struct ptask *next;
} ptask;

typedef struct ppool {
    pthread_mutex_t m;
    pthread_cond_t c;
    ptask *head, *tail;
    bool stop;
    int n;
    pthread_t *t;
} ppool;

static void *pworker(void *p)
{
    ppool *pp = p;
    pthread_mutex_lock(&pp->m);
    for (;;) {
        while (!pp->head && !pp->stop)
            pthread_cond_wait(&pp->c, &pp->m);
        if (!pp->head)
            break;
        ptask *t = pp->head;
        pp->head = t->next;
        if (!pp->head)
            pp->tail = NULL;
        pthread_mutex_unlock(&pp->m);
        t->fn(t->arg);
        free(t);
        pthread_mutex_lock(&pp->m);
    }
    pthread_mutex_unlock(&pp->m);
    return NULL;
}

static ppool *ppool_new(int n)
{
    ppool *pp = calloc(1, sizeof *pp);
    pthread_mutex_init(&pp->m, NULL);
    pthread_cond_init(&pp->c, NULL);
    pp->n = n;
    pp->t = calloc(n, sizeof *pp->t);
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 256 * 1024);
    for (int i = 0; i < n; i++)
        pthread_create(&pp->t[i], &a, pworker, pp);
    pthread_attr_destroy(&a);
    return pp;
}

static void ppool_submit(ppool *pp, void (*fn)(void *), void *arg)
{
    ptask *t = malloc(sizeof *t);
    t->fn = fn;
    t->arg = arg;
    t->next = NULL;
    pthread_mutex_lock(&pp->m);
    if (pp->tail)
        pp->tail->next = t;
    else
        pp->head = t;
    pp->tail = t;
    pthread_cond_signal(&pp->c);
    pthread_mutex_unlock(&pp->m);
}

/* Drains the queue, then joins. */
static void ppool_free(ppool *pp)
{
    pthread_mutex_lock(&pp->m);
    pp->stop = true;
    pthread_cond_broadcast(&pp->c);
    pthread_mutex_unlock(&pp->m);
    for (int i = 0; i < pp->n; i++)
        pthread_join(pp->t[i], NULL);
    free(pp->t);
    free(pp);
}

/* ------------------------------------------------------------ tasks */

static atomic_long done_count;
static long done_target = -1;
static pthread_mutex_t done_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;

/* The task that completes the batch wakes the timer; the others only count. */
static void count_one(void)
{
    if (atomic_fetch_add_explicit(&done_count, 1, memory_order_acq_rel) + 1 == done_target) {
        pthread_mutex_lock(&done_mu);
        pthread_cond_signal(&done_cv);
        pthread_mutex_unlock(&done_mu);
    }
}

static void arm(long target)
{
    atomic_store(&done_count, 0);
    done_target = target;
}

static void wait_all(long target)
{
    pthread_mutex_lock(&done_mu);
    while (atomic_load(&done_count) < target)
        pthread_cond_wait(&done_cv, &done_mu);
    pthread_mutex_unlock(&done_mu);
}

static int weft_noop(void *arg, void **result)
{
    count_one();
    return 0;
}

static void plain_noop(void *arg)
{
    count_one();
}

static int weft_sleeper(void *arg, void **result)
{
    weft_sleep(0.010);
    return 0;
}

static void plain_sleeper(void *arg)
{
    weft_sleep(0.010);
}

/* ------------------------------------------------------------ figures */

#define NTASKS 200000

/* Throughput of a warm pool: a first, untimed batch starts the workers
 * (weft starts them lazily; the plain pool starts them up front). */
static double weft_throughput(unsigned workers)
{
    weft_executor_opts o = {.max_workers = workers};
    weft_executor *ex;
    weft_executor_new(&ex, &o);
    double dt = 0;
    for (int round = 0; round < 2; round++) {
        arm(NTASKS);
        double t0 = now();
        for (int i = 0; i < NTASKS; i++)
            if (weft_executor_submit(ex, weft_noop, NULL, NULL))
                abort();
        wait_all(NTASKS);
        dt = now() - t0;
    }
    weft_executor_free(ex);
    return NTASKS / dt;
}

/* The same, cold: thread starts included, as a first burst sees them. */
static double weft_throughput_cold(unsigned workers)
{
    weft_executor_opts o = {.max_workers = workers};
    weft_executor *ex;
    weft_executor_new(&ex, &o);
    arm(NTASKS);
    double t0 = now();
    for (int i = 0; i < NTASKS; i++)
        if (weft_executor_submit(ex, weft_noop, NULL, NULL))
            abort();
    wait_all(NTASKS);
    double dt = now() - t0;
    weft_executor_free(ex);
    return NTASKS / dt;
}

static double weft_throughput_futures(unsigned workers)
{
    weft_executor_opts o = {.max_workers = workers};
    weft_executor *ex;
    weft_executor_new(&ex, &o);
    enum { BATCH = 1000 };
    weft_future *fs[BATCH];
    double t0 = now();
    for (int i = 0; i < NTASKS; i += BATCH) {
        for (int k = 0; k < BATCH; k++)
            if (weft_executor_submit(ex, weft_noop, NULL, &fs[k]))
                abort();
        for (int k = 0; k < BATCH; k++) {
            weft_future_result(fs[k], WEFT_FOREVER, NULL);
            weft_future_unref(fs[k]);
        }
    }
    double dt = now() - t0;
    weft_executor_free(ex);
    return NTASKS / dt;
}

static double plain_throughput(int workers)
{
    ppool *pp = ppool_new(workers);
    double dt = 0;
    for (int round = 0; round < 2; round++) {
        arm(NTASKS);
        double t0 = now();
        for (int i = 0; i < NTASKS; i++)
            ppool_submit(pp, plain_noop, NULL);
        wait_all(NTASKS);
        dt = now() - t0;
    }
    ppool_free(pp);
    return NTASKS / dt;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#define NLAT 20000

static void weft_latency(double *p50, double *p99)
{
    static double lat[NLAT];
    weft_executor_opts o = {.max_workers = 2};
    weft_executor *ex;
    weft_executor_new(&ex, &o);
    for (int i = 0; i < NLAT; i++) {
        weft_future *f;
        double t0 = now();
        weft_executor_submit(ex, weft_noop, NULL, &f);
        weft_future_result(f, WEFT_FOREVER, NULL);
        lat[i] = now() - t0;
        weft_future_unref(f);
    }
    weft_executor_free(ex);
    qsort(lat, NLAT, sizeof *lat, cmp_double);
    *p50 = lat[NLAT / 2];
    *p99 = lat[NLAT * 99 / 100];
}

typedef struct rendezvous {
    pthread_mutex_t m;
    pthread_cond_t c;
    bool done;
} rendezvous;

static void plain_signal(void *arg)
{
    rendezvous *r = arg;
    pthread_mutex_lock(&r->m);
    r->done = true;
    pthread_cond_signal(&r->c);
    pthread_mutex_unlock(&r->m);
}

static void plain_latency(double *p50, double *p99)
{
    static double lat[NLAT];
    ppool *pp = ppool_new(2);
    for (int i = 0; i < NLAT; i++) {
        rendezvous r = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
        double t0 = now();
        ppool_submit(pp, plain_signal, &r);
        pthread_mutex_lock(&r.m);
        while (!r.done)
            pthread_cond_wait(&r.c, &r.m);
        pthread_mutex_unlock(&r.m);
        lat[i] = now() - t0;
    }
    ppool_free(pp);
    qsort(lat, NLAT, sizeof *lat, cmp_double);
    *p50 = lat[NLAT / 2];
    *p99 = lat[NLAT * 99 / 100];
}

static double weft_overlap(void)
{
    weft_executor_opts o = {.max_workers = 200, .stack_size = 256 * 1024};
    weft_executor *ex;
    weft_executor_new(&ex, &o);
    double t0 = now();
    for (int i = 0; i < 2000; i++)
        weft_executor_submit(ex, weft_sleeper, NULL, NULL);
    weft_executor_shutdown(ex, true, false);
    double dt = now() - t0;
    weft_executor_free(ex);
    return 0.100 / dt;
}

static double plain_overlap(void)
{
    double t0 = now();
    ppool *pp = ppool_new(200);
    for (int i = 0; i < 2000; i++)
        ppool_submit(pp, plain_sleeper, NULL);
    ppool_free(pp);
    return 0.100 / (now() - t0);
}

static double weft_idle_cpu(void)
{
    weft_executor_opts o = {.max_workers = 8};
    weft_executor *ex;
    weft_executor_new(&ex, &o);
    for (int i = 0; i < 10000; i++)
        weft_executor_submit(ex, weft_noop, NULL, NULL);
    weft_sleep(0.05); /* let the burst end */
    double c0 = cpu_now();
    weft_sleep(0.5);
    double c = cpu_now() - c0;
    weft_executor_free(ex);
    return c / 0.5;
}

static double best(double (*fn)(unsigned), unsigned arg, int reps)
{
    double b = 0;
    for (int i = 0; i < reps; i++) {
        double v = fn(arg);
        if (v > b)
            b = v;
    }
    return b;
}

static double plain_best(int arg, int reps)
{
    double b = 0;
    for (int i = 0; i < reps; i++) {
        double v = plain_throughput(arg);
        if (v > b)
            b = v;
    }
    return b;
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 3;
    printf("%-44s %14s %14s %8s\n", "figure", "weft", "plain pthread", "ratio");
    unsigned ws[] = {2, 8, 100};
    for (int i = 0; i < 3; i++) {
        double w = best(weft_throughput, ws[i], reps);
        double p = plain_best((int)ws[i], reps);
        char label[64];
        snprintf(label, sizeof label, "tiny tasks/s, %u workers (detached)", ws[i]);
        printf("%-44s %14.0f %14.0f %8.2f\n", label, w, p, w / p);
    }
    for (int i = 0; i < 3; i++) {
        double w = best(weft_throughput_cold, ws[i], reps);
        char label[64];
        snprintf(label, sizeof label, "tiny tasks/s, %u workers (cold pool)", ws[i]);
        printf("%-44s %14.0f %14s\n", label, w, "-");
    }
    for (int i = 0; i < 3; i++) {
        double w = best(weft_throughput_futures, ws[i], reps);
        char label[64];
        snprintf(label, sizeof label, "tiny tasks/s, %u workers (futures)", ws[i]);
        printf("%-44s %14.0f %14s\n", label, w, "-");
    }
    double w50, w99, p50, p99;
    weft_latency(&w50, &w99);
    plain_latency(&p50, &p99);
    printf("%-44s %14.2f %14.2f %8.2f\n", "submit-to-result p50 (us)", w50 * 1e6, p50 * 1e6,
           w50 / p50);
    printf("%-44s %14.2f %14.2f %8.2f\n", "submit-to-result p99 (us)", w99 * 1e6, p99 * 1e6,
           w99 / p99);
    double wo = weft_overlap(), po = plain_overlap();
    printf("%-44s %14.3f %14.3f %8.2f\n", "2000 x 10 ms on 200 workers, efficiency", wo, po,
           wo / po);
    printf("%-44s %14.4f %14s\n", "idle pool CPU (cores)", weft_idle_cpu(), "-");
    return 0;
}
