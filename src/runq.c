/* runq.c: the cold parts of an executor's run queue (runq-internal.h):
 * setting it up, and taking back a task whose thread failed to start. */
#include "clock-internal.h"
#include "runq-internal.h"

void weft__runq_init(weft__runq *q)
{
    atomic_init(&q->stub.next, NULL);
    atomic_init(&q->tail, &q->stub);
    atomic_init(&q->pushed, 0);
    atomic_init(&q->popped, 0);
    q->head = &q->stub;
    /* Adaptive: poppers hold mu for a few instructions, so a short spin
     * beats a futex sleep (see bench-executor.c). */
    pthread_mutexattr_t ma;
    WEFT__CHECK(pthread_mutexattr_init(&ma));
    WEFT__CHECK(pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP));
    WEFT__CHECK(pthread_mutex_init(&q->mu, &ma));
    WEFT__CHECK(pthread_mutexattr_destroy(&ma));
}

void weft__runq_destroy(weft__runq *q)
{
    WEFT__CHECK(pthread_mutex_destroy(&q->mu));
}

/* The last node is only detached by moving the tail back with a CAS, which
 * fails if a push has begun after n. */
bool weft__runq_remove(weft__runq *q, weft__qnode *n)
{
    weft__lock(&q->mu);
    bool found = false;
    for (;;) {
        weft__qnode *pred = NULL, *p = q->head;
        while (p && p != n) {
            pred = p;
            p = atomic_load_explicit(&p->next, memory_order_acquire);
        }
        if (!p) {
            /* The end, or a cut before n: n is linked, so only an earlier
             * push in progress can hide it. */
            if (weft__runq_len(q) == 0 || atomic_load(&q->tail) == pred)
                break; /* not queued (a drain took it) */
            weft__unlock(&q->mu);
            sched_yield();
            weft__lock(&q->mu);
            continue;
        }
        weft__qnode *next = atomic_load_explicit(&n->next, memory_order_acquire);
        if (next) {
            if (pred)
                atomic_store_explicit(&pred->next, next, memory_order_relaxed);
            else
                q->head = next;
            found = true;
            break;
        }
        /* n is last: make its predecessor (the stub when n is first, as
         * the stub is then not queued) the last node instead. */
        weft__qnode *before = pred ? pred : &q->stub;
        atomic_store_explicit(&before->next, NULL, memory_order_relaxed);
        if (!pred)
            q->head = &q->stub;
        weft__qnode *expect = n;
        if (atomic_compare_exchange_strong(&q->tail, &expect, before)) {
            found = true;
            break;
        }
        /* A push behind n has begun: undo, let it link, and unlink n then. */
        if (pred)
            atomic_store_explicit(&pred->next, n, memory_order_relaxed);
        else
            q->head = n;
        weft__unlock(&q->mu);
        sched_yield();
        weft__lock(&q->mu);
    }
    if (found)
        atomic_fetch_add(&q->popped, 1);
    weft__unlock(&q->mu);
    return found;
}
