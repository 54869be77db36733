/* weft/timer.h: run a function after a delay unless cancelled first
 * (Python's threading.Timer). A timer runs on its own weft thread. */
#ifndef WEFT_TIMER_H
#define WEFT_TIMER_H

#include "thread.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_timer weft_timer;

/* Starts a timer that calls fn(arg) after `delay` seconds. opts (may be NULL)
 * name the thread and set daemon/stack as for weft_thread_start. Returns 0,
 * EINVAL (fn NULL, delay NaN or negative), ENOMEM, EAGAIN. Does not block. */
WEFT_API int weft_timer_start(weft_timer **out, double delay, weft_fn *fn, void *arg,
                              const weft_thread_opts *opts);

/* Stops the timer if fn has not started (Python's cancel()). Returns 0 when
 * fn will never run, EALREADY when it has already started or finished.
 * Never blocks (it does not wait for a running fn). */
WEFT_API int weft_timer_cancel(weft_timer *t);

/* Waits for the timer's thread to end: as weft_thread_join. */
WEFT_API int weft_timer_join(weft_timer *t, double timeout);

/* The underlying thread (result, error, name), owned by the timer. */
WEFT_API weft_thread *weft_timer_thread(weft_timer *t);

/* Frees the timer, cancelling it if fn has not started; a running fn goes on
 * detached (as weft_thread_free). NULL-safe. Never blocks. */
WEFT_API void weft_timer_free(weft_timer *t);

#ifdef __cplusplus
}
#endif
#endif
