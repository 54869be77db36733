/* weft/thread.h: threads (Python's threading.Thread and the threading
 * module's functions: current_thread, main_thread, enumerate, active_count,
 * get_ident, get_native_id, stack_size).
 *
 * A weft_thread runs a weft_fn on a new OS thread. Its return value and its
 * error (code and message: the analogue of an exception) are readable after
 * it ends. As in Python, non-daemon threads still running when the process
 * exits normally (return from main, exit()) are joined first; daemon threads
 * are not; a new thread is a daemon when the thread that starts it is.
 *
 * An error is never lost. As Python calls threading.excepthook, a thread
 * whose function fails is reported to the unhandled-error hook
 * (weft/error.h) on that thread, as it ends, before any join returns. A
 * thread started with `collect_error` instead keeps its error for
 * weft_thread_error; it is reported only if every handle to the thread is
 * freed with the error unread.
 *
 * Handles: weft_thread_start gives one; weft_thread_ref and
 * weft_thread_enumerate give more. Each is released with weft_thread_free;
 * the thread runs on whatever happens to its handles. The main thread's
 * handle (weft_thread_main) is static: freeing it does nothing.
 *
 * A child made by fork() has only the forking thread: its exit does not wait
 * for threads of the parent. */
#ifndef WEFT_THREAD_H
#define WEFT_THREAD_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_thread weft_thread;

/* Whether a thread is joined at process exit. The zero value is Python's
 * daemon=None: the new thread takes the flag of the thread that starts it
 * (the main thread, and threads weft did not start, are not daemons). true
 * converts to WEFT_DAEMON_YES. */
typedef enum weft_daemon {
    WEFT_DAEMON_INHERIT = 0,
    WEFT_DAEMON_YES = 1, /* not joined at exit */
    WEFT_DAEMON_NO = 2,  /* joined at exit */
} weft_daemon;

/* Options; {0} is Python's defaults. */
typedef struct weft_thread_opts {
    const char *name;   /* copied; NULL: "Thread-N". The OS sees the first 15 bytes. */
    weft_daemon daemon; /* 0: the starting thread's flag */
    size_t stack_size;  /* bytes; 0: weft_thread_stack_size(); rounded up to the minimum */
    /* false (Python): a failure is reported to the hook as the thread ends.
     * true: the creator reads it with weft_thread_error after joining; it is
     * reported only when the last handle is freed with it unread. */
    bool collect_error;
} weft_thread_opts;

/* Starts fn(arg) on a new thread (Python's Thread(...).start()). opts may be
 * NULL. On success stores the handle in *out (owned by the caller: free it
 * with weft_thread_free) and returns 0; else EINVAL (out or fn NULL, a
 * daemon value out of range), ENOMEM, EAGAIN (the system refused another
 * thread), and *out is untouched. Does not block. */
WEFT_API int weft_thread_start(weft_thread **out, weft_fn *fn, void *arg,
                               const weft_thread_opts *opts);

/* Waits for t to end (Python's join(timeout)): fn has returned, a failure
 * has been reported (unless collect_error) and the thread's weft_local
 * values have been destroyed. Returns 0 when it has ended (whether it
 * succeeded or failed: see weft_thread_error), ETIMEDOUT when the timeout
 * passed first, EDEADLK when t is the calling thread, EINVAL for a NULL t or
 * a bad timeout, ECANCELED when the calling task was cancelled. Blocks. Any
 * number of threads may join the same thread. The main thread's handle never
 * ends: joining it times out, or waits forever. */
WEFT_API int weft_thread_join(weft_thread *t, double timeout);

/* True from start until the thread has ended (fn returned, its weft_local
 * values destroyed); always true for the main thread; false for NULL. Never
 * blocks. */
WEFT_API bool weft_thread_is_alive(const weft_thread *t);

/* The thread's name (valid as long as t): the one it was started with, even
 * if the thread renamed itself with weft_thread_set_current_name;
 * "MainThread" for the main thread; "" for NULL. Never NULL, never blocks. */
WEFT_API const char *weft_thread_name(const weft_thread *t);

/* The thread's OS id (Linux TID, as in top -H and gdb; Python's native_id);
 * 0 until the thread has started running, and for NULL. Never blocks. */
WEFT_API unsigned long weft_thread_ident(const weft_thread *t);

/* What fn stored through its result pointer; NULL while alive, if it
 * failed, and for NULL. weft does not own it. Never blocks. */
WEFT_API void *weft_thread_result(const weft_thread *t);

/* The thread's error: its code (0 if it succeeded or is still running), and
 * through `message` (may be NULL) its text, valid as long as t (NULL when the
 * code is 0). EINVAL (message NULL) for a NULL t. Reading the error of an
 * ended thread marks it handled, so freeing the last handle of a
 * collect_error thread will not report it. Never blocks (beyond a mutex). */
