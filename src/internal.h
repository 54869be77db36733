/* internal.h: what libweft's modules share and users never see (weft__ names).
 *
 * DESIGN
 * - Time: a relative double timeout becomes an absolute CLOCK_MONOTONIC
 *   deadline once, at the API edge (weft__deadline_init). Every wait loops on
 *   that deadline, so spurious wakeups never stretch a timeout. Condvars are
 *   created by weft__cond_init, on the monotonic clock.
 * - Impossible pthread failures abort with file, line and the error text
 *   (WEFT__CHECK); documented misuse returns a code instead.
 * - Cancellation: a running task may own a weft__cancel token, installed as
 *   the thread's current token while the task runs. Every blocking wait in
 *   weft brackets itself with weft__wait_enter/_leave so a cancel request can
 *   wake it; see the protocol below.
 * - Allocation goes through weft__malloc & co, which tests can make fail on
 *   the Nth call (fault injection, as curl's torture mode).
 */
#ifndef WEFT_INTERNAL_H
#define WEFT_INTERNAL_H

#include "weft.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#define WEFT__UNUSED(x)   ((void)(x))
#define WEFT__LIKELY(x)   __builtin_expect(!!(x), 1)
#define WEFT__UNLIKELY(x) __builtin_expect(!!(x), 0)

/* ------------------------------------------------------------ failures */

/* Aborts the process: an internal call failed in a way that cannot happen
 * unless memory is corrupt or weft itself is wrong. */
_Noreturn void weft__panic(const char *file, int line, const char *what, int code);

#define WEFT__CHECK(expr)                                                                          \
    do {                                                                                           \
        int weft__rc_ = (expr);                                                                    \
        if (WEFT__UNLIKELY(weft__rc_ != 0))                                                        \
            weft__panic(__FILE__, __LINE__, #expr, weft__rc_);                                     \
    } while (0)

/* ------------------------------------------------------------ memory */

/* malloc/calloc/realloc/strdup/free for all of libweft. Return NULL when the
 * allocator fails or when fault injection says so. */
void *weft__malloc(size_t n);
void *weft__calloc(size_t count, size_t size);
void *weft__realloc(void *p, size_t n);
char *weft__strdup(const char *s);
void weft__free(void *p);

/* For a cache that hands out recycled memory instead of allocating: counts
 * as one allocation for fault injection; false when it must fail. */
bool weft__alloc_charge(void);

/* Fault injection for tests: after `n` more successful allocations, every
 * allocation fails until weft__alloc_fail_reset(). n < 0 turns it off.
 * Process-wide; tests run it in a forked child. */
void weft__alloc_fail_after(long n);
void weft__alloc_fail_reset(void);
/* Allocations made since the last weft__alloc_fail_* call (for tests that
 * walk N from 0 until a constructor succeeds). */
long weft__alloc_count(void);

/* Fault injection for tests: of the executor's thread starts counted from
 * this call (0, 1, 2, ...), those in [from, from + n) fail with EAGAIN as if
 * pthread_create had. n == 0 turns it off. Process-wide; tests run it in a
 * forked child. */
void weft__start_fail(long from, long n);

/* ------------------------------------------------------------ time */

typedef struct weft__deadline {
    struct timespec at; /* absolute, CLOCK_MONOTONIC; meaningless when forever */
    bool forever;
} weft__deadline;

/* Converts a relative timeout to a deadline. Returns 0 or EINVAL (NaN, or
 * negative other than WEFT_FOREVER). Huge timeouts saturate. */
int weft__deadline_init(weft__deadline *d, double timeout);
/* True when the deadline is not forever and has passed. */
bool weft__deadline_passed(const weft__deadline *d);
/* Seconds left (0 when passed, WEFT_FOREVER when forever): for handing a
 * deadline to a nested weft call that takes a relative timeout. */
double weft__deadline_remaining(const weft__deadline *d);
void weft__now(struct timespec *ts);

/* ------------------------------------------------------------ pthreads */

void weft__mutex_init(pthread_mutex_t *m);
/* A condvar on CLOCK_MONOTONIC. */
void weft__cond_init(pthread_cond_t *c);
#define weft__lock(m)   WEFT__CHECK(pthread_mutex_lock(m))
#define weft__unlock(m) WEFT__CHECK(pthread_mutex_unlock(m))
/* Waits on c (m held) until signalled or the deadline passes. Returns 0 or
 * ETIMEDOUT; the caller re-checks its predicate either way. */
int weft__cond_wait(pthread_cond_t *c, pthread_mutex_t *m, const weft__deadline *d);

/* ------------------------------------------------------------ cancellation
 *
 * Protocol. A blocking wait on (m, c):
 *     weft__cancel *tok = weft__wait_enter(&m, &c);   // before locking m
 *     weft__lock(&m);
 *     while (!ready) {
 *         if (weft__wait_cancelled(tok)) { rc = ECANCELED; break; }
 *         if (weft__cond_wait(&c, &m, &dl) == ETIMEDOUT && !ready) { rc = ETIMEDOUT; break; }
 *     }
 *     weft__unlock(&m);
 *     weft__wait_leave(tok);
 * weft__cancel_request() sets the flag, then (holding tok->mu) locks the
 * registered m and broadcasts c. Because the waiter reads the flag under m
 * and the canceller takes m after setting it, the wakeup cannot be lost.
 * Lock order: tok->mu before any primitive's m; a waiter never holds both
 * (it registers before taking m and unregisters after dropping it).
 */
typedef struct weft__cancel {
    atomic_bool requested;
    pthread_mutex_t mu; /* guards m and c */
    pthread_mutex_t *m;
    pthread_cond_t *c;
} weft__cancel;

void weft__cancel_init(weft__cancel *tok);
void weft__cancel_destroy(weft__cancel *tok);
/* Asks the task owning tok to stop and wakes its current weft wait. Never
 * blocks for longer than it takes to lock two mutexes. */
void weft__cancel_request(weft__cancel *tok);
/* Installs tok as the calling thread's token (NULL for none); returns the old. */
weft__cancel *weft__cancel_swap(weft__cancel *tok);
weft__cancel *weft__cancel_current(void);

weft__cancel *weft__wait_enter(pthread_mutex_t *m, pthread_cond_t *c);
static inline bool weft__wait_cancelled(weft__cancel *tok)
{
    return tok && atomic_load_explicit(&tok->requested, memory_order_acquire);
}
void weft__wait_leave(weft__cancel *tok);

/* ------------------------------------------------------------ identity */

/* A per-thread id for lock ownership: nonzero, unique for the life of the
 * process (never reused, unlike pthread_t or TLS addresses). One TLS load and
 * a predictable branch. */
extern _Thread_local uint64_t weft__self_id_;
uint64_t weft__self_id_slow(void);
static inline uint64_t weft__self_id(void)
{
    uint64_t id = weft__self_id_;
    return WEFT__LIKELY(id != 0) ? id : weft__self_id_slow();
}

/* ------------------------------------------------------------ errors */

/* Clears the calling thread's pending failure message (before a task runs). */
void weft__error_clear(void);
/* After a task returned rc != 0: a malloc'd message for it (what the task
 * passed to weft_fail() with this rc, else weft_strerror(rc)), or NULL when
 * memory is short; the caller then falls back to weft_strerror(rc). */
char *weft__error_take(int rc);

#endif
