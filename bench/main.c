/* bench/main.c: the driver of the library benchmarks. Runs one figure of one
 * implementation (the one linked in: bench_this) and prints its value(s) on
 * one line, or "n/a" (exit status 3) when that implementation has no such
 * figure. bench/run.py runs it once per figure, implementation and round.
 *
 *   bench-lib-X tasks W N          tasks per second
 *   bench-lib-X rtt W N            p50 and p99 round trip, microseconds
 *   bench-lib-X io W N SLEEP       overlap efficiency, ideal / actual, cold pool
 *   bench-lib-X iowarm W N SLEEP   the same on a pool whose W threads all exist
 *   bench-lib-X spawn N            milliseconds for N raw pthread_create (default
 *                                  attributes) until all N threads run: the
 *                                  floor under the cold I/O figure (the same
 *                                  code in every driver)
 *   bench-lib-X sleepfloor W N SLEEP  efficiency, ideal / actual, with no pool:
 *                                  W threads already running, each sleeping
 *                                  N / W times in a row (bench_sleep), released
 *                                  together: the floor under the warm I/O
 *                                  figure (wakeups and timer slack alone)
 *   bench-lib-X queue P N CAP      items per second, P producers + P consumers
 *   bench-lib-X deque P N          items per second through a thread-safe deque,
 *                                  P appending + P popping left (polling)
 *   bench-lib-X lock N             nanoseconds per acquire+release, one thread
 *                                  (plus one parked thread: see park_start)
 *   bench-lib-X lockc T N          nanoseconds per acquire+release, T threads
 *   bench-lib-X thread N           microseconds per start+join
 *   bench-lib-X idle W             KiB of RSS per idle pool thread
 *   bench-lib-X sleepers N STACK   MiB of RSS for N blocked threads
 *
 * DESIGN: the task bodies every implementation shares live here, so they
 * are compiled once and identical for all; the figures are computed here from
 * the seconds each implementation measures. */
#include "bench.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void bench_sleep(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) == EINTR)
        ;
}

void bench_check(int rc, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "bench-lib-%s: %s failed (%d: %s)\n", bench_this.name, what, rc,
                strerror(rc < 0 ? -rc : rc));
        exit(1);
    }
}

/* ------------------------------------------------------------ task bodies */

/* The counter sits on its own cache line so that the only sharing is the one
 * the task body itself causes. */
static _Alignas(64) atomic_long done_count;
/* Atomic: a task of the previous batch that was not its last may still be
 * reading the target when the next batch's reset stores it (it then
 * compares a smaller count with it: harmless, but a data race otherwise).
 * Relaxed loads are plain loads on x86 and ARM. */
static atomic_long done_target;
static sem_t done_sem, ping_sem;

void bench_done_reset(long target)
{
    atomic_store(&done_count, 0);
    atomic_store_explicit(&done_target, target, memory_order_relaxed);
}

void bench_tiny(void)
{
    if (atomic_fetch_add_explicit(&done_count, 1, memory_order_acq_rel) + 1 ==
        atomic_load_explicit(&done_target, memory_order_relaxed))
        sem_post(&done_sem);
}

void bench_done_wait(void)
{
    while (sem_wait(&done_sem) != 0)
        ;
}

void bench_ping_post(void)
{
    sem_post(&ping_sem);
}

void bench_ping_wait(void)
{
    while (sem_wait(&ping_sem) != 0)
        ;
}

static pthread_barrier_t gate;

void bench_gate_init(int parties)
{
    bench_check(pthread_barrier_init(&gate, NULL, (unsigned)parties), "pthread_barrier_init");
}

void bench_gate_wait(void)
{
    pthread_barrier_wait(&gate);
}

void bench_gate_destroy(void)
{
    pthread_barrier_destroy(&gate);
}

static _Alignas(64) atomic_long started;

void bench_started_reset(void)
{
    atomic_store(&started, 0);
}

void bench_started_add(void)
{
    atomic_fetch_add(&started, 1);
}

long bench_started(void)
{
    return atomic_load(&started);
}

void bench_warm_begin(int parties, int tasks)
{
    bench_gate_init(parties);
    bench_done_reset(tasks);
}

void bench_warm_task(void)
{
    bench_gate_wait();
    bench_tiny();
}

/* Every task has passed the gate (each counted itself after it): the gate
 * is no longer in use when it is destroyed. */
void bench_warm_end(int caller_at_gate)
{
    if (caller_at_gate)
        bench_gate_wait();
    bench_done_wait();
    bench_gate_destroy();
}

/* ------------------------------------------------------------ the driver */

/* VmRSS of this process in KiB, or -1. */
static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kib;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static long arg(int argc, char **argv, int i, long dflt)
{
    return i < argc ? strtol(argv[i], NULL, 10) : dflt;
}

