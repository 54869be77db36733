/* bench/lib-glib.c: the library figures for GLib: GThreadPool (tasks, round
 * trip, I/O overlap, idle workers), GAsyncQueue, GMutex, GThread.
 *
 * DESIGN: GLib as its documentation shows it: a non-exclusive GThreadPool
 * with max_threads workers, g_thread_pool_push per task. GAsyncQueue has no
 * bound, so its queue figure is for an unbounded queue (the producers never
 * block): say so wherever the figure is shown. g_thread_new takes no stack
 * size; the small-stack sleepers use g_thread_create_full, deprecated but
 * still the only GLib call that does. */
#include "bench.h"

#include <glib.h>

#include <stdint.h>
#include <stdlib.h>

static GThreadPool *pool(GFunc fn, int workers)
{
    GError *err = NULL;
    GThreadPool *p = g_thread_pool_new(fn, NULL, workers, FALSE, &err);
    if (!p)
        bench_check(-1, "g_thread_pool_new");
    return p;
}

static void push(GThreadPool *p)
{
    /* NULL cannot be pushed: any non-NULL item will do. */
    if (!g_thread_pool_push(p, GINT_TO_POINTER(1), NULL))
        bench_check(-1, "g_thread_pool_push");
}

static void tiny(gpointer data, gpointer ud)
{
    bench_tiny();
}

static void batch(GThreadPool *p, long n)
{
    bench_done_reset(n);
    for (long i = 0; i < n; i++)
        push(p);
    bench_done_wait();
}

static double tasks(int workers, long n)
{
    GThreadPool *p = pool(tiny, workers);
    double t0;
    batch(p, n / 10);
    t0 = bench_now();
    batch(p, n);
    t0 = bench_now() - t0;
    g_thread_pool_free(p, FALSE, TRUE);
    return t0;
}

static void ping(gpointer data, gpointer ud)
{
    bench_ping_post();
}

static int rtt(int workers, int n, double *samples)
{
    GThreadPool *p = pool(ping, workers);
    for (int i = -100; i < n; i++) {
        double t0 = bench_now();
        push(p);
        bench_ping_wait();
        if (i >= 0)
            samples[i] = bench_now() - t0;
    }
    g_thread_pool_free(p, FALSE, TRUE);
    return 0;
}

static double sleep_s;

static void sleeper(gpointer data, gpointer ud)
{
    bench_sleep(sleep_s);
    bench_tiny();
}

/* The pool has one task function: the item says which batch it is from
 * (1: timed, 2: warm-up). sleep_s is set before the pool exists, so every
 * worker sees it through its own creation (GLib's futex-based locks are
 * invisible to ThreadSanitizer). */
static void io_task(gpointer data, gpointer ud)
{
    if (GPOINTER_TO_INT(data) == 2)
        bench_warm_task();
    else
        sleeper(data, ud);
}

static double io(int workers, int n, double s, int warm)
{
    double t0 = bench_now();
    GThreadPool *p;
    sleep_s = s;
    p = pool(io_task, workers);
    if (warm) {
        bench_warm_begin(workers + 1, workers);
        for (int i = 0; i < workers; i++)
            if (!g_thread_pool_push(p, GINT_TO_POINTER(2), NULL))
                bench_check(-1, "g_thread_pool_push");
        bench_warm_end(1);
        t0 = bench_now();
    }
    bench_done_reset(n);
    for (int i = 0; i < n; i++)
        push(p);
    bench_done_wait();
    t0 = bench_now() - t0;
    g_thread_pool_free(p, FALSE, TRUE);
    return t0;
}

/* ------------------------------------------------------------ queue */

static GAsyncQueue *aq;
static long per_thread;

static gpointer producer(gpointer arg)
{
    bench_gate_wait();
    for (long i = 0; i < per_thread; i++)
        g_async_queue_push(aq, (gpointer)(intptr_t)(i + 1));
    return NULL;
}

static gpointer consumer(gpointer arg)
{
    bench_gate_wait();
    for (long i = 0; i < per_thread; i++)
        g_async_queue_pop(aq);
    return NULL;
}

