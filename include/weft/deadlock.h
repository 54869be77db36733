/* weft/deadlock.h: the deadlock detector (what Linux's lockdep and Abseil's
 * Mutex deadlock detection do, for weft's locks).
 *
 * Python's advice is "always acquire locks in the same order, everywhere";
 * nothing checks it. With the detector on, weft records, for every lock a
 * thread takes while holding others, the edge "held -> taken" in a graph
 * whose nodes are lock classes (a lock's name, or the file:line where it was
 * created). An edge that closes a cycle is reported at once, naming the lock
 * classes, the threads and where each edge was first seen, even when this
 * run's timing never deadlocks: two functions that take the same two locks in
 * opposite orders are reported the first time both have run, whether or not
 * they ever overlapped. See docs/deadlock.md for how to read a report.
 *
 * Off by default, at no measurable cost (one relaxed load of a global flag on
 * the uncontended acquire and release). Turn it on with the environment
 * variable WEFT_DEADLOCK=report (report and go on) or WEFT_DEADLOCK=abort
 * (report, then abort()), read once at the first lock operation, or with
 * weft_deadlock_set_mode(), which overrides the environment.
 *
 * What is checked: weft_lock, weft_rlock (re-entry is not an edge),
 * conditions (the lock is dropped while waiting and re-taken after), and
 * blocking semaphore and barrier waits made while holding locks. What is not:
 * two locks of the same class nested inside each other (give them distinct
 * names when their order matters), and try-acquires (timeout 0), which cannot
 * block and so add no edge to the lock they take. */
#ifndef WEFT_DEADLOCK_H
#define WEFT_DEADLOCK_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum weft_deadlock_mode {
    WEFT_DEADLOCK_OFF = 0,    /* no checking (the default) */
    WEFT_DEADLOCK_REPORT = 1, /* report each new cycle, then carry on */
    WEFT_DEADLOCK_ABORT = 2   /* report the first cycle, then abort() */
} weft_deadlock_mode;

/* Sets the detector's mode for the whole process, overriding WEFT_DEADLOCK.
 * Turning it on while threads hold locks is safe, but the locks already held
 * then are not known to it (they produce no edges). Returns 0, or EINVAL for
 * an unknown mode. Never blocks. */
WEFT_API int weft_deadlock_set_mode(weft_deadlock_mode mode);

/* The current mode (after reading WEFT_DEADLOCK if nothing read it yet). */
WEFT_API weft_deadlock_mode weft_deadlock_get_mode(void);

/* Receives each report: several lines of text ending in a newline, valid
 * only during the call. It runs in the thread that found the cycle, before
 * that thread blocks, with no weft lock held; in abort mode abort() follows
 * its return. A report made while the hook runs (the hook taking locks in a
 * bad order) is written to stderr instead. */
typedef void weft_deadlock_hook_fn(const char *report, void *arg);

/* Sends reports to fn(report, arg) instead of stderr; NULL restores stderr.
 * Process-wide. Never blocks for long. */
WEFT_API void weft_deadlock_set_hook(weft_deadlock_hook_fn *fn, void *arg);

#ifdef __cplusplus
}
#endif
#endif
