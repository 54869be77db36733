/* weft/clock.h: monotonic time and a cancellable sleep. */
#ifndef WEFT_CLOCK_H
#define WEFT_CLOCK_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Seconds on CLOCK_MONOTONIC (Python's time.monotonic() / perf_counter()).
 * Only differences mean anything. Never blocks. */
WEFT_API double weft_monotonic(void);

/* Sleeps `seconds` (Python's time.sleep()). Blocks. Returns 0 after the full
 * time, ECANCELED at once if the calling task is cancelled (see
 * weft_cancelled()), EINVAL for NaN or a negative time; WEFT_FOREVER is
 * EINVAL too: sleeping forever is a wait on something. */
WEFT_API int weft_sleep(double seconds);

/* True when the calling thread runs a task that has been asked to stop
 * (weft_future_cancel() on a running task with cooperative cancellation, a
 * task group cancelling its siblings). weft's own blocking calls return
 * ECANCELED in that case; long-running code should poll this and return
 * ECANCELED itself. False outside any cancellable task. Never blocks. */
WEFT_API bool weft_cancelled(void);

#ifdef __cplusplus
}
#endif
#endif
