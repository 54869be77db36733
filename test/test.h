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
#include <stdatomic.h>

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

/* twice doubles its argument; fail_io fails with EIO; counting adds one to
 * the atomic_int given as arg. */
static inline int twice(void *arg, void **result)
{
    *result = (void *)(2 * (intptr_t)arg);
    return 0;
}

static inline int fail_io(void *arg, void **result)
{
    (void)result;
    return weft_fail(EIO, "task %d failed", (int)(intptr_t)arg);
}

static inline int counting(void *arg, void **result)
{
    (void)result;
    atomic_fetch_add((atomic_int *)arg, 1);
    return 0;
}

/* A task that spins a little, then adds one to the atomic_int given as
 * arg (if any). */
static inline int busy_task(void *arg, void **result)
{
    (void)result;
    for (volatile int i = 0; i < 20000; i++)
        ;
    if (arg)
        atomic_fetch_add((atomic_int *)arg, 1);
    return 0;
}

/* An unhandled-error hook that reports nothing. */
static inline void quiet_hook(const char *who, int code, const char *message, void *ud)
{
    (void)who;
    (void)code;
    (void)message;
    (void)ud;
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

/* ------------------------------------------------------------ threads */

/* A thread or task body: waits for the gate given as arg, returns it. */
static inline int wait_gate(void *arg, void **result)
{
    gate_wait(arg);
    *result = arg;
    return 0;
}

/* Whether a thread of this process has an OS name (comm) starting with
 * prefix (helpers.c). */
bool some_thread_named(const char *prefix);

/* A thread body that writes its stack's size to the size_t at arg and uses
 * some of it. */
static inline int stack_probe(void *arg, void **result)
{
    (void)result;
    size_t *size = arg;
    pthread_attr_t a;
    CHECK_OK(pthread_getattr_np(pthread_self(), &a));
    CHECK_OK(pthread_attr_getstacksize(&a, size));
    pthread_attr_destroy(&a);
    volatile char buf[2048];
    memset((char *)buf, 1, sizeof buf);
    return buf[100] == 1 ? 0 : EIO;
}

/* ------------------------------------------------------------ queues */

/* A queue of `kind`, bounded by maxsize (0: unbounded). */
static inline weft_queue *new_queue(weft_queue_kind kind, size_t maxsize)
{
    weft_queue *q = NULL;
    weft_queue_opts o = {.kind = kind, .maxsize = maxsize};
    CHECK_OK(weft_queue_new(&q, &o));
    CHECK(q != NULL);
    return q;
}

/* ------------------------------------------------------------ futures */

static inline weft_future *new_future(const char *name)
{
    weft_future *f = NULL;
    CHECK_OK(weft_future_new(&f, name));
    CHECK(f != NULL);
    return f;
}

/* n new unnamed futures into fs; and their release (each error read, so
 * the unhandled-error hook stays quiet). */
static inline void new_futures(weft_future **fs, int n)
{
    for (int i = 0; i < n; i++)
        fs[i] = new_future(NULL);
}

static inline void drop_futures(weft_future **fs, int n)
{
    for (int i = 0; i < n; i++) {
        weft_future_error(fs[i], NULL);
        weft_future_unref(fs[i]);
    }
}

/* An unhandled-error hook (weft_set_error_hook(log_hook, NULL)) that
 * records its calls in hook_log (helpers.c). */
extern struct hook_log {
    pthread_mutex_t m;
    int calls;
    char who[128];
    int code;
    char message[128];
} hook_log;
void log_hook(const char *who, int code, const char *message, void *ud);

/* ------------------------------------------------------------ deadlock reports */

/* A deadlock hook that appends every report to one buffer (helpers.c);
 * report_mode() turns the detector on in report mode with it. */
void capture_report(const char *report, void *arg);
/* Reports captured so far. */
int reports(void);
/* Whether the captured reports contain s. */
bool captured_has(const char *s);
void report_mode(void);

#endif
