/* weft/deque.h: a thread-safe double-ended queue, as Python's
 * collections.deque is used between threads: append and pop at either end,
 * none of which ever blocks, and an optional maxlen past which an append
 * pushes an item out at the other end (a bounded "last N" buffer).
 *
 * An empty deque makes pop fail with EAGAIN at once (Python's IndexError):
 * a thread that must wait for an item wants weft_queue or weft_simplequeue.
 * Items are `void *` and borrowed; NULL is a valid item. An item pushed out
 * by maxlen is handed to the `dropped` callback, if any, with no lock held. */
#ifndef WEFT_DEQUE_H
#define WEFT_DEQUE_H

#include "queue.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_deque weft_deque;

/* Options; {0} is Python's deque(): unbounded. */
typedef struct weft_deque_opts {
    /* Most items held; 0: no limit (Python's maxlen=None; Python's maxlen=0,
     * a deque that drops everything, has no counterpart). */
    size_t maxlen;
    /* Receives each item an append pushes out at the other end; NULL: none
     * (the items are simply forgotten, as Python drops its reference). */
    weft_queue_dispose_fn *dropped;
    void *ud; /* dropped's first argument */
} weft_deque_opts;

/* Creates an empty deque in *out. opts may be NULL. Returns 0, EINVAL (out
 * NULL) or ENOMEM. Does not block. */
WEFT_API int weft_deque_new(weft_deque **out, const weft_deque_opts *opts);

/* Frees the deque, handing each item still in it to dispose (may be NULL),
 * left to right, with no lock held. NULL-safe. No thread may use d. */
WEFT_API void weft_deque_free(weft_deque *d, weft_queue_dispose_fn *dispose, void *ud);

/* Adds item at the right end (Python's append). With maxlen reached, the
 * leftmost item is pushed out first and given to opts.dropped after the
 * deque's lock is released. Returns 0, ENOMEM (the deque is then unchanged;
 * only while it grows) or EINVAL (d NULL). Never blocks (beyond a mutex held
 * for a few instructions, and the dropped callback). */
WEFT_API int weft_deque_append(weft_deque *d, void *item);

/* Adds item at the left end (Python's appendleft); with maxlen reached the
 * rightmost item is pushed out. Otherwise as weft_deque_append. */
WEFT_API int weft_deque_appendleft(weft_deque *d, void *item);

/* Removes the rightmost item into *item (Python's pop). Returns 0, EAGAIN
 * when the deque is empty (Python's IndexError; *item untouched), or EINVAL
 * (d or item NULL). Never blocks (beyond a mutex). */
WEFT_API int weft_deque_pop(weft_deque *d, void **item);

/* Removes the leftmost item into *item (Python's popleft). As
 * weft_deque_pop. */
WEFT_API int weft_deque_popleft(weft_deque *d, void **item);

/* Items in the deque now (Python's len(); a snapshot); 0 for NULL. Never
 * blocks. */
WEFT_API size_t weft_deque_len(const weft_deque *d);

/* The maxlen it was made with (0: unbounded; also for NULL). Never blocks. */
WEFT_API size_t weft_deque_maxlen(const weft_deque *d);

#ifdef __cplusplus
}
#endif
#endif
