/* future-layout-internal.h: the future's layout and the waiter (CPython's
 * _Waiter) that waits on sets of futures, shared by future.c (lifetime,
 * completion, callbacks) and future-wait.c (every wait: result, exception,
 * wait, as_completed). Nothing else includes it. The DESIGN is at the top
 * of future.c. */
#ifndef WEFT_FUTURE_LAYOUT_INTERNAL_H
#define WEFT_FUTURE_LAYOUT_INTERNAL_H

#include "cancel-internal.h"
#include "future-internal.h"

#include <stddef.h>

struct waiter;

/* One future's membership in one waiter. Linked into the future's list while
 * `attached`; both fields are guarded by that future's mu. */
struct wlink {
    struct wlink *next, **pprev;
    struct waiter *w;
    weft_future *f;
    bool attached;
};

/* CPython's _Waiter. Freed when the last reference (its owner's, or a
 * completing future's in flight) goes. */
struct waiter {
    atomic_int refs;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t ndone, nfailed; /* completions seen (guarded by mu) */
    weft_future **fifo;    /* as_completed only: completed futures, in order */
    size_t head, tail;
    size_t nlinks;
    struct wlink links[];
};

struct callback {
    struct callback *next;
    weft_future_callback_fn *fn;
    void *ud;
};

struct weft_future {
    /* What every task touches comes first, on as few cache lines as we can:
     * a recycled future was last touched by a worker on another core, so
     * each line the submitter writes is a cache miss. The mutex and condvar
     * are only touched by waiters, callbacks and cancellers; last. */
    weft__qnode q; /* first: see future-internal.h */
    atomic_int refs;
    /* weft_future_state. Every change is made under mu, except the
     * worker's PENDING -> RUNNING (weft__future_begin), a lock-free CAS,
     * and the sole owner's finish (see weft__future_finish); so every
     * change out of PENDING is a CAS (see complete_locked). */
    atomic_int state;
    unsigned nwaiting; /* threads blocked on cv */
    int error;         /* 0, or the task's code */
    void *result;
    char *message; /* owned; NULL: weft_strerror(error) */
    struct callback *cbs, **cbs_tail;
    struct wlink *waiters;
    void *owner;
    weft__deadlock_check_fn *owner_check;
    /* Saved by weft__future_begin, restored by finish (worker thread only). */
    weft__cancel *prev_token;
    weft_future *prev_running;
    atomic_uint_fast64_t runner; /* deadlock detector: the worker running it */
    char *name;                  /* points into name_buf, or NULL */
    bool error_read;
    weft__cancel token;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* result() waiters */
    char name_buf[];
};

_Static_assert(offsetof(struct weft_future, q) == 0, "weft__qnode_future casts");

/* The future this thread is running as a task (weft__future_begin), or NULL.
 * Hidden, so that position-independent code reaches it without the GOT. */
extern _Thread_local weft_future *weft__future_running __attribute__((visibility("hidden")));

static inline int state_of(const weft_future *f)
{
    return atomic_load_explicit((atomic_int *)&f->state, memory_order_acquire);
}

static inline bool is_done(int st)
{
    return st == WEFT_FUTURE_CANCELLED || st == WEFT_FUTURE_FINISHED;
}

/* A completing future (complete_locked, future.c) tells each waiter hooked
 * into it (failed: finished with an error), holding a reference to the
 * waiter that it drops with weft__waiter_unref. */
void weft__waiter_notify(struct waiter *w, weft_future *f, bool failed);
void weft__waiter_unref(struct waiter *w);

#endif
