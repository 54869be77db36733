/* simplequeue.c: weft_simplequeue, Python's queue.SimpleQueue.
 *
 * DESIGN: a SimpleQueue is an unbounded FIFO weft_queue that nobody shuts
 * down, with a narrower API. Rather than a second ring buffer and a second
 * copy of the wait and cancellation protocol, the handle is a weft_queue
 * under another name: every call converts the pointer and goes through
 * queue.c, whose put on an unbounded queue never waits (it fails only with
 * ENOMEM) and whose get already has the timeout and cancellation this needs.
 * The queue's unfinished-task count grows with every put and is never read:
 * harmless (a size_t counter). */
#include "base-internal.h"

static weft_queue *as_queue(const weft_simplequeue *q)
{
    return (weft_queue *)q;
}

int weft_simplequeue_new(weft_simplequeue **out)
{
    if (!out)
        return EINVAL;
    weft_queue *q;
    int rc = weft_queue_new(&q, NULL); /* {0}: unbounded FIFO */
    if (rc)
        return rc;
    *out = (weft_simplequeue *)q;
    return 0;
}

void weft_simplequeue_free(weft_simplequeue *q, weft_queue_dispose_fn *dispose, void *ud)
{
    weft_queue_free(as_queue(q), dispose, ud);
}

int weft_simplequeue_put(weft_simplequeue *q, void *item)
{
    /* Unbounded and never shut down: the timeout is never used. */
    return weft_queue_put(as_queue(q), item, 0);
}

int weft_simplequeue_get(weft_simplequeue *q, void **item, double timeout)
{
    return weft_queue_get(as_queue(q), item, timeout);
}

size_t weft_simplequeue_qsize(const weft_simplequeue *q)
{
    return weft_queue_qsize(as_queue(q));
}

bool weft_simplequeue_empty(const weft_simplequeue *q)
{
    return weft_queue_empty(as_queue(q)); /* false for NULL */
}
