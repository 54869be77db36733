/* bench/lib-weft.c: the library figures for libweft, through its public
 * headers only: weft_executor (tasks, round trip, I/O overlap, idle
 * workers), weft_queue, weft_lock, weft_thread (start cost, small stacks).
 *
 * DESIGN: tasks are submitted the way a user would: detached (no future)
 * when nobody wants the result, with a future for the round trip. Every
 * thread this file starts is a weft_thread, so thread-start costs of weft
 * are part of the figures that start threads. */
#include "bench.h"

#include <weft.h>

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>

static void ok(int rc, const char *what)
{
    bench_check(rc, what);
}

static weft_executor *pool(int workers)
{
    weft_executor *ex;
    weft_executor_opts o = {.max_workers = (unsigned)workers};
    ok(weft_executor_new(&ex, &o), "weft_executor_new");
    return ex;
}

static int tiny(void *arg, void **result)
{
    bench_tiny();
    return 0;
}

static void batch(weft_executor *ex, long n)
{
    bench_done_reset(n);
    for (long i = 0; i < n; i++)
        ok(weft_executor_submit(ex, tiny, NULL, NULL), "weft_executor_submit");
    bench_done_wait();
}

static double tasks(int workers, long n)
{
    weft_executor *ex = pool(workers);
    double t0;
    batch(ex, n / 10);
    t0 = bench_now();
    batch(ex, n);
    t0 = bench_now() - t0;
    weft_executor_free(ex);
    return t0;
}

static int ping(void *arg, void **result)
{
    *result = arg;
    return 0;
}

static int rtt(int workers, int n, double *samples)
{
    weft_executor *ex = pool(workers);
    for (int i = -100; i < n; i++) {
        weft_future *f;
        void *r;
        double t0 = bench_now();
        ok(weft_executor_submit(ex, ping, &samples[0], &f), "weft_executor_submit");
        ok(weft_future_result(f, WEFT_FOREVER, &r), "weft_future_result");
        weft_future_unref(f);
        if (i >= 0)
            samples[i] = bench_now() - t0;
    }
    weft_executor_free(ex);
    return 0;
}

static double sleep_s;

static int sleeper(void *arg, void **result)
{
    bench_sleep(sleep_s);
    bench_tiny();
    return 0;
}

static int warm_task(void *arg, void **result)
{
    bench_warm_task();
    return 0;
}

static double io(int workers, int n, double s, int warm)
{
    double t0 = bench_now();
    weft_executor *ex = pool(workers);
    if (warm) {
        bench_warm_begin(workers + 1, workers);
        for (int i = 0; i < workers; i++)
            ok(weft_executor_submit(ex, warm_task, NULL, NULL), "weft_executor_submit");
        bench_warm_end(1);
        t0 = bench_now();
    }
    sleep_s = s;
    bench_done_reset(n);
    for (int i = 0; i < n; i++)
        ok(weft_executor_submit(ex, sleeper, NULL, NULL), "weft_executor_submit");
    bench_done_wait();
    t0 = bench_now() - t0;
    weft_executor_free(ex);
    return t0;
}

/* ------------------------------------------------------------ queue */

static weft_queue *q;
static long per_thread;

static int producer(void *arg, void **result)
{
    bench_gate_wait();
    for (long i = 0; i < per_thread; i++)
        ok(weft_queue_put(q, (void *)(intptr_t)(i + 1), WEFT_FOREVER), "weft_queue_put");
    return 0;
}

static int consumer(void *arg, void **result)
{
    void *item;
    bench_gate_wait();
    for (long i = 0; i < per_thread; i++)
        ok(weft_queue_get(q, &item, WEFT_FOREVER), "weft_queue_get");
    return 0;
}

/* Starts `n` weft threads running fn, behind the gate with the caller. */
static weft_thread **spawn(int n, weft_fn *fn, weft_fn *fn2, int n2)
{
    weft_thread **t = calloc((size_t)(n + n2), sizeof *t);
    for (int i = 0; i < n + n2; i++)
        ok(weft_thread_start(&t[i], i < n ? fn : fn2, NULL, NULL), "weft_thread_start");
    return t;
}

static double join_all(weft_thread **t, int n, double t0)
{
    for (int i = 0; i < n; i++)
        ok(weft_thread_join(t[i], WEFT_FOREVER), "weft_thread_join");
    t0 = bench_now() - t0;
    for (int i = 0; i < n; i++)
        weft_thread_free(t[i]);
    free(t);
    return t0;
}

static double queue(int pairs, long items, int cap)
{
    weft_queue_opts o = {.maxsize = (size_t)cap};
    weft_thread **t;
    double t0, s;
    ok(weft_queue_new(&q, &o), "weft_queue_new");
    per_thread = items / pairs;
    bench_gate_init(2 * pairs + 1);
    t = spawn(pairs, producer, consumer, pairs);
    bench_gate_wait();
    t0 = bench_now();
    s = join_all(t, 2 * pairs, t0);
    bench_gate_destroy();
    weft_queue_free(q, NULL, NULL);
    return s;
}