static int na(void)
{
    printf("n/a\n");
    return 3;
}

/* ------------------------------------------------------------ parked thread */

/* glibc's pthread_mutex skips its atomic instructions while the process has
 * a single thread, which makes an uncontended lock look ~3x cheaper than in
 * any program that has threads (every user of a thread library). The lock
 * figures therefore run with one extra thread parked on a condvar, started
 * before the measurement and stopped after it. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    pthread_t th;
} park = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};

static void *park_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&park.mu);
    while (!park.stop)
        pthread_cond_wait(&park.cv, &park.mu);
    pthread_mutex_unlock(&park.mu);
    return NULL;
}

static void park_start(void)
{
    bench_check(pthread_create(&park.th, NULL, park_main, NULL), "pthread_create (parked)");
}

static void park_stop(void)
{
    pthread_mutex_lock(&park.mu);
    park.stop = 1;
    pthread_cond_signal(&park.cv);
    pthread_mutex_unlock(&park.mu);
    bench_check(pthread_join(park.th, NULL), "pthread_join (parked)");
}

/* The spawn floor: n threads created back to back with default attributes
 * (as every pool here creates them), timed until the last one runs. */
static void *spawned(void *arg)
{
    (void)arg;
    bench_gate_wait();
    bench_gate_wait();
    return NULL;
}

static double spawn(int n)
{
    pthread_t *t = calloc((size_t)n, sizeof *t);
    double t0;
    if (!t)
        return -1;
    bench_gate_init(n + 1);
    t0 = bench_now();
    for (int i = 0; i < n; i++)
        bench_check(pthread_create(&t[i], NULL, spawned, NULL), "pthread_create");
    bench_gate_wait(); /* all n run */
    t0 = bench_now() - t0;
    bench_gate_wait(); /* let them go */
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    bench_gate_destroy();
    free(t);
    return t0;
}

/* The warm I/O floor: what no pool can beat, since a pool adds a hand-off
 * to this. w threads, started and parked at the gate before the clock
 * starts, each sleep `rounds` times back to back. */
static int sleep_rounds;
static double sleep_each;

static void *sleeper_thread(void *arg)
{
    (void)arg;
    bench_gate_wait();
    for (int i = 0; i < sleep_rounds; i++)
        bench_sleep(sleep_each);
    bench_gate_wait();
    return NULL;
}

static double sleepfloor(int w, int n, double sl)
{
    pthread_t *t = calloc((size_t)w, sizeof *t);
    pthread_attr_t a;
    double t0;
    if (!t)
        return -1;
    sleep_rounds = (n + w - 1) / w;
    sleep_each = sl;
    bench_gate_init(w + 1);
    bench_check(pthread_attr_init(&a), "pthread_attr_init");
    bench_check(pthread_attr_setstacksize(&a, 256 * 1024), "pthread_attr_setstacksize");
    for (int i = 0; i < w; i++)
        bench_check(pthread_create(&t[i], &a, sleeper_thread, NULL), "pthread_create");
    pthread_attr_destroy(&a);
    bench_sleep(0.05); /* every thread parked at the gate: not a sync, a warm-up */
    t0 = bench_now();
    bench_gate_wait(); /* go */
    bench_gate_wait(); /* all done */
    t0 = bench_now() - t0;
    for (int i = 0; i < w; i++)
        pthread_join(t[i], NULL);
    bench_gate_destroy();
    free(t);
    return t0;
}

static int failed(const char *figure)
{
    fprintf(stderr, "bench-lib-%s: %s did not run\n", bench_this.name, figure);
    return 1;
}

