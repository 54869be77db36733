/* frontier-impl.h: the frontier interface's ops table, for the backends
 * (frontier-memory.c, frontier-sqlite.c) and the dispatch (frontier.c).
 * Each verb is what the frontier_* function of the same name promises. */
#ifndef WEFT_TOOL_FRONTIER_IMPL_H
#define WEFT_TOOL_FRONTIER_IMPL_H

#include "crawl/frontier.h"

#include <weft.h>

typedef struct frontier_ops {
    void (*free)(frontier *f);
    int (*seed)(frontier *f, const char *url);
    int (*next)(frontier *f, frontier_item *it);
    int (*add_links)(frontier *f, frontier_item *it, frontier_link *links, size_t n);
    frontier_claim_result (*claim)(frontier *f, frontier_item *it, const char *url);
    bool (*mark)(frontier *f, frontier_item *it, const char *s);
    int (*records)(frontier *f, frontier_item *it, const crawl_record *recs, size_t n);
    void (*page_done)(frontier *f, frontier_item *it);
    void (*retry)(frontier *f, frontier_item *it, double delay);
    void (*giveback)(frontier *f, frontier_item *it);
    void (*skip_done)(frontier *f, frontier_item *it);
    void (*robots_done)(frontier *f, frontier_item *it, robots *rb, long status, const char *body,
                        size_t len);
    void (*stats)(frontier *f, frontier_stats *out);
    const char *(*error)(frontier *f);
    int (*sync)(frontier *f); /* may be NULL: nothing is ever pending */
} frontier_ops;

/* The two-level depth window of a backend that schedules in this process
 * (memory, SQLite; Redis keeps the same counters in its keys): live items
 * span at most FRONTIER_NQ levels, counted by depth % FRONTIER_NQ. See
 * frontier.h for why the window keeps depths exact. */
#define FRONTIER_NQ 3

typedef struct frontier_window {
    unsigned cur;                 /* lowest level with pages queued or in flight */
    size_t queued[FRONTIER_NQ];   /* live queued items by depth % FRONTIER_NQ */
    size_t inflight[FRONTIER_NQ]; /* pages being fetched by depth % FRONTIER_NQ */
    size_t robots_inflight;       /* robots.txt being fetched */
} frontier_window;

/* Moves cur past finished levels. */
void frontier_window_advance(frontier_window *w);
/* Nothing queued, nothing in flight. */
bool frontier_window_idle(const frontier_window *w);
/* After a page or robots.txt is done (the caller holds the lock of cond):
 * wakes the workers that can now do something the caller, who comes back to
 * frontier_next, cannot do alone. old_cur: cur before the change. */
void frontier_window_wake(frontier_window *w, weft_cond *cond, unsigned old_cur, bool slot_freed,
                          unsigned per_host);

/* A host's politeness, kept the same way by both local backends: its
 * robots.txt state, its requests in flight (robots.txt included), and the
 * monotonic time before which none may start (--delay, Crawl-delay,
 * Retry-After). Under the backend's lock. */
typedef enum frontier_rstate { R_UNKNOWN, R_FETCHING, R_READY } frontier_rstate;

typedef struct frontier_gate {
    frontier_rstate rs;
    unsigned active;
    double next_start; /* monotonic: no request starts before this */
    double delay;      /* between request starts */
} frontier_gate;

typedef enum frontier_gate_says {
    GATE_SHUT,   /* at its per-host cap, or too soon (*wake lowered to when) */
    GATE_ROBOTS, /* robots.txt unknown: the caller hands it out (counted) */
    GATE_OPEN    /* a page may start: frontier_gate_start */
} frontier_gate_says;

void frontier_gate_init(frontier_gate *g, bool robots_on, double min_delay);
/* Whether g lets a request start at now (g->rs is not R_FETCHING: the
 * caller checks that first, with the host's queue). */
frontier_gate_says frontier_gate_check(frontier_gate *g, frontier_window *w, unsigned per_host,
                                       double now, double *wake);
/* A page of `level` starts now. */
void frontier_gate_start(frontier_gate *g, frontier_window *w, unsigned level, double now);
/* A page of `level` that started has ended (done, or back in the queue). */
void frontier_gate_end(frontier_gate *g, frontier_window *w, unsigned level);
/* No request before the monotonic time until (Retry-After). */
void frontier_gate_pause(frontier_gate *g, double until);
/* The host's robots.txt is in (its Crawl-delay: crawl_delay, 0 if none). */
void frontier_gate_robots_done(frontier_gate *g, frontier_window *w, double crawl_delay);

/* o's stop flag is set, or the calling task was cancelled. */
bool frontier_stopped(const frontier_opts *o);
/* Acquires l, also for a cancelled task (the critical sections are short;
 * the caller checks cancellation). */
void frontier_lock(weft_lock *l);

/* Every backend's frontier starts with this. */
struct frontier {
    const frontier_ops *ops;
};

#endif
