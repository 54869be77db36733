/* weft/sem.h: counting semaphores (Python's threading.Semaphore and
 * BoundedSemaphore). Waiters are served in arrival order. */
#ifndef WEFT_SEM_H
#define WEFT_SEM_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_sem weft_sem;

/* Creates a semaphore with `value` permits. Returns 0 or ENOMEM. */
WEFT_API int weft_sem_new(weft_sem **out, unsigned value);
/* Creates a bounded semaphore: releasing above the initial value is
 * EOVERFLOW. Returns 0 or ENOMEM. */
WEFT_API int weft_sem_new_bounded(weft_sem **out, unsigned value);

/* Frees it. NULL-safe. No thread may wait on it. */
WEFT_API void weft_sem_free(weft_sem *s);

/* Takes one permit, waiting up to `timeout`. Waiters get permits strictly in
 * arrival order; a waiter that times out or is cancelled takes none with it.
 * Returns 0, EBUSY (timeout 0 and none free), ETIMEDOUT, ECANCELED, EINVAL
 * (checked first, even when a permit is free). Blocks. */
WEFT_API int weft_sem_acquire(weft_sem *s, double timeout);

/* Returns n permits (Python's release(n)), waking up to n waiters. Returns 0;
 * EOVERFLOW when a bounded semaphore would exceed its initial value or the
 * count would overflow (nothing is released then); EINVAL when n is 0.
 * Never blocks. */
WEFT_API int weft_sem_release(weft_sem *s, unsigned n);

/* The number of free permits (a snapshot). */
WEFT_API unsigned weft_sem_value(const weft_sem *s);

#ifdef __cplusplus
}
#endif
#endif
