/* bench/lib-uv.c: the library figures for libuv: uv_queue_work on the
 * default loop (tasks, round trip, I/O overlap, idle workers), uv_mutex_t,
 * uv_thread_create(_ex). libuv has no queue between threads: that figure is
 * n/a.
 *
 * DESIGN: libuv's pool is global to the process and sized once, from
 * UV_THREADPOOL_SIZE (at most 1024), at the first uv_queue_work: each figure
 * runs in its own process, so it is set here before that. Work is queued
 * from the loop thread, as libuv requires, and a batch is complete when
 * uv_run returns (every request's completion has reached the loop). */
#include "bench.h"

#include <uv.h>

#include <stdio.h>
#include <stdlib.h>

static void ok(int rc, const char *what)
{
    bench_check(rc < 0 ? -rc : rc, what);
}

static void size_pool(int workers)
{
    char n[16];
    snprintf(n, sizeof n, "%d", workers);
    setenv("UV_THREADPOOL_SIZE", n, 1);
}

static void tiny(uv_work_t *req)
{
    bench_tiny();
}

static void batch(uv_loop_t *loop, uv_work_t *reqs, long n, uv_work_cb fn)
{
    bench_done_reset(n);
    for (long i = 0; i < n; i++)
        ok(uv_queue_work(loop, &reqs[i], fn, NULL), "uv_queue_work");
    ok(uv_run(loop, UV_RUN_DEFAULT), "uv_run");
    bench_done_wait();
}

static double tasks(int workers, long n)
{
    uv_loop_t *loop = uv_default_loop();
    uv_work_t *reqs = calloc((size_t)n, sizeof *reqs);
    double t0;
    size_pool(workers);
    batch(loop, reqs, n / 10, tiny);
    t0 = bench_now();
    batch(loop, reqs, n, tiny);
    t0 = bench_now() - t0;
    free(reqs);
    return t0;
}

static void nop_work(uv_work_t *req)
{
}

static void after(uv_work_t *req, int status)
{
}

static int rtt(int workers, int n, double *samples)
{
    uv_loop_t *loop = uv_default_loop();
    uv_work_t req;
    size_pool(workers);
    for (int i = -100; i < n; i++) {
        double t0 = bench_now();
        ok(uv_queue_work(loop, &req, nop_work, after), "uv_queue_work");
        ok(uv_run(loop, UV_RUN_DEFAULT), "uv_run");
        if (i >= 0)
            samples[i] = bench_now() - t0;
    }
    return 0;
}

static double sleep_s;

static void sleeper(uv_work_t *req)
{
    bench_sleep(sleep_s);
    bench_tiny();
}

static void warm_task(uv_work_t *req)
{
    bench_warm_task();
}

static double io(int workers, int n, double s, int warm)
{
    uv_loop_t *loop = uv_default_loop();
    uv_work_t *reqs = calloc((size_t)(n > workers ? n : workers), sizeof *reqs);
    double t0 = bench_now();
    size_pool(workers);
    if (warm) {
        bench_warm_begin(workers + 1, workers);
        for (int i = 0; i < workers; i++)
            ok(uv_queue_work(loop, &reqs[i], warm_task, NULL), "uv_queue_work");
        bench_warm_end(1);
        ok(uv_run(loop, UV_RUN_DEFAULT), "uv_run");
        t0 = bench_now();
    }
    sleep_s = s;
    batch(loop, reqs, n, sleeper);
    t0 = bench_now() - t0;
    free(reqs);
    return t0;
}

/* ------------------------------------------------------------ lock */

static uv_mutex_t mu;
static long shared_counter, per_thread;

static double lock(long n)
{
    double t0;
    ok(uv_mutex_init(&mu), "uv_mutex_init");
    t0 = bench_now();
    for (long i = 0; i < n; i++) {
        uv_mutex_lock(&mu);
        uv_mutex_unlock(&mu);
    }
    t0 = bench_now() - t0;
    uv_mutex_destroy(&mu);
    return t0;
}

