/* runq-internal.h: an executor's run queue (executor.c's workers and
 * submitters; runq.c holds the cold parts).
 *
 * DESIGN
 * - Vyukov's intrusive MPSC queue. The link (with the task's function and
 *   argument) is the first member of the future (future-internal.h), so
 *   queueing a task allocates nothing. A push is wait-free (an exchange on
 *   the tail, then a store into the previous node); consumers pop under the
 *   small lock `mu`. Between a pusher's exchange and its store the queue is
 *   cut: a popper sees fewer nodes than were pushed, so it waits (yielding)
 *   for the link.
 * - `pushed` counts reservations, taken by each push (one fetch_add) before
 *   it links. The pool's closed state (shut down, broken) is kept here and
 *   only here, as flag bits of that same word, so that a reservation and
 *   the check that the pool still takes work are one atomic step: a push
 *   either reserved before the pool closed (and its task is run, cancelled
 *   or failed by the drain) or is refused. len = pushed - popped counts
 *   pushes in progress too: 0 means nothing can turn up without a new
 *   reservation.
 * - The hot functions are static inline: one call per task each, on the
 *   executor's fast path.
 *
 * Lock order: the executor's mu, then this queue's mu. */
#ifndef WEFT_RUNQ_INTERNAL_H
#define WEFT_RUNQ_INTERNAL_H

#include "clock-internal.h"
#include "future-internal.h"

#include <sched.h>

/* The closed bits of `pushed` (see DESIGN); RUNQ_COUNT masks the count. */
#define WEFT__RUNQ_SHUTDOWN (UINT64_C(1) << 62)
#define WEFT__RUNQ_BROKEN   (UINT64_C(1) << 63)
#define WEFT__RUNQ_CLOSED   (WEFT__RUNQ_SHUTDOWN | WEFT__RUNQ_BROKEN)
#define WEFT__RUNQ_COUNT    (WEFT__RUNQ_SHUTDOWN - 1)

typedef struct weft__runq {
    /* Producer side (submitters only), on its own lines. */
    char pad0[64];
    _Atomic(weft__qnode *) tail; /* last node pushed (exchange) */
    atomic_uint_fast64_t pushed; /* reservations | the closed bits */
    char pad1[64];
    /* Consumer side, under mu. */
    pthread_mutex_t mu;
    weft__qnode *head;           /* next node to pop (or the stub) */
    atomic_uint_fast64_t popped; /* tasks popped; written under mu */
    weft__qnode stub;            /* Vyukov's stub: the queue is never empty of nodes */
    char pad2[64];
} weft__runq;

/* A task taken off the queue: its future (the queue's reference) and what
 * to run. */
typedef struct weft__task {
    weft_future *f;
    weft_fn *fn;
    void *arg;
} weft__task;

/* Sets up an empty, open queue / releases its mutex. Never fail. */
void weft__runq_init(weft__runq *q);
void weft__runq_destroy(weft__runq *q);

/* Queued tasks: reservations not yet popped. Includes pushes in progress
 * (reserved, not yet linked), so 0 means that nothing can be popped now or
 * later without a new reservation. seq_cst: one side of the executor's
 * sleep and room handshakes. */
static inline size_t weft__runq_len(weft__runq *q)
{
    uint64_t pushed = atomic_load(&q->pushed) & WEFT__RUNQ_COUNT;
    uint64_t popped = atomic_load(&q->popped);
    return (size_t)(pushed - popped);
}

/* The closed bits (0 while the pool takes work). seq_cst. */
static inline uint64_t weft__runq_closed(weft__runq *q)
{
    return atomic_load(&q->pushed) & WEFT__RUNQ_CLOSED;
}

/* Closes the queue for later pushes (bits: WEFT__RUNQ_SHUTDOWN or
 * WEFT__RUNQ_BROKEN). Tasks already reserved stay queued. */
static inline void weft__runq_close(weft__runq *q, uint64_t bits)
{
    atomic_fetch_or(&q->pushed, bits);
}

/* Vyukov's intrusive MPSC push: wait-free, no lock. Between the exchange and
 * the store into prev, the queue is cut: consumers see the nodes up to prev
 * only (pop returns NULL while len says more). */
static inline void weft__runq_link(weft__runq *q, weft__qnode *n)
{
    atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
    weft__qnode *prev = atomic_exchange_explicit(&q->tail, n, memory_order_acq_rel);
    atomic_store_explicit(&prev->next, n, memory_order_release);
}

/* Vyukov's pop, with q->mu held: the oldest node, or NULL when the queue is
 * empty or cut by a push in progress. A returned node is no longer linked
 * from the queue and no producer will write to it. */
static inline weft__qnode *weft__runq_pop(weft__runq *q)
{
    weft__qnode *head = q->head;
    weft__qnode *next = atomic_load_explicit(&head->next, memory_order_acquire);
    if (head == &q->stub) {
        if (!next)
            return NULL;
        q->head = head = next;
        next = atomic_load_explicit(&head->next, memory_order_acquire);
    }
    if (next) {
        q->head = next;
        return head;
    }
    if (head != atomic_load_explicit(&q->tail, memory_order_acquire))
        return NULL; /* a push after head is in progress */
    /* head is the last node: put the stub behind it so it can go. */
    weft__runq_link(q, &q->stub);
    next = atomic_load_explicit(&head->next, memory_order_acquire);
    if (next) {
        q->head = next;
        return head;
    }
    return NULL;
}

/* Takes the oldest task; false when nothing is queued. May be called with
 * the executor's mu held (lock order). Waits, yielding, for a push in
 * progress to be linked: that takes the pusher two instructions and no
 * lock, unless it was preempted in between. */
static inline bool weft__runq_take(weft__runq *q, weft__task *t)
{
    for (;;) {
        weft__lock(&q->mu);
        weft__qnode *n = weft__runq_pop(q);
        if (n)
            atomic_fetch_add(&q->popped, 1);
        weft__unlock(&q->mu);
        if (n) {
            t->f = weft__qnode_future(n);
            t->fn = n->fn;
            t->arg = n->arg;
            return true;
        }
        if (weft__runq_len(q) == 0)
            return false;
        sched_yield();
    }
}

/* Reserves a place and links f to run fn(arg). The reservation comes first,
 * so len counts the task before it is linked: a consumer that sees the queue
 * empty cannot miss it. Returns 0, or WEFT_EBROKEN / ESHUTDOWN (nothing
 * queued) when the queue is closed. */
static inline int weft__runq_push(weft__runq *q, weft_future *f, weft_fn *fn, void *arg)
{
    uint64_t old = atomic_fetch_add(&q->pushed, 1);
    if (WEFT__UNLIKELY(old & WEFT__RUNQ_CLOSED)) {
        atomic_fetch_sub(&q->pushed, 1);
        return old & WEFT__RUNQ_BROKEN ? WEFT_EBROKEN : ESHUTDOWN;
    }
    weft__qnode *n = weft__future_qnode(f);
    n->fn = fn;
    n->arg = arg;
    weft__runq_link(q, n);
    return 0;
}

/* Unlinks n if it is still queued (a failed thread start takes its task
 * back). The caller guarantees that nobody pops meanwhile (no consumer is
 * alive); producers may still push behind n. Returns true when n was
 * unlinked (and counted as popped). */
bool weft__runq_remove(weft__runq *q, weft__qnode *n);

#endif
