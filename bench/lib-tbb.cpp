/* bench/lib-tbb.cpp: the library figures for oneTBB: tbb::task_group in a
 * tbb::task_arena of `workers` slots (tasks, round trip, I/O overlap),
 * tbb::concurrent_bounded_queue, tbb::mutex. TBB has no thread API of its
 * own: thread start, idle thread and sleeper figures are n/a, and the queue
 * and lock figures run on std::thread.
 *
 * DESIGN: TBB is a work-stealing scheduler for CPU-bound work: the thread
 * that waits on a task_group runs tasks itself, and an arena of W slots has
 * W - 1 worker threads plus the caller. That is how TBB is used, so the
 * tiny-task and I/O figures let the caller work. The round trip instead
 * enqueues into the arena and waits outside it (on the shared ping
 * semaphore), so that another thread runs the task, as in every other
 * implementation. global_control raises TBB's thread limit (the
 * core count by default) to W. */
#include "bench.h"

#include <oneapi/tbb/concurrent_queue.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/mutex.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

#include <cstdint>
#include <thread>
#include <vector>

namespace
{

double tasks(int workers, long n)
{
    tbb::global_control gc(tbb::global_control::max_allowed_parallelism, (size_t)workers);
    tbb::task_arena arena(workers);
    double t = 0;
    arena.execute([&] {
        tbb::task_group tg;
        for (long round = 0; round < 2; round++) {
            long m = round == 0 ? n / 10 : n;
            double t0 = bench_now();
            bench_done_reset(m);
            for (long i = 0; i < m; i++)
                tg.run([] { bench_tiny(); });
            tg.wait();
            bench_done_wait();
            t = bench_now() - t0;
        }
    });
    return t;
}

int rtt(int workers, int n, double *samples)
{
    tbb::global_control gc(tbb::global_control::max_allowed_parallelism, (size_t)workers);
    /* The arena's W slots as everywhere here (W - 1 worker threads and one
     * kept for the caller), but the task goes in with enqueue, TBB's way to
     * hand a task to its threads and wait elsewhere: the caller never joins.
     * A task_group's run() puts the task in the caller's own deque for a
     * worker to steal; once in a while none came, and the run hung until
     * the bench's timeout (2 minutes). */
    tbb::task_arena arena(workers);
    for (int i = -100; i < n; i++) {
        double t0 = bench_now();
        arena.enqueue([] { bench_ping_post(); });
        bench_ping_wait();
        if (i >= 0)
            samples[i] = bench_now() - t0;
    }
    return 0;
}

/* Warm: the caller is one of the arena's `workers` slots and runs tasks in
 * tg.wait(), so the gate has `workers` parties, the caller among them. */
double io(int workers, int n, double s, int warm)
{
    double t0 = bench_now();
    tbb::global_control gc(tbb::global_control::max_allowed_parallelism, (size_t)workers);
    tbb::task_arena arena(workers);
    arena.execute([&] {
        tbb::task_group tg;
        if (warm) {
            bench_warm_begin(workers, workers);
            for (int i = 0; i < workers; i++)
                tg.run([] { bench_warm_task(); });
            tg.wait();
            bench_warm_end(0);
            t0 = bench_now();
        }
        bench_done_reset(n);
        for (int i = 0; i < n; i++)
            tg.run([s] {
                bench_sleep(s);
                bench_tiny();
            });
        tg.wait();
    });
    bench_done_wait();
    return bench_now() - t0;
}

double queue(int pairs, long items, int cap)
{
    tbb::concurrent_bounded_queue<void *> q;
    std::vector<std::thread> t;
    long per = items / pairs;
    q.set_capacity(cap);
    bench_gate_init(2 * pairs + 1);
    for (int i = 0; i < pairs; i++)
        t.emplace_back([&q, per] {
            bench_gate_wait();
            for (long k = 0; k < per; k++)
                q.push((void *)(intptr_t)(k + 1));
        });
    for (int i = 0; i < pairs; i++)
        t.emplace_back([&q, per] {
            void *item;
            bench_gate_wait();
            for (long k = 0; k < per; k++)
                q.pop(item);
        });
    bench_gate_wait();
    double t0 = bench_now();
    for (auto &th : t)
        th.join();
    t0 = bench_now() - t0;
    bench_gate_destroy();
    return t0;
}

tbb::mutex mu;
long shared_counter;

double lock(long n)
{
    double t0 = bench_now();
    for (long i = 0; i < n; i++) {
        mu.lock();
        mu.unlock();
    }
    return bench_now() - t0;
}

double lockc(int threads, long n)
{
    std::vector<std::thread> t;
    long per = n / threads;
    bench_gate_init(threads + 1);
    for (int i = 0; i < threads; i++)
        t.emplace_back([per] {
            bench_gate_wait();
            for (long k = 0; k < per; k++) {
                mu.lock();
                shared_counter++;
                mu.unlock();
            }
        });
    bench_gate_wait();
    double t0 = bench_now();
    for (auto &th : t)
        th.join();
    t0 = bench_now() - t0;
    bench_gate_destroy();
    return t0;
}

bench_impl make()
{
    bench_impl b = {};
    b.name = "tbb";
    b.tasks = tasks;
    b.rtt = rtt;
    b.io = io;
    b.queue = queue;
    b.lock = lock;
    b.lockc = lockc;
    return b;
}

} // namespace

extern "C" const bench_impl bench_this = make();
