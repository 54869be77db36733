/* weft/queue.h: thread-safe queues (Python's queue.Queue, LifoQueue and
 * PriorityQueue), bounded or not, with task_done/join and shutdown.
 *
 * Items are `void *` and borrowed: the queue never frees or reads them,
 * except that items left in the queue at weft_queue_free, or discarded by an
 * immediate shutdown, are handed to a dispose callback. NULL is a valid item
 * (a sentinel, as Python code uses None). */
#ifndef WEFT_QUEUE_H
#define WEFT_QUEUE_H

#include "common.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_queue weft_queue;

typedef enum weft_queue_kind {
    WEFT_QUEUE_FIFO = 0, /* queue.Queue */
    WEFT_QUEUE_LIFO,     /* queue.LifoQueue */
    WEFT_QUEUE_PRIORITY, /* queue.PriorityQueue: lowest priority first; FIFO among equals */
} weft_queue_kind;

/* Options; {0} is Python's defaults: an unbounded FIFO queue. */
typedef struct weft_queue_opts {
    weft_queue_kind kind;
    size_t maxsize; /* 0: unbounded */
} weft_queue_opts;

/* Receives an item the queue discards (free, immediate shutdown). */
typedef void weft_queue_dispose_fn(void *ud, void *item);

/* Creates a queue. opts may be NULL. Returns 0, EINVAL (unknown kind),
 * ENOMEM. Does not block. */
WEFT_API int weft_queue_new(weft_queue **out, const weft_queue_opts *opts);

/* Frees the queue, handing each item still in it to dispose (may be NULL)
 * in queue order, with no lock held. NULL-safe. No thread may use q. */
WEFT_API void weft_queue_free(weft_queue *q, weft_queue_dispose_fn *dispose, void *ud);

/* Adds an item, waiting up to `timeout` while a bounded queue is full
 * (backpressure). Returns 0; EAGAIN when timeout is 0 and the queue is full
 * (Python's Full); ETIMEDOUT; ESHUTDOWN after weft_queue_shutdown; ECANCELED;
 * EINVAL (bad timeout); ENOMEM (the queue is then unchanged). In a priority
 * queue the priority is 0. Blocks. A timeout starts when the call finds it
 * must wait; a cancelled task gets ECANCELED only from a call that would
 * wait (as for every timed call here). */
WEFT_API int weft_queue_put(weft_queue *q, void *item, double timeout);

/* weft_queue_put with a priority (lower comes out first). In FIFO and LIFO
 * queues the priority is ignored. */
WEFT_API int weft_queue_put_priority(weft_queue *q, void *item, int64_t priority, double timeout);

/* Removes the next item into *item, waiting up to `timeout` while empty.
 * Returns 0; EAGAIN when timeout is 0 and the queue is empty (Python's
 * Empty); ETIMEDOUT; ESHUTDOWN when shut down and empty (at once if the
 * shutdown was immediate); ECANCELED; EINVAL. Blocks. */
WEFT_API int weft_queue_get(weft_queue *q, void **item, double timeout);

/* Snapshots: items in the queue; whether it is empty; whether it is full. */
WEFT_API size_t weft_queue_qsize(const weft_queue *q);
WEFT_API bool weft_queue_empty(const weft_queue *q);
WEFT_API bool weft_queue_full(const weft_queue *q);

/* Marks one gotten item as processed. Returns 0, or EINVAL when called more
 * times than items were put (Python's ValueError). Never blocks. */
WEFT_API int weft_queue_task_done(weft_queue *q);

/* Waits until every item put has been marked done. Returns 0, ETIMEDOUT
 * (at once when timeout is 0 and tasks are unfinished), ECANCELED, EINVAL.
 * Blocks. */
WEFT_API int weft_queue_join(weft_queue *q, double timeout);

/* Shuts the queue down (Python 3.13): every blocked putter and getter wakes;
 * puts fail with ESHUTDOWN; gets drain what is left, then fail with
 * ESHUTDOWN. With `immediate`, what is left is discarded at once (handed to
 * dispose, which may be NULL, with no lock held) and counted as done, so
 * join returns. Idempotent. Never blocks (beyond dispose). */
WEFT_API void weft_queue_shutdown(weft_queue *q, bool immediate, weft_queue_dispose_fn *dispose,
                                  void *ud);

#ifdef __cplusplus
}
#endif
#endif
