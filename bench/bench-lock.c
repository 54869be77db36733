/* bench-lock.c: the cost of an uncontended weft_lock acquire+release against
 * pthread_mutex_lock+unlock, with the deadlock detector off and on.
 *
 * One extra thread is started first and left parked: glibc's pthread_mutex
 * skips its atomic instructions while a process has a single thread, which
 * would flatter it. Each figure is the median of 7 runs of 10 million
 * acquire+release pairs, in ns per pair.
 *
 * Figures: pthread_mutex; weft_lock, detector off; weft_lock, detector on
 * with no other lock held (a push and a pop on the held stack); weft_lock,
 * detector on, taken while holding another lock (the chain-cache hit: one
 * hash lookup, no graph search).
 *
 * Build (not part of CMake), then run; to see what the "off" check costs,
 * build the same file against a libweft without the detector and compare:
 *   cc -O2 -Iinclude bench/bench-lock.c build/cc/libweft.a -lpthread -lm
 */
#define _GNU_SOURCE
#include <weft.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define PAIRS 10000000L
#define RUNS  7

#ifndef WEFT_DEADLOCK_H
/* Built against a libweft without the detector: only the "off" figures. */
#define NO_DETECTOR 1
#endif

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static pthread_mutex_t park_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t park_cv = PTHREAD_COND_INITIALIZER;
static int parked_done;

static void *parked(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&park_mu);
    while (!parked_done)
        pthread_cond_wait(&park_cv, &park_mu);
    pthread_mutex_unlock(&park_mu);
    return NULL;
}

static pthread_mutex_t pm = PTHREAD_MUTEX_INITIALIZER;
static weft_lock *wl, *outer;

static double run_pthread(void)
{
    double t0 = now();
    for (long i = 0; i < PAIRS; i++) {
        pthread_mutex_lock(&pm);
        pthread_mutex_unlock(&pm);
    }
    return (now() - t0) * 1e9 / PAIRS;
}

static double run_weft(void)
{
    double t0 = now();
    for (long i = 0; i < PAIRS; i++) {
        weft_lock_acquire(wl, WEFT_FOREVER);
        weft_lock_release(wl);
    }
    return (now() - t0) * 1e9 / PAIRS;
}

static double run_weft_nested(void)
{
    weft_lock_acquire(outer, WEFT_FOREVER);
    double r = run_weft();
    weft_lock_release(outer);
    return r;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double (*fn)(void))
{
    double v[RUNS];
    fn(); /* warm up */
    for (int i = 0; i < RUNS; i++)
        v[i] = fn();
    qsort(v, RUNS, sizeof v[0], cmp);
    return v[RUNS / 2];
}

int main(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, parked, NULL) != 0)
        return 1;
    if (weft_lock_new(&wl) != 0 || weft_lock_new(&outer) != 0)
        return 1;

#ifndef NO_DETECTOR
    weft_deadlock_set_mode(WEFT_DEADLOCK_OFF);
#endif
    double p = median(run_pthread);
    double off = median(run_weft);
    printf("uncontended acquire+release, ns per pair (median of %d x %ld)\n", RUNS, PAIRS);
    printf("  pthread_mutex                       %6.2f\n", p);
    printf("  weft_lock, detector off             %6.2f  (x%.2f pthread)\n", off, off / p);
#ifndef NO_DETECTOR
    weft_deadlock_set_mode(WEFT_DEADLOCK_REPORT);
    double on = median(run_weft);
    double nested = median(run_weft_nested);
    weft_deadlock_set_mode(WEFT_DEADLOCK_OFF);
    printf("  weft_lock, detector on              %6.2f  (x%.2f off)\n", on, on / off);
    printf("  weft_lock, detector on, nested      %6.2f  (x%.2f off; chain-cache hit)\n", nested,
           nested / off);
#else
    (void)run_weft_nested;
#endif

    pthread_mutex_lock(&park_mu);
    parked_done = 1;
    pthread_cond_signal(&park_cv);
    pthread_mutex_unlock(&park_mu);
    pthread_join(t, NULL);
    weft_lock_free(wl);
    weft_lock_free(outer);
    return 0;
}