int main(int argc, char **argv)
{
    const bench_impl *b = &bench_this;
    const char *fig = argc > 1 ? argv[1] : "";
    double s;

    sem_init(&done_sem, 0, 0);
    sem_init(&ping_sem, 0, 0);
    if (strcmp(fig, "tasks") == 0) {
        long w = arg(argc, argv, 2, 2), n = arg(argc, argv, 3, 200000);
        if (!b->tasks)
            return na();
        if ((s = b->tasks((int)w, n)) <= 0)
            return failed(fig);
        printf("%.0f\n", (double)n / s);
    } else if (strcmp(fig, "rtt") == 0) {
        long w = arg(argc, argv, 2, 2), n = arg(argc, argv, 3, 10000);
        double *v;
        if (!b->rtt)
            return na();
        if (!(v = calloc((size_t)n, sizeof *v)) || b->rtt((int)w, (int)n, v) != 0)
            return failed(fig);
        qsort(v, (size_t)n, sizeof *v, cmp_double);
        printf("%.2f %.2f\n", v[n / 2] * 1e6, v[(n * 99) / 100] * 1e6);
        free(v);
    } else if (strcmp(fig, "io") == 0 || strcmp(fig, "iowarm") == 0) {
        long w = arg(argc, argv, 2, 200), n = arg(argc, argv, 3, 2000);
        double sl = argc > 4 ? strtod(argv[4], NULL) : 0.01;
        double ideal = (double)((n + w - 1) / w) * sl;
        if (!b->io)
            return na();
        if ((s = b->io((int)w, (int)n, sl, strcmp(fig, "iowarm") == 0)) <= 0)
            return failed(fig);
        printf("%.4f\n", ideal / s);
    } else if (strcmp(fig, "sleepfloor") == 0) {
        long w = arg(argc, argv, 2, 200), n = arg(argc, argv, 3, 2000);
        double sl = argc > 4 ? strtod(argv[4], NULL) : 0.01;
        if ((s = sleepfloor((int)w, (int)n, sl)) <= 0)
            return failed(fig);
        printf("%.4f\n", (double)((n + w - 1) / w) * sl / s);
    } else if (strcmp(fig, "spawn") == 0) {
        long n = arg(argc, argv, 2, 200);
        if ((s = spawn((int)n)) <= 0)
            return failed(fig);
        printf("%.2f\n", s * 1e3);
    } else if (strcmp(fig, "queue") == 0) {
        long p = arg(argc, argv, 2, 1), n = arg(argc, argv, 3, 1000000);
        long cap = arg(argc, argv, 4, 1024);
        if (!b->queue)
            return na();
        if ((s = b->queue((int)p, n, (int)cap)) <= 0)
            return failed(fig);
        printf("%.0f\n", (double)n / s);
    } else if (strcmp(fig, "deque") == 0) {
        long p = arg(argc, argv, 2, 1), n = arg(argc, argv, 3, 1000000);
        if (!b->deque)
            return na();
        if ((s = b->deque((int)p, n)) <= 0)
            return failed(fig);
        printf("%.0f\n", (double)n / s);
    } else if (strcmp(fig, "lock") == 0) {
        long n = arg(argc, argv, 2, 10000000);
        if (!b->lock)
            return na();
        park_start();
        s = b->lock(n);
        park_stop();
        if (s <= 0)
            return failed(fig);
        printf("%.2f\n", s / (double)n * 1e9);
    } else if (strcmp(fig, "lockc") == 0) {
        long t = arg(argc, argv, 2, 4), n = arg(argc, argv, 3, 4000000);
        if (!b->lockc)
            return na();
        park_start(); /* T may be 1: same footing as `lock` */
        s = b->lockc((int)t, n);
        park_stop();
        if (s <= 0)
            return failed(fig);
        printf("%.2f\n", s / (double)n * 1e9);
    } else if (strcmp(fig, "thread") == 0) {
        long n = arg(argc, argv, 2, 2000);
        if (!b->thread)
            return na();
        if ((s = b->thread((int)n)) <= 0)
            return failed(fig);
        printf("%.2f\n", s / (double)n * 1e6);
    } else if (strcmp(fig, "idle") == 0) {
        long w = arg(argc, argv, 2, 100), before, after;
        void *p;
        if (!b->idle_up)
            return na();
        before = rss_kib();
        if (!(p = b->idle_up((int)w)))
            return failed(fig);
        bench_sleep(0.1); /* let every worker reach its idle wait */
        after = rss_kib();
        b->idle_down(p);
        printf("%.1f\n", (double)(after - before) / (double)w);
    } else if (strcmp(fig, "sleepers") == 0) {
        long n = arg(argc, argv, 2, 10000), stack = arg(argc, argv, 3, 65536), before, after;
        void *p;
        if (!b->sleepers_up)
            return na();
        before = rss_kib();
        if (!(p = b->sleepers_up((int)n, (size_t)stack)))
            return failed(fig);
        while (bench_started() < n)
            bench_sleep(0.001);
        bench_sleep(0.1);
        after = rss_kib();
        printf("%.1f\n", (double)(after - before) / 1024.0);
        /* The figure is taken. Waking and joining 10,000 threads takes
         * 1-4 s a run (GLib the most), a tenth of a quick bench run over
         * the rounds: leave it to the process's exit unless asked (to
         * check a driver's teardown, under a sanitizer say). */
        if (!getenv("BENCH_TEARDOWN")) {
            fflush(stdout);
            _exit(0);
        }
        b->sleepers_down(p);
    } else {
        fprintf(stderr,
                "usage: bench-lib-%s tasks W N | rtt W N | io W N SLEEP | iowarm W N SLEEP |\n"
                "       spawn N | sleepfloor W N SLEEP | queue P N CAP | deque P N | lock N | "
                "lockc T N | "
                "thread N | idle W |\n"
                "       sleepers N STACK\n",
                b->name);
        return 2;
    }
    return 0;
}
