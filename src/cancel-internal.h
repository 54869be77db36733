/* cancel-internal.h: cooperative cancellation of weft's blocking waits
 * (cancel.c; weft__ names, never exported).
 *
 * DESIGN: a running task may own a weft__cancel token, installed as the
 * thread's current token while the task runs. Every blocking wait in weft
 * brackets itself with weft__wait_enter/_leave so a cancel request can wake
 * it; see the protocol below. */
#ifndef WEFT_CANCEL_INTERNAL_H
#define WEFT_CANCEL_INTERNAL_H

#include "clock-internal.h"

/* ------------------------------------------------------------ cancellation
 *
 * Protocol. A blocking wait on (m, c):
 *     weft__cancel *tok = weft__wait_enter(&m, &c);   // before locking m
 *     weft__lock(&m);
 *     while (!ready) {
 *         if (weft__wait_cancelled(tok)) { rc = ECANCELED; break; }
 *         if (weft__cond_wait(&c, &m, &dl) == ETIMEDOUT && !ready) { rc = ETIMEDOUT; break; }
 *     }
 *     weft__unlock(&m);
 *     weft__wait_leave(tok);
 * weft__cancel_request() sets the flag, then (holding tok->mu) locks the
 * registered m and broadcasts c. Because the waiter reads the flag under m
 * and the canceller takes m after setting it, the wakeup cannot be lost.
 * Lock order: tok->mu before any primitive's m; a waiter never holds both
 * (it registers before taking m and unregisters after dropping it).
 */
typedef struct weft__cancel {
    atomic_bool requested;
    pthread_mutex_t mu; /* guards m and c */
    pthread_mutex_t *m;
    pthread_cond_t *c;
} weft__cancel;

void weft__cancel_init(weft__cancel *tok);
void weft__cancel_destroy(weft__cancel *tok);
/* Asks the task owning tok to stop and wakes its current weft wait. Never
 * blocks for longer than it takes to lock two mutexes. */
void weft__cancel_request(weft__cancel *tok);
/* Installs tok as the calling thread's token (NULL for none); returns the old. */
weft__cancel *weft__cancel_swap(weft__cancel *tok);
weft__cancel *weft__cancel_current(void);

weft__cancel *weft__wait_enter(pthread_mutex_t *m, pthread_cond_t *c);
static inline bool weft__wait_cancelled(weft__cancel *tok)
{
    return tok && atomic_load_explicit(&tok->requested, memory_order_acquire);
}
void weft__wait_leave(weft__cancel *tok);

#endif
