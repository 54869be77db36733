#!/usr/bin/env python3
"""bench/peer_python.py: the library figures for Python 3's standard library
(concurrent.futures.ThreadPoolExecutor, queue.Queue, threading), with the
same command line and output as the C drivers (bench/main.c):

    python3 bench/peer_python.py FIGURE ARGS...   ->  one line of value(s)

DESIGN: Python as the seeds write it: executor.submit per task, f.result()
to wait, queue.Queue(maxsize) with put/get, `lock.acquire(); lock.release()`,
threading.Thread(...).start()/join(). The task bodies are empty functions
(a C task body here would be a counter increment; in Python the call itself
dominates). Figures are computed exactly as bench/main.c computes them."""

import collections
import os
import sys
import threading
import time
import queue as queue_mod
from concurrent.futures import ThreadPoolExecutor

now = time.perf_counter


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def tiny():
    pass


def run_batch(ex, n):
    fs = [ex.submit(tiny) for _ in range(n)]
    for f in fs:
        f.result()


def tasks(workers, n):
    with ThreadPoolExecutor(max_workers=workers) as ex:
        run_batch(ex, n // 10)
        t0 = now()
        run_batch(ex, n)
        t = now() - t0
    print(f"{n / t:.0f}")


def rtt(workers, n):
    samples = []
    with ThreadPoolExecutor(max_workers=workers) as ex:
        for i in range(-100, n):
            t0 = now()
            ex.submit(tiny).result()
            if i >= 0:
                samples.append(now() - t0)
    samples.sort()
    print(f"{samples[n // 2] * 1e6:.2f} {samples[(n * 99) // 100] * 1e6:.2f}")


def io(workers, n, s, warm=False):
    ideal = ((n + workers - 1) // workers) * s
    t0 = now()
    ex = ThreadPoolExecutor(max_workers=workers)
    if warm:
        # Every worker exists: `workers` tasks that all meet at a barrier,
        # each on a thread of its own (bench/main.c's warm-up batch).
        gate = threading.Barrier(workers + 1)
        ws = [ex.submit(gate.wait) for _ in range(workers)]
        gate.wait()
        for f in ws:
            f.result()
        t0 = now()
    fs = [ex.submit(time.sleep, s) for _ in range(n)]
    for f in fs:
        f.result()
    t = now() - t0
    ex.shutdown(wait=True)
    print(f"{ideal / t:.4f}")


def iowarm(workers, n, s):
    io(workers, n, s, warm=True)


def queue(pairs, items, cap):
    q = queue_mod.Queue(maxsize=cap)
    per = items // pairs
    gate = threading.Barrier(2 * pairs + 1)

    def producer():
        gate.wait()
        put = q.put
        for k in range(per):
            put(k + 1)

    def consumer():
        gate.wait()
        get = q.get
        for _ in range(per):
            get()

    ts = [threading.Thread(target=producer) for _ in range(pairs)]
    ts += [threading.Thread(target=consumer) for _ in range(pairs)]
    for t in ts:
        t.start()
    gate.wait()
    t0 = now()
    for t in ts:
        t.join()
    print(f"{items / (now() - t0):.0f}")


def deque(pairs, items):
    # collections.deque is safe between threads for append and popleft (each
    # is atomic); an empty popleft raises IndexError, and the consumer
    # yields, as the C drivers do.
    d = collections.deque()
    per = items // pairs
    gate = threading.Barrier(2 * pairs + 1)

    def producer():
        gate.wait()
        append = d.append
        for k in range(per):
            append(k + 1)

    def consumer():
        gate.wait()
        popleft = d.popleft
        got = 0
        while got < per:
            try:
                popleft()
                got += 1
            except IndexError:
                time.sleep(0)

    ts = [threading.Thread(target=producer) for _ in range(pairs)]
    ts += [threading.Thread(target=consumer) for _ in range(pairs)]
    for t in ts:
        t.start()
    gate.wait()
    t0 = now()
    for t in ts:
        t.join()
    print(f"{items / (now() - t0):.0f}")


def lock(n):
    lk = threading.Lock()
    acquire, release = lk.acquire, lk.release
    t0 = now()
    for _ in range(n):
        acquire()
        release()
    print(f"{(now() - t0) / n * 1e9:.2f}")


def lockc(threads, n):
    lk = threading.Lock()
    per = n // threads
    gate = threading.Barrier(threads + 1)
    counter = [0]

    def locker():
        gate.wait()
        acquire, release = lk.acquire, lk.release
        for _ in range(per):
            acquire()
            counter[0] += 1
            release()

    ts = [threading.Thread(target=locker) for _ in range(threads)]
    for t in ts:
        t.start()
    gate.wait()
    t0 = now()
    for t in ts:
        t.join()
    print(f"{(now() - t0) / n * 1e9:.2f}")


def thread(n):
    t0 = now()
    for _ in range(n):
        t = threading.Thread(target=tiny)
        t.start()
        t.join()
    print(f"{(now() - t0) / n * 1e6:.2f}")


def idle(workers):
    gate = threading.Barrier(workers + 1)
    before = rss_kib()
    ex = ThreadPoolExecutor(max_workers=workers)
    for _ in range(workers):
        ex.submit(gate.wait)
    gate.wait()
    time.sleep(0.1)
    after = rss_kib()
    ex.shutdown(wait=True)
    print(f"{(after - before) / workers:.1f}")


def sleepers(n, stack):
    threading.stack_size(stack)
    release = threading.Event()
    started = threading.Semaphore(0)

    def sleeping():
        started.release()
        release.wait()

    before = rss_kib()
    ts = [threading.Thread(target=sleeping, daemon=True) for _ in range(n)]
    for t in ts:
        t.start()
    for _ in range(n):
        started.acquire()
    time.sleep(0.1)
    after = rss_kib()
    print(f"{(after - before) / 1024:.1f}", flush=True)
    # The figure is taken. Waking 10,000 threads that all want the GIL and
    # joining them takes as long as starting them (~8 s on a loaded 2-core
    # VM): they are daemons, so end the process instead.
    os._exit(0)


FIGURES = {
    "tasks": (tasks, [int, int]),
    "rtt": (rtt, [int, int]),
    "io": (io, [int, int, float]),
    "iowarm": (iowarm, [int, int, float]),
    "queue": (queue, [int, int, int]),
    "deque": (deque, [int, int]),
    "lock": (lock, [int]),
    "lockc": (lockc, [int, int]),
    "thread": (thread, [int]),
    "idle": (idle, [int]),
    "sleepers": (sleepers, [int, int]),
}


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in FIGURES:
        print("usage: peer_python.py " + " | ".join(FIGURES), file=sys.stderr)
        return 2
    fn, types = FIGURES[sys.argv[1]]
    fn(*[t(a) for t, a in zip(types, sys.argv[2:])])
    return 0


if __name__ == "__main__":
    sys.exit(main())
