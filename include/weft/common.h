/* weft/common.h: what every weft header shares: the export macro, the task
 * function type and WEFT_FOREVER. Include <weft.h> rather than this file. */
#ifndef WEFT_COMMON_H
#define WEFT_COMMON_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define WEFT_API          __attribute__((visibility("default")))
#define WEFT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define WEFT_API
#define WEFT_PRINTF(f, a)
#endif

/* Timeouts are relative seconds as a double. WEFT_FOREVER (any negative value
 * compares equal to it in meaning, but only this one is valid) is Python's
 * None: wait as long as it takes. 0 means "do not block". NaN, and negatives
 * other than WEFT_FOREVER, are EINVAL. Huge values saturate (about 300 years). */
#define WEFT_FOREVER (-1.0)

/* Misuse: a NULL handle (the weft_X * a call works on, or the weft_X ** a
 * constructor fills) is never dereferenced, in every module: thread, lock,
 * rlock, sem, event, cond, barrier, queue, simplequeue, deque, local, timer,
 * group, executor, map, future and as_completed.
 *   - a call that returns an int error code returns EINVAL (even those whose
 *     int is otherwise a task's own code: weft_thread_error, weft_group_error);
 *   - a call that returns a value returns the "nothing" of its type and
 *     changes nothing: 0, false, NULL, "" for a thread's name,
 *     WEFT_FUTURE_PENDING for a future's state;
 *   - a void call (free, unref, set, clear, reset, abort, shutdown, cancel)
 *     does nothing.
 * A scope guard (WEFT_WITH_LOCK) given NULL aborts, as on any failure to
 * acquire. Handles that are not NULL but freed, or never made, are
 * undefined behaviour, as in C generally. */

/* The function a thread, a task or a timer runs: Python's `target`.
 *
 * Return 0 for success, optionally storing a result through `result` (it is
 * never NULL; *result starts NULL). Return a positive error code to fail:
 * that is Python's "raise". To attach a message, as an exception carries one,
 * return weft_fail(code, "fmt", ...). The code and the message reach
 * weft_thread_error(), weft_future_error() and the unhandled-error hook. */
typedef int weft_fn(void *arg, void **result);

#ifdef __cplusplus
}
#endif
#endif
