/* executor-pool-internal.h: the executor's state, shared by executor.c (the
 * public API: creation, submit and admission, shutdown, counters) and
 * executor-workers.c (the workers: run loop, wakeups, lazy thread starts,
 * breakage). The DESIGN of both is at the top of executor.c. */
#ifndef WEFT_EXECUTOR_POOL_INTERNAL_H
#define WEFT_EXECUTOR_POOL_INTERNAL_H

#include "clock-internal.h"
#include "executor-internal.h"
#include "runq-internal.h"

#define SPIN_ROUNDS      4000 /* ~0.4 ms of `pause` on Skylake+, then sleep */
#define SPIN_YIELD_EVERY 16   /* pauses (~90 ns each on Skylake+) between yields */
#define MAX_SPINNERS     1
#define MAX_STARTING     2 /* thread creations in flight at once */

typedef struct worker {
    weft_executor *ex;
    unsigned index;
    bool created; /* tid is valid (pthread_create succeeded) */
    bool hole;    /* its start failed and no later start reused it yet */
    pthread_t tid;
    /* Under mu: what this worker's task is blocked on forever, if it is
     * waiting only for this pool's futures (owner_check). */
    const weft__blocked *blocked;
    /* This worker's task counts, written by it alone and summed by
     * weft_executor_stats_get. Pool-wide atomics were three read-modify-
     * writes per task on a line every worker shares: ~20% of a tiny
     * task's samples at 2 workers. Padded so that no two workers' counts
     * share a line. */
    char pad0[64];
    atomic_size_t busy, completed, failed, cancelled;
    char pad1[64];
} worker;

struct weft_executor {
    weft__runq rq; /* first: its padding keeps both ends on their own lines */

    pthread_mutex_t mu;
    pthread_cond_t work;    /* idle workers sleep here */
    pthread_cond_t room;    /* submitters blocked on max_queued */
    pthread_cond_t exit_cv; /* thread starts done, workers exited, join done */

    unsigned max_workers;
    unsigned started;         /* indexes handed out */
    unsigned holes;           /* of those, slots whose thread failed to start */
    atomic_uint started_hint; /* started - holes, readable without mu by submit */
    unsigned alive;           /* threads running or being created */
    unsigned fresh;           /* started but not yet in the run loop */
    unsigned starting;        /* pthread_create calls in flight */
    atomic_uint idle;         /* in the run loop without a task */
    /* Changed under mu; read without it by submitters (see DESIGN). */
    atomic_uint sleeping; /* of the idle: asleep on `work` */
    atomic_uint spinning; /* of the idle: spinning */
    atomic_uint waking;   /* sleepers signalled and not yet awake */
    atomic_uint blocked;  /* submitters waiting for room */
    unsigned exited;
    bool joining, joined, free_on_exit; /* closed state: in rq (runq-internal.h) */

    worker *workers; /* max_workers slots */
    char *prefix;
    weft_worker_init_fn *initializer;
    weft_worker_fini_fn *finalizer;
    void *init_arg;
    size_t stack_size;
    size_t max_queued;
    weft_admission admission;
    double submit_timeout;

    /* Tasks no worker ran: cancelled at shutdown, failed when the pool
     * broke or no thread could start. Each worker counts its own. */
    atomic_size_t failed, cancelled;
};

/* The executor and worker index of the calling worker thread (NULL, -1
 * elsewhere); set by the worker for its whole life. */
extern _Thread_local weft_executor *weft__pool_self;
extern _Thread_local int weft__pool_index;

/* Tasks queued (see weft__runq_len). */
static inline size_t q_len(weft_executor *ex)
{
    return weft__runq_len(&ex->rq);
}

/* Shut down or broken: the pool takes no more work. Stored only in the run
 * queue's word, so that a submit's reservation sees it atomically. */
static inline bool closed(weft_executor *ex)
{
    return weft__runq_closed(&ex->rq) != 0;
}

/* With mu held: takes queued tasks one at a time while more(ex) says so
 * (NULL: until the queue is empty) and ends each without running it: code 0
 * cancels it, another code fails it with that code and `text`. Returns with
 * mu held. */
void weft__pool_drain(weft_executor *ex, bool (*more)(const weft_executor *), int code,
                      const char *text);

/* With mu held: signals one sleeping worker if the queue has work that no
 * spinning or waking worker will take. */
void weft__pool_wake_one(weft_executor *ex);

/* Without mu: weft__pool_wake_one (under mu), when a lock-free look says a
 * sleeper may be needed: someone sleeps, nobody spins or is being woken, and
 * work is queued. The queue is looked at last: the steady state of tiny
 * tasks has a spinner, and then the look costs two loads. Inline: it is on
 * submit's fast path. */
static inline void weft__pool_pass_wakeup_on(weft_executor *ex)
{
    if (atomic_load(&ex->sleeping) && !atomic_load(&ex->spinning) && !atomic_load(&ex->waking) &&
        q_len(ex)) {
        weft__lock(&ex->mu);
        weft__pool_wake_one(ex);
        weft__unlock(&ex->mu);
    }
}

/* With mu held: reserves the next worker index when the queue (plus `extra`
 * tasks about to be queued) holds more tasks than idle and just-started
 * workers can take; returns it, or -1. */
int weft__pool_reserve_start(weft_executor *ex, size_t extra);

/* Without mu: starts the worker whose slot weft__pool_reserve_start gave.
 * Returns 0 or the pthread_create error (the slot is then handed back). */
int weft__pool_start_worker(weft_executor *ex, unsigned index);

/* Frees ex's memory and pthread objects (every worker gone). */
void weft__pool_destroy(weft_executor *ex);

#endif