WEFT_API int weft_thread_error(weft_thread *t, const char **message);

/* Releases one handle. NULL-safe; a no-op on the main thread's handle. If
 * the thread still runs, it goes on (detached once its last handle is
 * gone); a non-daemon detached thread is still joined at exit. For a
 * collect_error thread whose last handle this is: if it ended with an error
 * nobody read, the error goes to the hook now; if it still runs, a failure
 * goes to the hook when it ends. Never blocks (beyond the hook). */
WEFT_API void weft_thread_free(weft_thread *t);

/* Returns a new handle to t (t itself), to be released with
 * weft_thread_free: how a borrowed handle (weft_thread_current) is kept
 * past the calling thread's end. NULL for NULL. Never blocks. */
WEFT_API weft_thread *weft_thread_ref(weft_thread *t);

/* True when t is a daemon thread (Python's t.daemon): it was started with
 * WEFT_DAEMON_YES, or inherited the flag. False for the main thread and
 * NULL. Never blocks. */
WEFT_API bool weft_thread_is_daemon(const weft_thread *t);

/* The calling thread's handle (Python's threading.current_thread()),
 * borrowed: valid while the calling thread runs (weft_thread_ref keeps it
 * longer). The main thread gets weft_thread_main(); a thread weft did not
 * start (a raw pthread, an executor worker) gets NULL, where Python would
 * make a dummy. Never blocks. */
WEFT_API weft_thread *weft_thread_current(void);

/* The main thread's handle (Python's threading.main_thread()): static, valid
 * for the life of the process, never ends. The main thread is the process's
 * first thread (its TID is the process id; in a child made by fork(), the
 * thread that forked). Never NULL, never blocks. */
WEFT_API weft_thread *weft_thread_main(void);

/* Python's threading.enumerate(): stores in out[0 .. cap) a new handle to
 * each thread alive now, the main thread first, then weft threads in the
 * order they started (threads weft did not start are not listed). Returns
 * how many threads are alive: when that exceeds cap, only cap were stored
 * (ask again with a larger array). Free each stored handle with
 * weft_thread_free. out may be NULL when cap is 0. A snapshot: threads may
 * start and end meanwhile. Never blocks (beyond a mutex). */
WEFT_API size_t weft_thread_enumerate(weft_thread **out, size_t cap);

/* Python's threading.active_count(): the main thread plus the weft threads
 * alive now (the count weft_thread_enumerate returns). Never blocks (beyond
 * a mutex). */
WEFT_API size_t weft_thread_active_count(void);

/* The calling thread's name: its weft name, "MainThread" for the process's
 * first thread, "Dummy-<tid>" for other threads weft did not start. Valid
 * until the thread ends or renames itself. Never NULL, never blocks. */
WEFT_API const char *weft_thread_current_name(void);

/* Renames the calling thread (copied; the OS sees the first 15 bytes), as
 * weft_thread_current_name and the OS see it; weft_thread_name keeps the
 * start name. Returns 0, EINVAL (NULL), ENOMEM, or EAGAIN (first call in the
 * process only: no thread-local key left). */
WEFT_API int weft_thread_set_current_name(const char *name);

/* The calling thread's OS id (Linux TID). Never blocks. The same as
 * weft_thread_get_native_id, under its older name. */
WEFT_API unsigned long weft_thread_current_ident(void);

/* Python's threading.get_native_id(): the calling thread's OS id (Linux
 * TID), as weft_thread_ident gives for a handle. Never 0, never blocks. */
WEFT_API unsigned long weft_thread_get_native_id(void);

/* Python's threading.get_ident(): a nonzero number for the calling thread,
 * unique among all threads of the process for its whole life (unlike a TID
 * or a pthread_t, never reused after a thread ends), so it can key a map of
 * per-thread data. Any thread, weft's or not. Never blocks. */
WEFT_API unsigned long long weft_thread_get_ident(void);

/* Python's threading.stack_size(): the stack size, in bytes, of threads
 * started from now on without an explicit stack_size (weft threads and
 * timers). 0 is the system default. Never blocks. */
WEFT_API size_t weft_thread_stack_size(void);

/* Sets that default (Python's threading.stack_size(size)): 0 restores the
 * system default; other sizes are rounded up to a whole number of pages.
 * Returns 0, or EINVAL when size is below the system minimum
 * (PTHREAD_STACK_MIN; Python's ValueError) or too large to round; the
 * default is then unchanged. Threads already started keep their stacks.
 * Never blocks. */
WEFT_API int weft_thread_set_stack_size(size_t size);

#ifdef __cplusplus
}
#endif
#endif
