/* sync.h: test hooks into sem.c and event.c (weft__ names, never exported).
 *
 * DESIGN: a test of FIFO order or of "set() wakes waiters that are already
 * blocked" must know that a thread is blocked inside the call, not merely
 * about to make it; the public API cannot say so (Python's Semaphore and
 * Event have no n_waiting), so these snapshots exist for tests only. */
#ifndef WEFT_SYNC_H
#define WEFT_SYNC_H

#include "base-internal.h"

/* Threads queued in weft_sem_acquire now (a snapshot). */
unsigned weft__sem_n_waiting(const weft_sem *s);
/* Threads blocked in weft_event_wait now (a snapshot). */
unsigned weft__event_n_waiting(const weft_event *e);

#endif
