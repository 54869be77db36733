/* frontier.c: the frontier interface: each verb goes to its backend's ops
 * table (frontier-impl.h); the names and the hash every backend shares. */
#include "crawl/frontier-impl.h"

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const skip_names[SKIP_N] = {
    "", "robots", "depth", "off-site", "duplicate", "limit", "filtered", "scheme", "too-long"};

const char *crawl_skip_name(crawl_skip s)
{
    return (unsigned)s < SKIP_N ? skip_names[s] : "?";
}

crawl_skip crawl_skip_from_name(const char *s)
{
    for (int i = 1; i < SKIP_N; i++)
        if (strcmp(s, skip_names[i]) == 0)
            return (crawl_skip)i;
    return SKIP_N;
}

unsigned long long frontier_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

void frontier_free(frontier *f)
{
    if (f)
        f->ops->free(f);
}

int frontier_seed(frontier *f, const char *url)
{
    return f->ops->seed(f, url);
}

int frontier_next(frontier *f, frontier_item *it)
{
    return f->ops->next(f, it);
}

int frontier_add_links(frontier *f, frontier_item *it, frontier_link *links, size_t n)
{
    return f->ops->add_links(f, it, links, n);
}

frontier_claim_result frontier_claim(frontier *f, frontier_item *it, const char *url)
{
    return f->ops->claim(f, it, url);
}

bool frontier_mark(frontier *f, frontier_item *it, const char *s)
{
    return f->ops->mark(f, it, s);
}

int frontier_records(frontier *f, frontier_item *it, const crawl_record *recs, size_t n)
{
    return f->ops->records(f, it, recs, n);
}

void frontier_page_done(frontier *f, frontier_item *it)
{
    f->ops->page_done(f, it);
}

void frontier_retry(frontier *f, frontier_item *it, double delay)
{
    f->ops->retry(f, it, delay);
}

void frontier_giveback(frontier *f, frontier_item *it)
{
    f->ops->giveback(f, it);
}

void frontier_skip_done(frontier *f, frontier_item *it)
{
    f->ops->skip_done(f, it);
}

void frontier_robots_done(frontier *f, frontier_item *it, robots *rb, long status, const char *body,
                          size_t len)
{
    f->ops->robots_done(f, it, rb, status, body, len);
}

void frontier_stats_get(frontier *f, frontier_stats *out)
{
    f->ops->stats(f, out);
}

const char *frontier_error(frontier *f)
{
    return f->ops->error(f);
}

int frontier_sync(frontier *f)
{
    return f->ops->sync ? f->ops->sync(f) : 0;
}

/* ---------------------------------------- what the local backends share */

void frontier_gate_init(frontier_gate *g, bool robots_on, double min_delay)
{
    *g = (frontier_gate){.rs = robots_on ? R_UNKNOWN : R_READY, .delay = min_delay};
}

frontier_gate_says frontier_gate_check(frontier_gate *g, frontier_window *w, unsigned per_host,
                                       double now, double *wake)
{
    if (per_host && g->active >= per_host)
        return GATE_SHUT;
    if (now < g->next_start) {
        if (g->next_start < *wake)
            *wake = g->next_start;
        return GATE_SHUT;
    }
    if (g->rs == R_UNKNOWN) {
        g->rs = R_FETCHING;
        g->active++;
        w->robots_inflight++;
        return GATE_ROBOTS;
    }
    return GATE_OPEN;
}

void frontier_gate_start(frontier_gate *g, frontier_window *w, unsigned level, double now)
{
    g->active++;
    w->inflight[level % FRONTIER_NQ]++;
    g->next_start = now + g->delay;
}

void frontier_gate_end(frontier_gate *g, frontier_window *w, unsigned level)
{
    g->active--;
    w->inflight[level % FRONTIER_NQ]--;
}

void frontier_gate_pause(frontier_gate *g, double until)
{
    if (until > g->next_start)
        g->next_start = until;
}

void frontier_gate_robots_done(frontier_gate *g, frontier_window *w, double crawl_delay)
{
    g->rs = R_READY;
    if (crawl_delay > g->delay)
        g->delay = crawl_delay;
    /* The robots.txt request counts as the host's first, for --delay too
     * (counted from its end: never sooner than asked). */
    double now = weft_monotonic();
    if (g->delay > 0 && now + g->delay > g->next_start)
        g->next_start = now + g->delay;
    g->active--;
    w->robots_inflight--;
}

void frontier_window_advance(frontier_window *w)
{
    for (;;) {
        unsigned k = w->cur % FRONTIER_NQ;
        if (w->queued[k] || w->inflight[k])
            return;
        bool later = false;
        for (unsigned j = 1; j < FRONTIER_NQ; j++) {
            unsigned kk = (w->cur + j) % FRONTIER_NQ;
            later |= w->queued[kk] || w->inflight[kk];
        }
        if (!later)
            return;
        w->cur++;
    }
}

bool frontier_window_idle(const frontier_window *w)
{
    for (int k = 0; k < FRONTIER_NQ; k++)
        if (w->queued[k] || w->inflight[k])
            return false;
    return w->robots_inflight == 0;
}

void frontier_window_wake(frontier_window *w, weft_cond *cond, unsigned old_cur, bool slot_freed,
                          unsigned per_host)
{
    frontier_window_advance(w);
    if (w->cur != old_cur || frontier_window_idle(w)) {
        /* A new level entered the window (many items at once), or the
         * crawl is over (everyone must see it). */
        weft_cond_notify_all(cond);
    } else if (slot_freed && per_host) {
        /* A host under its limit again: the caller may pick another
         * host's item, so wake one more for this one. */
        weft_cond_notify(cond, 1);
    }
}

bool frontier_stopped(const frontier_opts *o)
{
    return (o->stop && atomic_load(o->stop)) || weft_cancelled();
}

void frontier_lock(weft_lock *l)
{
    for (;;) {
        int rc = weft_lock_acquire(l, WEFT_FOREVER);
        if (rc == 0)
            return;
        if (rc != ECANCELED) {
            fprintf(stderr, "weft crawl: frontier lock: %s\n", weft_strerror(rc));
            abort();
        }
        if (weft_lock_acquire(l, 0) == 0)
            return;
        sched_yield();
    }
}
