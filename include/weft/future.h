/* weft/future.h: futures (Python's concurrent.futures.Future), waiting on
 * sets of them (wait, as_completed).
 *
 * A future is the result of one task: pending, then running, then finished
 * (with a result or an error: code and message) or cancelled. Futures are
 * reference counted: whoever gets one from weft (submit) owns one reference
 * and drops it with weft_future_unref. An error is never silently lost: a
 * future that failed and is released for the last time without its error
 * having been read (weft_future_result returning WEFT_EFAILED counts as
 * read, as does weft_future_error) goes to the unhandled-error hook. */
#ifndef WEFT_FUTURE_H
#define WEFT_FUTURE_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_future weft_future;

typedef enum weft_future_state {
    WEFT_FUTURE_PENDING = 0,
    WEFT_FUTURE_RUNNING,
    WEFT_FUTURE_CANCELLED,
    WEFT_FUTURE_FINISHED, /* with a result or an error */
} weft_future_state;

/* Creates a pending future not tied to any executor, for code that produces
 * results itself (Python's Future()); complete it with
 * weft_future_set_running, weft_future_set_result or weft_future_set_error.
 * `name` (copied, may be NULL) names it in error reports. Returns 0 or ENOMEM. */
WEFT_API int weft_future_new(weft_future **out, const char *name);

/* Adds a reference; returns f. Never blocks. */
WEFT_API weft_future *weft_future_ref(weft_future *f);
/* Drops a reference; the last one frees the future (reporting an unread
 * error, see above). NULL-safe. Never blocks. */
WEFT_API void weft_future_unref(weft_future *f);

/* State snapshots. Never block. */
WEFT_API weft_future_state weft_future_state_of(const weft_future *f);
WEFT_API bool weft_future_cancelled(const weft_future *f);
WEFT_API bool weft_future_running(const weft_future *f);
/* True when finished or cancelled. */
WEFT_API bool weft_future_done(const weft_future *f);

/* Waits for the outcome (Python's result(timeout)). Returns:
 *   0            the task succeeded; *result (result may be NULL) is its value
 *   WEFT_EFAILED the task failed; weft_future_error gives its code and message
 *   ECANCELED    the future was cancelled (weft_future_cancelled(f) is true),
 *                or the calling task was cancelled while waiting (it is not)
 *   ETIMEDOUT    the wait timed out; the future is still pending or running
 *   EDEADLK      called from f's own task (f is running on this thread, as
 *                with weft_thread_join on oneself), at once; or called from
 *                a worker of the executor that owns f while that pool can
 *                make no progress: no worker is idle and none can start,
 *                and every other worker is itself blocked, without a
 *                timeout, waiting on unfinished futures of the same pool
 *                (so nobody is left to run f or finish what f needs). A
 *                pool where some worker is still busy on other work, or in
 *                a timed wait, is not stuck: the call waits for it. The
 *                last worker to block is the one told, and its worker then
 *                goes on to run the queued tasks (also reported when the
 *                deadlock detector of weft/deadlock.h is on); or, with the
 *                detector on, f's task waits for a lock held by a thread
 *                that waits for this caller (a wait-for cycle, reported)
 *   EINVAL       bad timeout
 * Blocks. */
WEFT_API int weft_future_result(weft_future *f, double timeout, void **result);

/* Waits like weft_future_result, then gives the task's error (Python's
 * exception(timeout)): *code (may be NULL) receives the code the task failed
 * with, 0 when it succeeded; *message (may be NULL) its text (what the task
 * passed to weft_fail, or weft_strerror(code)), NULL on success, valid as
 * long as the caller holds a reference. Marks the error read. Returns 0 when
 * f finished (succeeded or failed: see *code), or, with *code and *message
 * untouched: ECANCELED (f was cancelled, or the calling task was cancelled
 * while waiting), ETIMEDOUT, EDEADLK, EINVAL (bad timeout, NULL f), as
 * weft_future_result does. Blocks. */
WEFT_API int weft_future_exception(weft_future *f, double timeout, int *code, const char **message);

/* The task's error without waiting (weft_future_exception with timeout 0,
 * returning the code): its code, or 0 when it succeeded or is not finished;
 * through `message` (may be NULL) its text, valid as long as the caller
 * holds a reference, NULL when the code is 0. Marks it read. Returns EINVAL
 * for a NULL f. Never blocks. */
WEFT_API int weft_future_error(weft_future *f, const char **message);

/* Cancels f if it is still pending (Python's cancel()). Returns 0 when f is
 * cancelled (now or before), EALREADY when it is running or finished. Runs
 * the done callbacks on success. Never blocks (beyond callbacks). */
