/* timeline.h: who did what when: per-worker timelines of a fetch run, as
 * ASCII (`--timeline`, the seeds' diagrams) and as Chrome Trace Event JSON
 * (`--trace FILE`, opened by Perfetto or chrome://tracing).
 *
 * DESIGN: each result already carries its worker index and its start and
 * end times, and every result passes through the one thread that drains the
 * run, so recording is an append on that thread: no lock. The ASCII timeline
 * needs every span and keeps them (only with --timeline); the trace is
 * streamed to its file as results arrive, so it costs no memory. A trace
 * holds one process per run (pid 1 sequential, pid 2 threaded under
 * --compare) and one track (tid) per worker. */
#ifndef WEFT_TOOL_TIMELINE_H
#define WEFT_TOOL_TIMELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct tl_span {
    double start, end; /* seconds since the run started */
    int worker;        /* -1: not run on a worker */
    bool ok;
    char label[64]; /* a short name: the URL's path */
} tl_span;

typedef struct timeline {
    tl_span *spans;
    size_t n, cap;
    int workers; /* highest worker index seen + 1 */
} timeline;

void timeline_init(timeline *t);
/* Appends a span; returns 0 or ENOMEM. */
int timeline_add(timeline *t, double start, double end, int worker, bool ok, const char *url);
void timeline_free(timeline *t);

/* Prints the timeline over [0, wall]: with at most 12 requests, one line per
 * request as in the seeds ("t=0.00s fetch /a ───► done at t=0.10s");
 * otherwise one row per worker, `width` columns of time, '#' busy, 'x' a
 * failed request, '.' idle; at most `max_rows` rows, then a count of the
 * rest. */
void timeline_render(const timeline *t, double wall, unsigned width, unsigned max_rows, FILE *out);

/* The path part of url, at most n - 1 bytes, for labels. */
void timeline_label(char *buf, size_t n, const char *url);

typedef struct trace {
    FILE *f;
    bool first;
} trace;

/* Opens path and writes the head of the JSON. Returns 0 or an errno. */
int trace_open(trace *t, const char *path);
/* Names process `pid` (a run) in the viewer. */
void trace_process(trace *t, int pid, const char *name);
/* Names a worker's track, once per worker seen. */
void trace_thread(trace *t, int pid, int worker);
/* One request as a complete ("ph":"X") event on its worker's track. */
void trace_span(trace *t, int pid, int worker, double start, double end, const char *url,
                long status, const char *error);
/* Ends the JSON and closes. Returns 0 or an errno from writing. */
int trace_close(trace *t);

#endif
