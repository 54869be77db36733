/* weft/executor.h: the thread-pool executor (Python's
 * concurrent.futures.ThreadPoolExecutor), and more: a bound on queued work,
 * ordered and unordered map over endless inputs, per-worker initializers and
 * finalizers, counters, cooperative cancellation of running tasks, and
 * self-deadlock detection.
 *
 * Workers start lazily, one per submit while none is idle, up to
 * max_workers, and idle workers are reused (CPython >= 3.8). Threads are
 * named "<prefix>_<index>" and visible in top -H and gdb. */
#ifndef WEFT_EXECUTOR_H
#define WEFT_EXECUTOR_H

#include "future.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_executor weft_executor;

/* What submit does when max_queued tasks are already waiting. */
typedef enum weft_admission {
    WEFT_ADMIT_BLOCK = 0, /* wait up to submit_timeout for room (0: EAGAIN at once) */
    WEFT_ADMIT_FAIL,      /* return EAGAIN at once */
} weft_admission;

/* Runs on each worker thread before its first task / when it exits; `index`
 * is the worker's index, 0 .. max_workers-1. An initializer that returns
 * nonzero breaks the executor for good (Python's BrokenThreadPool): every
 * queued task fails without running, its future finished with the code
 * WEFT_EBROKEN (weft_future_result returns WEFT_EFAILED, weft_future_error
 * WEFT_EBROKEN, with a message naming the worker and the initializer's own
 * message); every later submit, map or group spawn returns WEFT_EBROKEN
 * (not ESHUTDOWN, even after a shutdown). */
typedef int weft_worker_init_fn(void *arg, unsigned index);
typedef void weft_worker_fini_fn(void *arg, unsigned index);

/* Options; {0} is Python's defaults. */
typedef struct weft_executor_opts {
    unsigned max_workers;           /* 0: min(32, ncpu + 4) */
    const char *thread_name_prefix; /* copied; NULL: "weft-pool-<N>" */
    weft_worker_init_fn *initializer;
    weft_worker_fini_fn *finalizer;
    void *init_arg;           /* passed to both */
    size_t stack_size;        /* 0: weft_thread_stack_size() as each worker starts */
    size_t max_queued;        /* tasks waiting for a worker; 0: unbounded */
    weft_admission admission; /* when max_queued is reached */
    /* For WEFT_ADMIT_BLOCK, the common timeout convention (weft/common.h):
     * WEFT_FOREVER waits as long as it takes, 0 does not block (EAGAIN),
     * other negatives and NaN are EINVAL. Set it with max_queued: the {0}
     * default never blocks, as an unbounded pool never needs to. */
    double submit_timeout;
} weft_executor_opts;

/* Creates an executor into *out (the caller owns it: weft_executor_free).
 * No thread starts until work is submitted. opts may be NULL. Returns 0,
 * EINVAL (NULL out, bad submit_timeout or admission, stack_size under 16
 * KiB), ENOMEM. Does not block. */
WEFT_API int weft_executor_new(weft_executor **out, const weft_executor_opts *opts);

/* Schedules fn(arg) (Python's submit). With out non-NULL, stores a future
 * there (the caller owns one reference); with out NULL the task is detached
 * and a failure goes to the unhandled-error hook. Returns 0; ESHUTDOWN after
 * shutdown; WEFT_EBROKEN when broken; EAGAIN (WEFT_ADMIT_FAIL, or a
 * submit_timeout of 0) or ETIMEDOUT (WEFT_ADMIT_BLOCK, once submit_timeout
 * has passed) when the queue bound is reached; EAGAIN also when no
 * worker exists and none could be started (pthread_create failed); then a
 * task that another submit queued at the same moment, counting on that
 * start, fails with EAGAIN too instead of waiting forever; ECANCELED when
 * the calling task is cancelled while blocked; EINVAL; ENOMEM. On error
 * nothing is scheduled and *out is untouched. May block (admission only). */
WEFT_API int weft_executor_submit(weft_executor *ex, weft_fn *fn, void *arg, weft_future **out);

/* weft_executor_submit for a task with a name (copied; NULL: none, as
 * submit). The name is the future's (weft_future_name) and names the task
 * wherever weft reports on it: the unhandled-error hook's `who` (an unread
 * failure, a failing done callback) and deadlock reports, which otherwise
 * say "task" or "(unnamed)". Python's tasks have no name; asyncio's do
 * (create_task(name=)). Same returns as weft_executor_submit. May block
 * (admission only). */
WEFT_API int weft_executor_submit_named(weft_executor *ex, const char *name, weft_fn *fn, void *arg,
                                        weft_future **out);

/* Ordered map over an array (Python's list(executor.map(fn, args,
 * timeout=timeout))): runs fn(args[i]) for i < n and stores results[i].
 * errors (may be NULL) receives each task's code (0 for success).
 * `timeout` bounds the whole map, from this call (not each task):
 * WEFT_FOREVER waits as long as it takes; results already done are taken
 * even past it. Python's map(fn, xs, ys) over several inputs: pack them
 * into one array of structs, n the shortest length (see the reference
 * page). Returns 0 when every task succeeded, WEFT_EFAILED when some failed
 * (their results[i] are NULL; the others still ran), ETIMEDOUT when the
 * timeout passed first (tasks not started are cancelled, running ones are
 * asked to stop, as weft_future_interrupt does, and waited for, since they
 * borrow args), ECANCELED (the calling task was cancelled), EDEADLK, a
 * submit error (ESHUTDOWN, ENOMEM, ...), or EINVAL (NULL ex or fn, NULL
 * arrays with n > 0, bad timeout). On any error but WEFT_EFAILED nothing
 * it submitted is left running. Blocks. */
