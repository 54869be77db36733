/* test.h: the tiny test harness shared by every test/test-*.c.
 *
 * DESIGN: each TEST() registers itself before main (a constructor). The runner
 * (runner.c) forks one child per case, so a crash or a leaked lock in one case
 * cannot poison the next, and arms a watchdog in the child: SIGALRM after
 * test_timeout() seconds kills it, so a deadlock fails the case instead of
 * hanging CI. WEFT_TEST_TIMEOUT_SCALE multiplies every limit (sanitizers are
 * slower); WEFT_TEST_NOFORK=1 runs cases in-process, for gdb.
 *
 * Checks print file:line and the failed expression, then end the case.
 * Nothing here sleeps to synchronise: use events, semaphores or barriers.
 */
#ifndef WEFT_TEST_H
#define WEFT_TEST_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>
#include <sched.h>

#include "weft.h"

typedef void test_fn(void);
void test_register(const char *name, test_fn *fn, unsigned timeout_s);
void test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));
/* Seconds the watchdog allows per case, times WEFT_TEST_TIMEOUT_SCALE. */
double test_scale(void);

#define TEST_DEFAULT_TIMEOUT 10

/* TEST(name) { ... } with the default watchdog; TEST_T(name, secs) to set it. */
#define TEST_T(name, secs)                                                                         \
    static void test_##name(void);                                                                 \
    __attribute__((constructor)) static void test_reg_##name(void)                                 \
    {                                                                                              \
        test_register(#name, test_##name, (secs));                                                 \
    }                                                                                              \
    static void test_##name(void)
#define TEST(name) TEST_T(name, TEST_DEFAULT_TIMEOUT)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                                     \
    } while (0)

#define CHECK_INT(a, op, b)                                                                        \
    do {                                                                                           \
        long long test_a_ = (long long)(a), test_b_ = (long long)(b);                              \
        if (!(test_a_ op test_b_))                                                                 \
            test_fail(__FILE__, __LINE__, "CHECK_INT(%s %s %s): %lld vs %lld", #a, #op, #b,        \
                      test_a_, test_b_);                                                           \
    } while (0)
#define CHECK_EQ(a, b) CHECK_INT(a, ==, b)

/* An int-returning weft call that must give code `want` (0 = success). */
#define CHECK_RC(call, want)                                                                       \
    do {                                                                                           \
        int test_rc_ = (call);                                                                     \
        if (test_rc_ != (want))                                                                    \
            test_fail(__FILE__, __LINE__, "%s returned %d (%s), wanted %d", #call, test_rc_,       \
                      strerror(test_rc_), (int)(want));                                            \
    } while (0)
#define CHECK_OK(call) CHECK_RC(call, 0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *test_a_ = (a), *test_b_ = (b);                                                 \
        if (!test_a_ || !test_b_ || strcmp(test_a_, test_b_) != 0)                                 \
            test_fail(__FILE__, __LINE__, "CHECK_STR(%s, %s): \"%s\" vs \"%s\"", #a, #b,           \
                      test_a_ ? test_a_ : "(null)", test_b_ ? test_b_ : "(null)");                 \
    } while (0)

/* ------------------------------------------------------------ handshakes
 *
 * Shared by the test files (one copy, not one per file). Raw pthread
 * primitives only, so a test of a weft primitive never depends on the
 * primitive under test. */

/* A flag that only grows: flag_set(f, v) stores v, flag_wait(f, v) waits
 * until it is at least v. */
typedef struct flag {
    pthread_mutex_t m;
    pthread_cond_t c;
    int v;
} flag;

static inline void flag_init(flag *f)
{
    pthread_mutex_init(&f->m, NULL);
    pthread_cond_init(&f->c, NULL);
    f->v = 0;
}

static inline void flag_set(flag *f, int v)
{
    pthread_mutex_lock(&f->m);
    f->v = v;
    pthread_cond_broadcast(&f->c);
    pthread_mutex_unlock(&f->m);
}

