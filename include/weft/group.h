/* weft/group.h: task groups, structured concurrency on an executor.
 *
 * Tasks spawned into a group are waited for together. The first failure
 * cancels the siblings (pending ones are cancelled, running ones are asked
 * to stop cooperatively, see weft_cancelled), and the group keeps every
 * error, not only the first. A group never outlives its tasks: freeing it
 * cancels and waits for what is left. */
#ifndef WEFT_GROUP_H
#define WEFT_GROUP_H

#include "executor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_group weft_group;

typedef struct weft_group_opts {
    unsigned max_concurrency; /* tasks of this group running at once; 0: no limit */
    bool keep_going;          /* do not cancel siblings on the first failure */
} weft_group_opts;

/* Creates a group running on ex (borrowed: it must outlive the group). opts
 * may be NULL. Returns 0, EINVAL, ENOMEM. */
WEFT_API int weft_group_new(weft_group **out, weft_executor *ex, const weft_group_opts *opts);

/* Spawns fn(arg) into the group. out (may be NULL) receives a future
 * reference. Returns 0; ECANCELED when the group has been cancelled (by a
 * failure or weft_group_cancel); and the errors of weft_executor_submit.
 * Does not block, except as submit's admission does. Tasks may spawn more
 * tasks into their own group. */
WEFT_API int weft_group_spawn(weft_group *g, weft_fn *fn, void *arg, weft_future **out);

/* Waits until every task spawned so far is done. Returns 0 when all
 * succeeded; WEFT_EFAILED when some failed (see weft_group_error_count);
 * ECANCELED when the group was cancelled without a failure; ETIMEDOUT;
 * EDEADLK when called from one of the group's own tasks. Blocks. */
WEFT_API int weft_group_wait(weft_group *g, double timeout);

/* Cancels the group: pending tasks are cancelled, running ones asked to
 * stop, later spawns return ECANCELED. Never blocks. */
WEFT_API void weft_group_cancel(weft_group *g);

/* Failures recorded so far, in the order they happened. */
WEFT_API size_t weft_group_error_count(const weft_group *g);
/* The i-th failure: returns its code (0 if i is out of range); its message
 * and the task's arg through `message` and `arg` (either may be NULL); valid
 * until the group is freed. */
WEFT_API int weft_group_error(const weft_group *g, size_t i, const char **message, void **arg);

/* Cancels what is left, waits for every task, frees the group. Errors not
 * read with weft_group_error go to the unhandled-error hook. NULL-safe.
 * Blocks. */
WEFT_API void weft_group_free(weft_group *g);

#ifdef __cplusplus
}
#endif
#endif