WEFT_API int weft_executor_map(weft_executor *ex, weft_fn *fn, void *const *args, size_t n,
                               double timeout, void **results, int *errors);

/* A lazy map over an input of any length, even endless. */
typedef struct weft_map weft_map;

/* Supplies the next input into *item: returns 0, or ENOENT at the end, or
 * another code to stop the map with that error. Called only on the thread
 * calling weft_map_next, never concurrently. */
typedef int weft_source_fn(void *ud, void **item);

typedef struct weft_map_opts {
    size_t chunksize;  /* inputs per task (run one after the other); 0 = 1 */
    size_t buffersize; /* inputs in flight at most (Python 3.14); 0: 2 * max_workers * chunksize */
    bool unordered;    /* yield in completion order instead of input order */
} weft_map_opts;

/* Starts a map of fn over the inputs from source (Python's
 * executor.map(fn, iterable, timeout=timeout, buffersize=...)). `timeout`
 * bounds the whole iteration, from this call, as in Python (WEFT_FOREVER:
 * no bound); see weft_map_next. opts may be NULL. Nothing is submitted
 * until the first weft_map_next. Returns 0, EINVAL (a NULL argument but
 * source_ud and opts, a bad timeout), ENOMEM. Does not block. */
WEFT_API int weft_map_new(weft_map **out, weft_executor *ex, weft_fn *fn, weft_source_fn *source,
                          void *source_ud, double timeout, const weft_map_opts *opts);

/* Yields the next result into *result and its input into *input (either may
 * be NULL), keeping up to buffersize inputs in flight. `timeout` bounds this
 * call only (a poll: WEFT_FOREVER, 0, or seconds); the map's own timeout
 * (weft_map_new) bounds them all. Returns 0; ENOENT at the end; WEFT_EFAILED
 * when this input's task failed (weft_map_error gives the code and message;
 * the map goes on); ETIMEDOUT when a timeout passed with nothing ready:
 * this call's (call again to keep waiting; weft_map_error returns 0) or the
 * map's (the map is over: inputs not started are cancelled, and every later
 * call returns ETIMEDOUT; weft_map_error returns ETIMEDOUT); the source's
 * own error code when it failed (once every input it gave before has been
 * yielded; ENOENT after that); ECANCELED; ESHUTDOWN/ENOMEM from submitting
 * (the inputs already pulled are kept and submitted on the next call);
 * EINVAL (NULL m, bad timeout). Blocks. */
WEFT_API int weft_map_next(weft_map *m, double timeout, void **result, void **input);

/* Why the last weft_map_next failed: after WEFT_EFAILED, the task's code;
 * after ETIMEDOUT, ETIMEDOUT when the map's own timeout passed; otherwise
 * 0. Its message through `message` (may be NULL; valid until the next
 * weft_map_next). EINVAL for a NULL m. Never blocks. */
WEFT_API int weft_map_error(weft_map *m, const char **message);

/* Ends the map: cancels inputs not started, waits for running ones. NULL-safe.
 * Blocks. */
WEFT_API void weft_map_free(weft_map *m);

/* Stops accepting work (Python's shutdown(wait, cancel_futures)). With
 * cancel_futures, pending tasks are cancelled; with wait, blocks until every
 * running and remaining task has finished and every worker has exited.
 * Returns 0, or EDEADLK when called with wait from one of ex's own workers
 * (it would wait on itself: the shutdown still takes effect, without the
 * wait). Idempotent. */
WEFT_API int weft_executor_shutdown(weft_executor *ex, bool wait, bool cancel_futures);

/* Shuts down with wait (as leaving Python's `with` block), then frees. From
 * one of ex's own workers it does not wait: the last worker to exit frees
 * the executor. NULL-safe. Blocks. */
WEFT_API void weft_executor_free(weft_executor *ex);

/* Counters, each a snapshot. */
typedef struct weft_executor_stats {
    size_t queued;    /* submitted, waiting for a worker */
    size_t running;   /* on a worker now */
    size_t completed; /* finished successfully */
    size_t failed;    /* finished with an error */
    size_t cancelled; /* cancelled before running */
    unsigned threads_alive;
    unsigned threads_idle;
} weft_executor_stats;

WEFT_API void weft_executor_stats_get(const weft_executor *ex, weft_executor_stats *out);

/* The max_workers in force (after applying the default). */
WEFT_API unsigned weft_executor_max_workers(const weft_executor *ex);

/* From inside a task: the executor running it and the worker's index;
 * NULL and -1 elsewhere. Never block. */
WEFT_API weft_executor *weft_executor_current(void);
WEFT_API int weft_executor_current_worker(void);

#ifdef __cplusplus
}
#endif
#endif
