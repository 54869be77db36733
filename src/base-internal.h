/* base-internal.h: what every libweft module shares and users never see
 * (weft__ names): failures, memory, thread identity, task error messages.
 * Time and pthread helpers are in clock-internal.h, cancellation in
 * cancel-internal.h; each private header includes only the ones below it
 * (cancel -> clock -> base), never the reverse.
 *
 * DESIGN
 * - Impossible pthread failures abort with file, line and the error text
 *   (WEFT__CHECK); documented misuse returns a code instead.
 * - Allocation goes through weft__malloc & co, which tests can make fail on
 *   the Nth call (fault injection, as curl's torture mode).
 */
#ifndef WEFT_BASE_INTERNAL_H
#define WEFT_BASE_INTERNAL_H

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
