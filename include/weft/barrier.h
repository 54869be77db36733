/* weft/barrier.h: a reusable barrier for a fixed number of parties (Python's
 * threading.Barrier). When the last party arrives, the optional action runs
 * on that thread, then all are released and the barrier resets for the next
 * round. A broken barrier fails every waiter with WEFT_EBROKEN until reset. */
#ifndef WEFT_BARRIER_H
#define WEFT_BARRIER_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_barrier weft_barrier;

/* Runs once per round on the last thread to arrive, before any is released.
 * A nonzero return breaks the barrier. */
typedef int weft_barrier_action_fn(void *arg);

/* Creates a barrier for `parties` threads (at least 1), with an optional
 * action. Returns 0, EINVAL (parties 0), ENOMEM. */
WEFT_API int weft_barrier_new(weft_barrier **out, unsigned parties, weft_barrier_action_fn *action,
                              void *arg);
/* Frees it. NULL-safe. No thread may wait on it. */
WEFT_API void weft_barrier_free(weft_barrier *b);

/* Arrives and waits for the others. Returns 0 and stores in *index (may be
 * NULL) this thread's arrival index, 0 .. parties-1 (Python's return value);
 * ETIMEDOUT when this thread's timeout passed (the barrier is then broken);
 * WEFT_EBROKEN when the barrier is or becomes broken (aborted, reset while
 * waiting, another party timed out or was cancelled, the action failed);
 * ECANCELED when the calling task was cancelled (the barrier is then broken
 * too, as a party left; not if the thread was still waiting for the previous
 * round to leave, as it never arrived); the action's own error code to the
 * thread that ran it when it failed; EINVAL for a bad timeout. As in Python,
 * the timeout covers the wait for the other parties: not the wait for the
 * previous round to leave, nor the action once every party has arrived (a
 * waiter then gets the round's outcome). A round once released succeeds for
 * all its parties even if the barrier is broken before they wake. Blocks. */
WEFT_API int weft_barrier_wait(weft_barrier *b, double timeout, unsigned *index);

/* Returns the barrier to its initial state; threads waiting now get
 * WEFT_EBROKEN. Never blocks (beyond a mutex). */
WEFT_API void weft_barrier_reset(weft_barrier *b);
/* Breaks the barrier: current and future waiters get WEFT_EBROKEN until a
 * reset. */
WEFT_API void weft_barrier_abort(weft_barrier *b);

WEFT_API unsigned weft_barrier_parties(const weft_barrier *b);
/* Threads waiting now (a snapshot). */
WEFT_API unsigned weft_barrier_n_waiting(const weft_barrier *b);
WEFT_API bool weft_barrier_broken(const weft_barrier *b);

#ifdef __cplusplus
}
#endif
#endif
