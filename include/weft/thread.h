/* weft/thread.h: threads (Python's threading.Thread).
 *
 * A weft_thread runs a weft_fn on a new OS thread. Its return value and its
 * error (code and message: the analogue of an exception) are readable after
 * it ends. As in Python, non-daemon threads still running when the process
 * exits normally (return from main, exit()) are joined first; daemon threads
 * are not. An error is never lost: a failed thread whose error nobody read is
 * sent to the unhandled-error hook (weft/error.h) when the handle is freed,
 * or when a detached thread ends. A child made by fork() has only the
 * forking thread: its exit does not wait for threads of the parent. */
#ifndef WEFT_THREAD_H
#define WEFT_THREAD_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_thread weft_thread;

/* Options; {0} is Python's defaults. */
typedef struct weft_thread_opts {
    const char *name;  /* copied; NULL: "Thread-N". The OS sees the first 15 bytes. */
    bool daemon;       /* not joined at process exit */
    size_t stack_size; /* bytes; 0: the system default; rounded up to the minimum */
} weft_thread_opts;

/* Starts fn(arg) on a new thread (Python's Thread(...).start()). opts may be
 * NULL. On success stores the handle in *out (owned by the caller: free it
 * with weft_thread_free) and returns 0; else EINVAL (fn NULL), ENOMEM, EAGAIN
 * (the system refused another thread), and *out is untouched. Does not block. */
WEFT_API int weft_thread_start(weft_thread **out, weft_fn *fn, void *arg,
                               const weft_thread_opts *opts);

/* Waits for t to end (Python's join(timeout)): fn has returned and the
 * thread's weft_local values have been destroyed. Returns 0 when it has ended
 * (whether it succeeded or failed: see weft_thread_error), ETIMEDOUT when the
 * timeout passed first, EDEADLK when t is the calling thread, EINVAL for a
 * bad timeout, ECANCELED when the calling task was cancelled. Blocks. Any
 * number of threads may join the same thread. */
WEFT_API int weft_thread_join(weft_thread *t, double timeout);

/* True from start until the thread has ended (fn returned, its weft_local
 * values destroyed). Never blocks. */
WEFT_API bool weft_thread_is_alive(const weft_thread *t);

/* The thread's name (valid as long as t): the one it was started with, even
 * if the thread renamed itself with weft_thread_set_current_name. Never NULL. */
WEFT_API const char *weft_thread_name(const weft_thread *t);

/* The thread's OS id (Linux TID, as in top -H and gdb; Python's native_id);
 * 0 until the thread has started running. */
WEFT_API unsigned long weft_thread_ident(const weft_thread *t);

/* What fn stored through its result pointer; NULL while alive or if it
 * failed. weft does not own it. */
WEFT_API void *weft_thread_result(const weft_thread *t);

/* The thread's error: its code (0 if it succeeded or is still running), and
 * through `message` (may be NULL) its text, valid as long as t (NULL when the
 * code is 0). Reading the error of an ended thread marks it handled, so
 * freeing t will not report it. */
WEFT_API int weft_thread_error(weft_thread *t, const char **message);

/* Releases the handle. NULL-safe. If the thread still runs, it is detached:
 * it goes on, and if it fails its error goes to the unhandled-error hook. If
 * it ended with an error nobody read, that error goes to the hook now. A
 * non-daemon detached thread is still joined at exit. Never blocks. */
WEFT_API void weft_thread_free(weft_thread *t);

/* The calling thread's name: its weft name, "MainThread" for the process's
 * first thread, "Dummy-<tid>" for other threads weft did not start. Valid
 * until the thread ends or renames itself. Never NULL, never blocks. */
WEFT_API const char *weft_thread_current_name(void);

/* Renames the calling thread (copied; the OS sees the first 15 bytes), as
 * weft_thread_current_name and the OS see it; weft_thread_name keeps the
 * start name. Returns 0, EINVAL (NULL), ENOMEM, or EAGAIN (first call in the
 * process only: no thread-local key left). */
WEFT_API int weft_thread_set_current_name(const char *name);

/* The calling thread's OS id (Linux TID). Never blocks. */
WEFT_API unsigned long weft_thread_current_ident(void);

#ifdef __cplusplus
}
#endif
#endif
