/* weft/event.h: a flag threads wait for (Python's threading.Event). */
#ifndef WEFT_EVENT_H
#define WEFT_EVENT_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_event weft_event;

/* Creates a clear event. Returns 0 or ENOMEM. */
WEFT_API int weft_event_new(weft_event **out);
/* Frees it. NULL-safe. No thread may wait on it or be inside set() or
 * clear(). A thread whose weft_event_wait() returned 0 may free it (the
 * set() that woke it is done with it); weft_event_is_set() returning true
 * does not say that. */
WEFT_API void weft_event_free(weft_event *e);

/* Sets the flag and wakes every waiter. Never blocks (beyond a mutex). */
WEFT_API void weft_event_set(weft_event *e);
/* Clears the flag. */
WEFT_API void weft_event_clear(weft_event *e);
/* The flag (a snapshot). */
WEFT_API bool weft_event_is_set(const weft_event *e);

/* Waits until the flag is set. Returns 0 when set (at once if it already
 * was; a waiter woken by set() returns 0 even if clear() ran since),
 * ETIMEDOUT, ECANCELED, EINVAL. Blocks. */
WEFT_API int weft_event_wait(weft_event *e, double timeout);

#ifdef __cplusplus
}
#endif
#endif