static inline void flag_wait(flag *f, int v)
{
    pthread_mutex_lock(&f->m);
    while (f->v < v)
        pthread_cond_wait(&f->c, &f->m);
    pthread_mutex_unlock(&f->m);
}

static inline void flag_destroy(flag *f)
{
    pthread_cond_destroy(&f->c);
    pthread_mutex_destroy(&f->m);
}

/* A one-shot gate that counts arrivals: threads arrive (gate_arrive) or
 * arrive and wait for it to open (gate_pass); the test waits for n
 * arrivals (gate_wait_arrived), then opens it for all. */
typedef struct gate {
    pthread_mutex_t m;
    pthread_cond_t c;
    bool open;
    int arrived;
} gate;
#define GATE_INIT                                                                                  \
    {                                                                                              \
        PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0                              \
    }

static inline void gate_init(gate *g)
{
    pthread_mutex_init(&g->m, NULL);
    pthread_cond_init(&g->c, NULL);
    g->open = false;
    g->arrived = 0;
}

static inline void gate_open(gate *g)
{
    pthread_mutex_lock(&g->m);
    g->open = true;
    pthread_cond_broadcast(&g->c);
    pthread_mutex_unlock(&g->m);
}

static inline void gate_arrive(gate *g)
{
    pthread_mutex_lock(&g->m);
    g->arrived++;
    pthread_cond_broadcast(&g->c);
    pthread_mutex_unlock(&g->m);
}

/* Waits for the gate to open, without arriving. */
static inline void gate_wait(gate *g)
{
    pthread_mutex_lock(&g->m);
    while (!g->open)
        pthread_cond_wait(&g->c, &g->m);
    pthread_mutex_unlock(&g->m);
}

/* Arrives, then waits for the gate to open. */
static inline void gate_pass(gate *g)
{
    gate_arrive(g);
    gate_wait(g);
}

static inline void gate_wait_arrived(gate *g, int n)
{
    pthread_mutex_lock(&g->m);
    while (g->arrived < n)
        pthread_cond_wait(&g->c, &g->m);
    pthread_mutex_unlock(&g->m);
}

/* A counting semaphore. */
typedef struct hs {
    pthread_mutex_t m;
    pthread_cond_t c;
    int n;
} hs;

static inline void hs_init(hs *h)
{
    pthread_mutex_init(&h->m, NULL);
    pthread_cond_init(&h->c, NULL);
    h->n = 0;
}

static inline void hs_post(hs *h)
{
    pthread_mutex_lock(&h->m);
    h->n++;
    pthread_cond_broadcast(&h->c);
    pthread_mutex_unlock(&h->m);
}

static inline void hs_wait(hs *h)
{
    pthread_mutex_lock(&h->m);
    while (h->n == 0)
        pthread_cond_wait(&h->c, &h->m);
    h->n--;
    pthread_mutex_unlock(&h->m);
}

static inline void hs_destroy(hs *h)
{
    pthread_mutex_destroy(&h->m);
    pthread_cond_destroy(&h->c);
}

/* ------------------------------------------------------------ executors */

/* An executor of `workers` threads (the case fails if it cannot be made). */
static inline weft_executor *pool(unsigned workers)
{
    weft_executor_opts o = {.max_workers = workers};
    weft_executor *ex;
    CHECK_OK(weft_executor_new(&ex, &o));
    return ex;
}

/* Tasks: blocker passes the gate given as arg; noop does nothing. */
static inline int blocker(void *arg, void **result)
{
    (void)result;
    gate_pass(arg);
    return 0;
}

static inline int noop(void *arg, void **result)
{
    (void)arg;
    (void)result;
    return 0;
}

/* Spins (yielding) until the pool has n idle workers: the state a worker
 * reaches right after its task completes, not ordered by any handshake. */
static inline void wait_idle(weft_executor *ex, unsigned n)
{
    weft_executor_stats st;
    for (;;) {
        weft_executor_stats_get(ex, &st);
        if (st.threads_idle >= n)
            return;
        sched_yield();
    }
}

#endif