/* ------------------------------------------------------------ deque */

static weft_deque *dq;

static int deque_producer(void *arg, void **result)
{
    bench_gate_wait();
    for (long i = 0; i < per_thread; i++)
        ok(weft_deque_append(dq, (void *)(intptr_t)(i + 1)), "weft_deque_append");
    return 0;
}

static int deque_consumer(void *arg, void **result)
{
    void *item;
    bench_gate_wait();
    for (long i = 0; i < per_thread;) {
        int rc = weft_deque_popleft(dq, &item);
        if (rc == EAGAIN) {
            sched_yield(); /* empty: a deque never waits */
            continue;
        }
        ok(rc, "weft_deque_popleft");
        i++;
    }
    return 0;
}

static double deque(int pairs, long items)
{
    weft_thread **t;
    double t0, s;
    ok(weft_deque_new(&dq, NULL), "weft_deque_new");
    per_thread = items / pairs;
    bench_gate_init(2 * pairs + 1);
    t = spawn(pairs, deque_producer, deque_consumer, pairs);
    bench_gate_wait();
    t0 = bench_now();
    s = join_all(t, 2 * pairs, t0);
    bench_gate_destroy();
    weft_deque_free(dq, NULL, NULL);
    return s;
}

/* ------------------------------------------------------------ lock */

static weft_lock *lk;
static long shared_counter;

static double lock(long n)
{
    double t0;
    ok(weft_lock_new(&lk), "weft_lock_new");
    t0 = bench_now();
    for (long i = 0; i < n; i++) {
        weft_lock_acquire(lk, WEFT_FOREVER);
        weft_lock_release(lk);
    }
    t0 = bench_now() - t0;
    weft_lock_free(lk);
    return t0;
}

static int locker(void *arg, void **result)
{
    bench_gate_wait();
    for (long i = 0; i < per_thread; i++) {
        weft_lock_acquire(lk, WEFT_FOREVER);
        shared_counter++;
        weft_lock_release(lk);
    }
    return 0;
}

static double lockc(int threads, long n)
{
    weft_thread **t;
    double s;
    ok(weft_lock_new(&lk), "weft_lock_new");
    per_thread = n / threads;
    bench_gate_init(threads + 1);
    t = spawn(threads, locker, NULL, 0);
    bench_gate_wait();
    s = join_all(t, threads, bench_now());
    bench_gate_destroy();
    weft_lock_free(lk);
    if (shared_counter != per_thread * threads)
        bench_check(-1, "the lock's mutual exclusion");
    return s;
}

/* ------------------------------------------------------------ threads */

static int nothing(void *arg, void **result)
{
    return 0;
}

static double thread(int n)
{
    double t0 = bench_now();
    for (int i = 0; i < n; i++) {
        weft_thread *t;
        ok(weft_thread_start(&t, nothing, NULL, NULL), "weft_thread_start");
        ok(weft_thread_join(t, WEFT_FOREVER), "weft_thread_join");
        weft_thread_free(t);
    }
    return bench_now() - t0;
}

static int parked(void *arg, void **result)
{
    bench_gate_wait();
    return 0;
}

static void *idle_up(int workers)
{
    weft_executor *ex = pool(workers);
    bench_gate_init(workers + 1);
    for (int i = 0; i < workers; i++)
        ok(weft_executor_submit(ex, parked, NULL, NULL), "weft_executor_submit");
    bench_gate_wait(); /* every worker exists now */
    return ex;
}

static void idle_down(void *p)
{
    weft_executor_free(p);
    bench_gate_destroy();
}

typedef struct sleepers {
    weft_event *release;
    weft_thread **t;
    int n;
} sleepers;

static int sleeping(void *arg, void **result)
{
    weft_event *release = arg;
    bench_started_add();
    return weft_event_wait(release, WEFT_FOREVER);
}

static void *sleepers_up(int n, size_t stack)
{
    sleepers *s = calloc(1, sizeof *s);
    weft_thread_opts o = {.stack_size = stack, .daemon = true};
    ok(weft_event_new(&s->release), "weft_event_new");
    s->t = calloc((size_t)n, sizeof *s->t);
    s->n = n;
    bench_started_reset();
    for (int i = 0; i < n; i++)
        ok(weft_thread_start(&s->t[i], sleeping, s->release, &o), "weft_thread_start");
    return s;
}

static void sleepers_down(void *p)
{
    sleepers *s = p;
    weft_event_set(s->release);
    for (int i = 0; i < s->n; i++) {
        weft_thread_join(s->t[i], WEFT_FOREVER);
        weft_thread_free(s->t[i]);
    }
    weft_event_free(s->release);
    free(s->t);
    free(s);
}

const bench_impl bench_this = {
    .name = "weft",
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
