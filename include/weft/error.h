/* weft/error.h: error codes, failure messages and the unhandled-error hook.
 *
 * Every fallible weft call returns an int: 0, or a positive errno value
 * (ETIMEDOUT: your wait timed out; EAGAIN: a non-blocking queue operation
 * found the queue full or empty; EBUSY: a try-acquire failed; ECANCELED:
 * cancelled; EPERM: you released what you do not own; EOVERFLOW: a bounded
 * semaphore was over-released; EDEADLK: the call would wait forever on
 * itself; EINVAL; ENOMEM; ESHUTDOWN: the object was shut down), or one of the
 * WEFT_E* codes below. weft never sets errno. */
#ifndef WEFT_ERROR_H
#define WEFT_ERROR_H

#include "common.h"

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The task behind a future failed; weft_future_error() gives its own code and
 * message. Distinct from every errno value, so "my wait timed out"
 * (ETIMEDOUT) never looks like "the task failed with ETIMEDOUT". */
#define WEFT_EFAILED 10001
/* A barrier was broken (reset, aborted, or another party timed out), or an
 * executor is broken because a worker initializer failed (Python's
 * BrokenBarrierError and BrokenThreadPool). */
#define WEFT_EBROKEN 10002

/* Returns a static, human-readable text for `code` (an errno value or a
 * WEFT_E* code). Never NULL, never blocks, safe from any thread. */
WEFT_API const char *weft_strerror(int code);

/* Sets the message of the error the calling thread or task is about to
 * return, and returns `code`, so a task fails with
 *     return weft_fail(EIO, "GET %s: %s", url, why);
 * The message (truncated to 1023 bytes) is kept per thread until the task
 * returns; it is attached only if the task returns this same code. Never
 * blocks, never allocates. */
WEFT_API int weft_fail(int code, const char *fmt, ...) WEFT_PRINTF(2, 3);
/* weft_fail() with a va_list. */
WEFT_API int weft_vfail(int code, const char *fmt, va_list ap) WEFT_PRINTF(2, 0);

/* Receives every error nobody else will see: a failed thread freed without
 * its error read, a detached thread that failed, a failed future released
 * with its error unread, a done-callback that failed. `who` names the thread
 * or task; `message` is never NULL. Called on whichever thread noticed, with
 * no weft lock held; it must not block for long. */
typedef void weft_error_hook_fn(const char *who, int code, const char *message, void *ud);

/* Installs `fn` (NULL restores the default, which writes one line
 * "weft: unhandled error in <who>: <message> (<code text>)" to stderr).
 * Returns nothing; safe from any thread; takes effect for errors reported
 * after it returns. A report already in progress on another thread may still
 * call the previous hook with the previous `ud` after this returns: keep that
 * `ud` alive until no such report can be running (e.g. after joining the
 * threads that could report). */
WEFT_API void weft_set_error_hook(weft_error_hook_fn *fn, void *ud);

/* Sends one error to the hook, as weft itself does. For code that runs its
 * own threads. Does not block (beyond the hook). */
WEFT_API void weft_report_unhandled(const char *who, int code, const char *message);

#ifdef __cplusplus
}
#endif
#endif
