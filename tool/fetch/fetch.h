/* fetch.h: the engine of `weft fetch` (and `weft demo`): options, argument
 * parsing, and one run of a URL list on an executor of N workers.
 *
 * DESIGN: the input is never held whole: URLs are read one at a time by
 * weft_map's source callback on the draining thread, and the map's
 * buffersize bounds how many are in flight, so a list of a million lines
 * costs as much memory as a list of a hundred. Each URL is one task that
 * never fails in weft's sense: its outcome, good or bad, is a fetch_result
 * row, so a bad URL is reported and the run goes on. */
#ifndef WEFT_TOOL_FETCH_H
#define WEFT_TOOL_FETCH_H

#include "output/report.h"
#include "output/timeline.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>

typedef struct fetch_opts {
    unsigned jobs;          /* -j, workers */
    double timeout;         /* --timeout, seconds per attempt; 0: none */
    double connect_timeout; /* --connect-timeout */
    unsigned retries;       /* --retries */
    unsigned per_host;      /* --per-host, 0: unlimited */
    double rate;            /* --rate, requests/s; 0: unlimited */
    report_format format;   /* --json, --csv, else the table */
    const char *outdir;     /* -o DIR */
    const char *user_agent; /* --user-agent */
    bool compare;           /* --compare */
    bool timeline;          /* --timeline */
    const char *trace;      /* --trace FILE */
    const char *input;      /* -i FILE ("-": stdin) */
    bool quiet;             /* -q: no rows, no progress bar */
    long long max_bytes;    /* --max-bytes: a longer body is an error; 0: no limit */
    bool no_compressed;     /* --no-compressed: no Accept-Encoding */
    char **urls;            /* the URL arguments (borrowed from argv) */
    size_t nurls;
} fetch_opts;

#define FETCH_DEFAULT_JOBS     8
#define FETCH_DEFAULT_PER_HOST 0 /* only -j limits: the user gave the URL list */
#define FETCH_DEFAULT_RETRIES  2
#define FETCH_DEFAULT_TIMEOUT  30.0

/* Exit status after Ctrl-C (128 + SIGINT, as shells report it). */
#define FETCH_EXIT_INTERRUPTED 130

void fetch_opts_default(fetch_opts *o);

/* Parses `weft fetch` arguments (argv[0] is "fetch"). Returns 0 to run, 1
 * when --help was printed to `out` (exit 0), 2 after printing a usage error
 * to `err` (exit 2). */
int fetch_parse_args(int argc, char **argv, fetch_opts *o, FILE *out, FILE *err);

/* What one run did. */
typedef struct fetch_run_result {
    report_stats stats;
    bool interrupted;
    int error;     /* a failure of the run itself (input unreadable...), or 0 */
    int out_errno; /* the first write error on the rows (the run stopped), or 0 */
    bool out_failed;
} fetch_run_result;

/* Where a run's output goes. */
typedef struct fetch_sinks {
    FILE *rows;    /* per-URL rows, NULL: none */
    bool progress; /* draw a progress bar on stderr */
    size_t total;  /* inputs expected, for the bar's ETA; 0: unknown */
    timeline *tl;  /* may be NULL */
    trace *tr;     /* may be NULL */
    int trace_pid;
} fetch_sinks;

/* Runs the job of o with `workers` workers, saving into outdir when o->outdir
 * is set and `save` is true. The input is o->urls, or the stream `in`
 * (rewound by the caller between runs). */
int fetch_run(const fetch_opts *o, unsigned workers, bool save, FILE *in, const fetch_sinks *sk,
              fetch_run_result *res);

/* fetch's stop flag: `weft fetch` points Ctrl-C at it (cli/stop.h); every
 * transfer and wait of a run polls it. */
extern atomic_bool fetch_stop;

#endif
