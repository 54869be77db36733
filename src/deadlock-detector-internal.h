/* deadlock-detector-internal.h: what the detector's three files share
 * (deadlock.c: mode, hook, reports; deadlock-order.c: the lock-order graph;
 * deadlock-waitfor.c: the wait-for graph) and nothing else needs. The
 * primitives' side of the detector is deadlock-internal.h. */
#ifndef WEFT_DEADLOCK_DETECTOR_INTERNAL_H
#define WEFT_DEADLOCK_DETECTOR_INTERNAL_H

#include "deadlock-internal.h"

/* A thread's name in a report, with its terminating NUL. */
#define WEFT__DL_NAME_SIZE 48

/* Bumped when the detector is turned on, so held stacks from an earlier
 * "on" period (stale: releases made while off were not seen) are dropped. */
extern atomic_uint weft__dl_generation;

/* The hook is running on this thread: its own reports go to stderr, and
 * the locks it takes are not checked. */
extern _Thread_local bool weft__dl_in_report;

/* A report being written. The buffer is allocated at the first line, so
 * the common path (no cycle) costs no memory and no thread carries one. */
typedef struct weft__dl_text {
    char *buf;
    size_t len;
    bool started; /* a line was put, even if memory was short for it */
} weft__dl_text;

/* Appends a line (printf-like) to r; a report too long is cut with "...". */
void WEFT_PRINTF(2, 3) weft__dl_put(weft__dl_text *r, const char *fmt, ...);
/* Emits r (if anything was put) to the hook or stderr, and frees it. */
void weft__dl_send(weft__dl_text *r);

/* The file name of a path (after its last '/'). */
const char *weft__dl_base_name(const char *path);
/* "sym+0x1c", "prog+0x1234" (for addr2line -e prog), or the raw address. */
void weft__dl_fmt_pc(char *buf, size_t n, const void *pc);
/* weft's name for the calling thread; for a thread weft did not start
 * ("Dummy-N"), the OS name, which pthread_setname_np may have set. */
void weft__dl_thread_name(char *buf, size_t n);

/* The name of o's class ("?" when the class table is full or memory short).
 * Takes the lock-order graph's mutex the first time o is met. */
const char *weft__dl_class_name(weft__dl_obj *o);

#endif
