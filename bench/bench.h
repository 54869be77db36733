/* bench/bench.h: what the library benchmarks share. One driver (main.c) runs
 * one figure per process; each implementation (weft, plain pthreads, GLib,
 * libuv, oneTBB) fills in a bench_impl with the figures it can do.
 *
 * DESIGN: a process per figure, so that a pool that is global to the process
 * (libuv's, sized by UV_THREADPOOL_SIZE before first use; TBB's) is sized per
 * figure, and so that an RSS figure starts from a clean process. Every
 * implementation runs the same task body (bench_tiny, bench_sleep,
 * bench_gate_wait below, defined once in main.c) with the same counts; only
 * the way the task reaches a thread differs. Each function times itself
 * between the points its comment names and returns seconds, or a negative
 * value when it could not run. A NULL member prints "n/a". */
#ifndef BENCH_H
#define BENCH_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bench_impl {
    const char *name;
    /* n tiny tasks on `workers` threads, after a warm-up batch on the same
     * pool: from the first submit until the last task has run (pool creation
     * and teardown excluded). */
    double (*tasks)(int workers, long n);
    /* n sequential round trips on an idle pool of `workers`: submit one task,
     * wait for its result on the submitting thread. Fills samples[0..n). */
    int (*rtt)(int workers, int n, double *samples);
    /* n tasks each sleeping `sleep_s` on `workers` threads. Cold (warm 0):
     * from pool creation until the last has finished (thread start counts,
     * as in a program's first burst). Warm: the pool first runs an untimed
     * batch of `workers` tasks that all meet at a gate (bench_warm_*
     * below), so that every thread exists whether the pool starts them
     * lazily or up front; timed from the first submit of the real batch. */
    double (*io)(int workers, int n, double sleep_s, int warm);
    /* `pairs` producers put `items` in total through a queue of capacity
     * `cap`, `pairs` consumers get them: from a barrier every thread waits at
     * until the last has joined. */
    double (*queue)(int pairs, long items, int cap);
    /* `pairs` producers append `items` in total to an unbounded deque (a
     * thread-safe collections.deque; nothing waits), `pairs` consumers
     * popleft them, yielding the CPU when they find it empty: from a barrier
     * every thread waits at until the last has joined. */
    double (*deque)(int pairs, long items);
    /* n acquire+release pairs on one thread. */
    double (*lock)(long n);
    /* `threads` threads, n pairs in total, each incrementing a shared counter
     * in the critical section: from a start barrier to the last join. */
    double (*lockc)(int threads, long n);
    /* n sequential start+join of a thread that does nothing. */
    double (*thread)(int n);
    /* A pool of `workers` threads, every one of them made to exist (each
     * runs one task parked at a gate), then idle. RSS is read in between. */
    void *(*idle_up)(int workers);
    void (*idle_down)(void *pool);
    /* n threads with `stack` bytes of stack, each blocked until released.
     * The driver exits without sleepers_down unless BENCH_TEARDOWN is set. */
    void *(*sleepers_up)(int n, size_t stack);
    void (*sleepers_down)(void *state);
} bench_impl;

/* Each implementation file defines this. */
extern const bench_impl bench_this;

/* Monotonic seconds. */
double bench_now(void);
/* Sleeps s seconds (nanosleep, resumed after signals). */
void bench_sleep(double s);

/* The tiny task: counts itself; the one that reaches the target set by
 * bench_done_reset wakes bench_done_wait. */
void bench_done_reset(long target);
void bench_tiny(void);
void bench_done_wait(void);

/* A one-shot signal for round trips: the task posts, the submitter waits. */
void bench_ping_post(void);
void bench_ping_wait(void);

/* A gate for `parties` threads (a pthread barrier), re-armable. */
void bench_gate_init(int parties);
void bench_gate_wait(void);
void bench_gate_destroy(void);

/* The warm-up batch of the warm I/O figure: bench_warm_begin(parties),
 * then submit `tasks` x bench_warm_task, then bench_warm_end() waits at the
 * gate too (unless the caller runs tasks itself, as TBB's does: then
 * parties == tasks and the caller only waits for them to finish). Every
 * task blocks at the gate until all have arrived, so each ran on a thread
 * of its own. */
void bench_warm_begin(int parties, int tasks);
void bench_warm_task(void);
void bench_warm_end(int caller_at_gate);

/* Sleepers report that they started; main polls the count. */
void bench_started_reset(void);
void bench_started_add(void);
long bench_started(void);

/* Aborts with a message when a call that cannot fail in a benchmark did. */
void bench_check(int rc, const char *what);

#ifdef __cplusplus
}
#endif
#endif