static void locker(void *arg)
{
    bench_gate_wait();
    for (long i = 0; i < per_thread; i++) {
        uv_mutex_lock(&mu);
        shared_counter++;
        uv_mutex_unlock(&mu);
    }
}

static double lockc(int threads, long n)
{
    uv_thread_t *t = calloc((size_t)threads, sizeof *t);
    double t0;
    ok(uv_mutex_init(&mu), "uv_mutex_init");
    per_thread = n / threads;
    bench_gate_init(threads + 1);
    for (int i = 0; i < threads; i++)
        ok(uv_thread_create(&t[i], locker, NULL), "uv_thread_create");
    bench_gate_wait();
    t0 = bench_now();
    for (int i = 0; i < threads; i++)
        uv_thread_join(&t[i]);
    t0 = bench_now() - t0;
    bench_gate_destroy();
    uv_mutex_destroy(&mu);
    free(t);
    return t0;
}

/* ------------------------------------------------------------ threads */

static void nothing(void *arg)
{
}

static double thread(int n)
{
    double t0 = bench_now();
    for (int i = 0; i < n; i++) {
        uv_thread_t t;
        ok(uv_thread_create(&t, nothing, NULL), "uv_thread_create");
        uv_thread_join(&t);
    }
    return bench_now() - t0;
}

static void parked(uv_work_t *req)
{
    bench_gate_wait();
}

typedef struct idle {
    uv_work_t *reqs;
} idle;

static void *idle_up(int workers)
{
    idle *p = calloc(1, sizeof *p);
    p->reqs = calloc((size_t)workers, sizeof *p->reqs);
    size_pool(workers);
    bench_gate_init(workers + 1);
    for (int i = 0; i < workers; i++)
        ok(uv_queue_work(uv_default_loop(), &p->reqs[i], parked, NULL), "uv_queue_work");
    bench_gate_wait();
    return p;
}

static void idle_down(void *v)
{
    idle *p = v;
    ok(uv_run(uv_default_loop(), UV_RUN_DEFAULT), "uv_run");
    bench_gate_destroy();
    free(p->reqs);
    free(p);
}

typedef struct sleepers {
    uv_mutex_t mu;
    uv_cond_t cv;
    int go;
    uv_thread_t *t;
    int n;
} sleepers;

static void sleeping(void *arg)
{
    sleepers *s = arg;
    bench_started_add();
    uv_mutex_lock(&s->mu);
    while (!s->go)
        uv_cond_wait(&s->cv, &s->mu);
    uv_mutex_unlock(&s->mu);
}

static void *sleepers_up(int n, size_t stack)
{
    sleepers *s = calloc(1, sizeof *s);
    uv_thread_options_t o = {.flags = UV_THREAD_HAS_STACK_SIZE, .stack_size = stack};
    ok(uv_mutex_init(&s->mu), "uv_mutex_init");
    ok(uv_cond_init(&s->cv), "uv_cond_init");
    s->t = calloc((size_t)n, sizeof *s->t);
    s->n = n;
    bench_started_reset();
    for (int i = 0; i < n; i++)
        ok(uv_thread_create_ex(&s->t[i], &o, sleeping, s), "uv_thread_create_ex");
    return s;
}

static void sleepers_down(void *p)
{
    sleepers *s = p;
    uv_mutex_lock(&s->mu);
    s->go = 1;
    uv_cond_broadcast(&s->cv);
    uv_mutex_unlock(&s->mu);
    for (int i = 0; i < s->n; i++)
        uv_thread_join(&s->t[i]);
    free(s->t);
    free(s);
}

const bench_impl bench_this = {
    .name = "libuv",
    .tasks = tasks,
    .rtt = rtt,
    .io = io,
    .lock = lock,
    .lockc = lockc,
    .thread = thread,
    .idle_up = idle_up,
    .idle_down = idle_down,
    .sleepers_up = sleepers_up,
    .sleepers_down = sleepers_down,
};