WEFT_API int weft_future_cancel(weft_future *f);

/* Cancels f if pending, else asks its running task to stop (cooperative:
 * the task sees weft_cancelled() and weft's blocking calls inside it return
 * ECANCELED); Java's cancel(mayInterruptIfRunning). Returns 0 when cancelled,
 * EINPROGRESS when the running task was asked to stop, EALREADY when done. */
WEFT_API int weft_future_interrupt(weft_future *f);

/* Called once when f is done (finished or cancelled), with no weft lock held,
 * on the thread that completed it, or at once on the caller's thread if f is
 * already done. A nonzero return is reported to the unhandled-error hook. */
typedef int weft_future_callback_fn(weft_future *f, void *ud);

/* Adds a done callback (Python's add_done_callback): fn(f, ud) runs exactly
 * once, if and when f completes (finished, cancelled, or failed unrun by a
 * broken pool), in the order added; at once, before this returns, when f is
 * already done. An executor holds its task's future until the task ends, so
 * its callbacks run even if the caller dropped every reference; a
 * standalone future released before completion never runs them. Returns 0
 * (added, or already run: the callback's own failure goes to the hook, not
 * here), ENOMEM (not added, never runs), EINVAL (NULL f or fn). Blocks only
 * as long as a callback run at once does. */
WEFT_API int weft_future_add_done_callback(weft_future *f, weft_future_callback_fn *fn, void *ud);

/* For producers of standalone futures (weft_future_new), as Python's
 * set_running_or_notify_cancel / set_result / set_exception. set_running
 * returns 0, ECANCELED when f was cancelled (do not run the work), or
 * EALREADY when it is already running or finished. set_result and
 * set_error work from pending or running and return 0, or EALREADY when f
 * is already done.
 * set_error copies `message` (NULL: weft_strerror(code)); code must be
 * nonzero (EINVAL); when memory is short the code is kept and the text
 * becomes weft_strerror(code). Completing f wakes its waiters and runs its
 * callbacks. */
WEFT_API int weft_future_set_running(weft_future *f);
WEFT_API int weft_future_set_result(weft_future *f, void *result);
WEFT_API int weft_future_set_error(weft_future *f, int code, const char *message);

/* The name given at creation or by the executor (NULL if none). */
WEFT_API const char *weft_future_name(const weft_future *f);

/* -------------------------------------------------------------- sets */

typedef enum weft_wait_mode {
    WEFT_ALL_COMPLETED = 0, /* Python's default */
    WEFT_FIRST_COMPLETED,
    WEFT_FIRST_EXCEPTION, /* a failed future; ALL_COMPLETED if none fails */
} weft_wait_mode;

/* Waits on n futures (Python's concurrent.futures.wait). On return done[i]
 * tells whether fs[i] is done (cancelled counts as done). Returns 0 when the
 * mode's condition is met, ETIMEDOUT when the time passed first (done[] is
 * still filled in), ECANCELED, EDEADLK (called from a task, the condition
 * needs the task's own future, or only futures of its own executor while
 * that whole pool is stuck: see weft_future_result), EINVAL (bad timeout or mode, NULL array or a
 * NULL future with n > 0), ENOMEM. done may be NULL. A future listed twice counts twice. Blocks. */
WEFT_API int weft_futures_wait(weft_future *const *fs, size_t n, double timeout,
                               weft_wait_mode mode, bool *done);

typedef struct weft_as_completed weft_as_completed;

/* Starts iterating n futures in completion order (Python's as_completed).
 * `timeout` bounds the whole iteration, from this call. The iterator takes a
 * reference to each future; a future listed twice is yielded once. Returns 0,
 * EINVAL, ENOMEM. Does not block. */
WEFT_API int weft_as_completed_new(weft_as_completed **out, weft_future *const *fs, size_t n,
                                   double timeout);

/* Yields the next done future (cancelled counts) into *f: a borrowed
 * pointer, valid while the caller's own reference lives. Returns 0; ENOENT
 * when every future has been yielded; ETIMEDOUT when the iteration's timeout
 * passed; ECANCELED when the calling task was cancelled; EDEADLK when every
 * future not yet done is the calling task's own, or belongs to its own
 * executor while that whole pool is stuck (see weft_future_result). Futures done before the
 * iterator was created come first, in input order. Blocks. */
WEFT_API int weft_as_completed_next(weft_as_completed *it, weft_future **f);

/* Ends the iteration and drops its references. NULL-safe. Never blocks. */
WEFT_API void weft_as_completed_free(weft_as_completed *it);

#ifdef __cplusplus
}
#endif
#endif
