/* executor-internal.h: what group.c needs from executor.c beyond the public
 * API: creating a task's future before it is queued (so a done callback can
 * be attached while it cannot yet complete, or the task can wait in a
 * group's own pending list), and queueing that future later. */
#ifndef WEFT_EXECUTOR_INTERNAL_H
#define WEFT_EXECUTOR_INTERNAL_H

#include "future-internal.h"

/* A PENDING future owned by ex (with its self-deadlock check), holding one
 * reference for the caller. Returns 0 or ENOMEM. */
int weft__executor_task_new(weft_executor *ex, weft_future **out);

/* Queues f to run fn(arg) on ex, as weft_executor_submit does (same errors,
 * same admission). On success the executor owns the caller's reference to f
 * (take another first to keep one); on error nothing changed. */
int weft__executor_enqueue(weft_executor *ex, weft_future *f, weft_fn *fn, void *arg);

#endif
