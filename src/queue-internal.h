/* queue-internal.h: what tests may see of a weft_queue beyond its public API. */
#ifndef WEFT_QUEUE_INTERNAL_H
#define WEFT_QUEUE_INTERNAL_H

#include "weft/queue.h"

/* How many threads are asleep in get, put and join right now, so a test can
 * wait until a thread is surely blocked before it acts (a handshake, not a
 * sleep). */
void weft__queue_waiters(weft_queue *q, unsigned *getters, unsigned *putters, unsigned *joiners);

#endif