static GThread **spawn(int n, GThreadFunc fn, GThreadFunc fn2, int n2)
{
    GThread **t = calloc((size_t)(n + n2), sizeof *t);
    for (int i = 0; i < n + n2; i++)
        t[i] = g_thread_new("bench", i < n ? fn : fn2, NULL);
    return t;
}

static double join_all(GThread **t, int n, double t0)
{
    for (int i = 0; i < n; i++)
        g_thread_join(t[i]);
    t0 = bench_now() - t0;
    free(t);
    return t0;
}

static double queue(int pairs, long items, int cap)
{
    GThread **t;
    double s;
    aq = g_async_queue_new();
    per_thread = items / pairs;
    bench_gate_init(2 * pairs + 1);
    t = spawn(pairs, producer, consumer, pairs);
    bench_gate_wait();
    s = join_all(t, 2 * pairs, bench_now());
    bench_gate_destroy();
    g_async_queue_unref(aq);
    return s;
}

/* ------------------------------------------------------------ lock */

static GMutex mu;
static long shared_counter;

static double lock(long n)
{
    double t0 = bench_now();
    for (long i = 0; i < n; i++) {
        g_mutex_lock(&mu);
        g_mutex_unlock(&mu);
    }
    return bench_now() - t0;
}

static gpointer locker(gpointer arg)
{
    bench_gate_wait();
    for (long i = 0; i < per_thread; i++) {
        g_mutex_lock(&mu);
        shared_counter++;
        g_mutex_unlock(&mu);
    }
    return NULL;
}

static double lockc(int threads, long n)
{
    GThread **t;
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

static gpointer nothing(gpointer arg)
{
    return NULL;
}

static double thread(int n)
{
    double t0 = bench_now();
    for (int i = 0; i < n; i++)
        g_thread_join(g_thread_new("bench", nothing, NULL));
    return bench_now() - t0;
}

static void parked(gpointer data, gpointer ud)
{
    bench_gate_wait();
}

static void *idle_up(int workers)
{
    GThreadPool *p = pool(parked, workers);
    bench_gate_init(workers + 1);
    for (int i = 0; i < workers; i++)
        push(p);
    bench_gate_wait();
    return p;
}

static void idle_down(void *p)
{
    g_thread_pool_free(p, FALSE, TRUE);
    bench_gate_destroy();
}

typedef struct sleepers {
    GMutex mu;
    GCond cv;
    gboolean go;
    GThread **t;
    int n;
} sleepers;

static gpointer sleeping(gpointer arg)
{
    sleepers *s = arg;
    bench_started_add();
    g_mutex_lock(&s->mu);
    while (!s->go)
        g_cond_wait(&s->cv, &s->mu);
    g_mutex_unlock(&s->mu);
    return NULL;
}

static void *sleepers_up(int n, size_t stack)
{
    sleepers *s = calloc(1, sizeof *s);
    s->t = calloc((size_t)n, sizeof *s->t);
    s->n = n;
    bench_started_reset();
    for (int i = 0; i < n; i++) {
        GError *err = NULL;
        G_GNUC_BEGIN_IGNORE_DEPRECATIONS
        s->t[i] =
            g_thread_create_full(sleeping, s, stack, TRUE, FALSE, G_THREAD_PRIORITY_NORMAL, &err);
        G_GNUC_END_IGNORE_DEPRECATIONS
        if (!s->t[i])
            bench_check(-1, "g_thread_create_full");
    }
    return s;
}

static void sleepers_down(void *p)
{
    sleepers *s = p;
    g_mutex_lock(&s->mu);
    s->go = TRUE;
    g_cond_broadcast(&s->cv);
    g_mutex_unlock(&s->mu);
    for (int i = 0; i < s->n; i++)
        g_thread_join(s->t[i]);
    free(s->t);
    free(s);
}

const bench_impl bench_this = {
    .name = "glib",
    .tasks = tasks,
    .rtt = rtt,
    .io = io,
    .queue = queue,
    .lock = lock,
    .lockc = lockc,
    .thread = thread,
    .idle_up = idle_up,
    .idle_down = idle_down,
    .sleepers_up = sleepers_up,
    .sleepers_down = sleepers_down,
};
