/* weft/simplequeue.h: the unbounded FIFO queue (Python's queue.SimpleQueue).
 *
 * put never blocks and never waits for room: it fails only for lack of
 * memory. get waits, with a timeout, for an item. There is no task_done,
 * join, maxsize or shutdown: use weft_queue for those. Items are `void *`
 * and borrowed, as in weft_queue; NULL is a valid item. */
#ifndef WEFT_SIMPLEQUEUE_H
#define WEFT_SIMPLEQUEUE_H

#include "queue.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_simplequeue weft_simplequeue;

/* Creates an empty queue in *out. Returns 0, EINVAL (out NULL) or ENOMEM.
 * Does not block. */
WEFT_API int weft_simplequeue_new(weft_simplequeue **out);

/* Frees the queue, handing each item still in it to dispose (may be NULL) in
 * queue order, with no lock held. NULL-safe. No thread may use q. */
WEFT_API void weft_simplequeue_free(weft_simplequeue *q, weft_queue_dispose_fn *dispose, void *ud);

/* Adds item at the end. Returns 0, ENOMEM (the queue is then unchanged) or
 * EINVAL (q NULL). Never blocks (beyond a mutex held for a few instructions),
 * and wakes one waiting getter. */
WEFT_API int weft_simplequeue_put(weft_simplequeue *q, void *item);

/* Removes the oldest item into *item, waiting up to `timeout` while the queue
 * is empty. Returns 0; EAGAIN when timeout is 0 and the queue is empty
 * (Python's Empty); ETIMEDOUT; ECANCELED (the calling task was cancelled
 * while it waited); EINVAL (q or item NULL, bad timeout). Blocks. */
WEFT_API int weft_simplequeue_get(weft_simplequeue *q, void **item, double timeout);

/* Items in the queue now (a snapshot); 0 for NULL. Never blocks. */
WEFT_API size_t weft_simplequeue_qsize(const weft_simplequeue *q);

/* True when the queue is empty now (a snapshot); false for NULL. Never
 * blocks. */
WEFT_API bool weft_simplequeue_empty(const weft_simplequeue *q);

#ifdef __cplusplus
}
#endif
#endif
