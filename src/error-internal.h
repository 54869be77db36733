/* error-internal.h: saving and restoring the calling thread's pending
 * failure message (weft_fail) around user code that weft runs in the middle
 * of someone else's task.
 *
 * DESIGN: a done callback runs on whichever thread completes the future,
 * often a producer that has already called weft_fail for its own failure
 * and has not returned yet. The callback needs a clean slate (its own
 * weft_fail is matched against its own return code), and the producer's
 * message must survive it. The saved copy lives on the caller's stack: saving
 * can never fail for lack of memory. */
#ifndef WEFT_ERROR_INTERNAL_H
#define WEFT_ERROR_INTERNAL_H

#include "base-internal.h"

#define WEFT__MSG_MAX 1024

typedef struct weft__error_saved {
    int code; /* 0: nothing was pending */
    char text[WEFT__MSG_MAX];
} weft__error_saved;

/* Copies the pending message (if any) into *s and clears it. */
void weft__error_save(weft__error_saved *s);
/* Makes *s the pending message again, dropping whatever is pending now. */
void weft__error_restore(const weft__error_saved *s);

#endif
