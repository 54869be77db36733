/* weft/local.h: thread-local storage (Python's threading.local).
 *
 * A weft_local gives each thread its own value, made on first use by an init
 * function and destroyed by a destructor when that thread ends or when the
 * weft_local is freed, whichever comes first. */
#ifndef WEFT_LOCAL_H
#define WEFT_LOCAL_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_local weft_local;

/* Makes the calling thread's value: store it in *value, return 0 or an error
 * code (then no value is stored and the error is returned by weft_local_get). */
typedef int weft_local_init_fn(void *ud, void **value);
/* Destroys one thread's value. */
typedef void weft_local_free_fn(void *ud, void *value);

/* Creates a thread-local slot. init and dtor may be NULL (values then start
 * NULL, and nothing is destroyed); dtor is never called for a NULL value.
 * Returns 0, EINVAL (out NULL), EAGAIN (the system is out of keys) or ENOMEM.
 * Does not block. */
WEFT_API int weft_local_new(weft_local **out, weft_local_init_fn *init, weft_local_free_fn *dtor,
                            void *ud);

/* Stores the calling thread's value in *value, calling init the first time
 * this thread asks. Returns 0, init's error, or ENOMEM. Blocks only as long
 * as init does. */
WEFT_API int weft_local_get(weft_local *l, void **value);

/* Replaces the calling thread's value (the old one, if any, is destroyed
 * with dtor). Returns 0 or ENOMEM. */
WEFT_API int weft_local_set(weft_local *l, void *value);

/* Frees the slot and destroys every thread's value still held. NULL-safe.
 * No thread may use l during or after the call. */
WEFT_API void weft_local_free(weft_local *l);

#ifdef __cplusplus
}
#endif
#endif
