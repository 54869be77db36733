/* cli/fetch.c: `weft fetch`: download many URLs concurrently on a weft executor.
 *
 * DESIGN: see fetch.h. One thread (the caller of fetch_run) reads the input,
 * drains results in completion order through weft_map (unordered), prints
 * rows, draws the progress bar and records the timeline; the workers only
 * fetch. Nothing is shared between workers but the http client (its share
 * handle is locked by curl's callbacks) and the host limiter (its own lock).
 * Ctrl-C sets fetch_stop: the source stops reading, pending tasks are
 * cancelled (weft_executor_shutdown with cancel_futures), running transfers
 * abort from curl's progress callback, and the map is drained so the
 * summary still counts everything that happened. */
#include "cli/args.h"
#include "cli/stop.h"
#include "fetch/fetch.h"
#include "commands.h"
#include "http/hostlimit.h"
#include "http/http.h"
#include "http/retry.h"

#include <weft.h>

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

void fetch_opts_default(fetch_opts *o)
{
    memset(o, 0, sizeof *o);
    o->jobs = FETCH_DEFAULT_JOBS;
    o->timeout = FETCH_DEFAULT_TIMEOUT;
    o->connect_timeout = 10;
    o->retries = FETCH_DEFAULT_RETRIES;
    o->per_host = FETCH_DEFAULT_PER_HOST;
}

static const char usage_head[] =
    "usage: weft fetch [options] URL...\n"
    "       weft fetch [options] -i FILE      (one URL per line; '-' reads stdin)\n"
    "\n"
    "Downloads the URLs concurrently and prints one row per URL (status, bytes,\n"
    "time, attempts) as they finish, then a summary.\n";

static const char usage_tail[] =
    "Exit status: 0 all succeeded, 1 some failed (an HTTP status >= 400 after\n"
    "retries counts as a failure), 2 bad usage, 3 the output could not be written\n"
    "(the run stops), 130 interrupted by Ctrl-C (the partial summary is still\n"
    "printed; a second Ctrl-C kills at once).\n";

int fetch_parse_args(int argc, char **argv, fetch_opts *o, FILE *out, FILE *err)
{
    fetch_opts_default(o);
    bool json = false, csv = false;
    const args_opt opts[] = {
        {"jobs", 'j', ARGS_UINT, &o->jobs, 1, 4096, 0, 0, false, "N", "workers (default 8)"},
        {"input", 'i', ARGS_STRING, &o->input, 0, 0, 0, 0, false, "FILE",
         "read URLs from FILE, lazily ('-': stdin)"},
        {"output-dir", 'o', ARGS_STRING, &o->outdir, 0, 0, 0, 0, false, "DIR",
         "save bodies in DIR (made if missing) under safe, unique\n"
         "names; a failed URL leaves no file"},
        {"timeout", 0, ARGS_SECONDS, &o->timeout, 0, 0, 0, 1e6, false, "S",
         "per-attempt time limit in seconds (default 30; 0: none)"},
        {"connect-timeout", 0, ARGS_SECONDS, &o->connect_timeout, 0, 0, 0, 1e6, false, "S",
         "connection time limit in seconds (default 10)"},
        {"retries", 0, ARGS_UINT, &o->retries, 0, 100, 0, 0, false, "N",
         "retries of timeouts, connection errors, 408, 429, 5xx\n"
         "with backoff and Retry-After (default 2)"},
        {"per-host", 0, ARGS_UINT, &o->per_host, 0, 100000, 0, 0, false, "N",
         "requests in flight per host (default 0: no limit but -j,\n"
         "as curl -Z; set it to be polite to one host)"},
        {"max-bytes", 0, ARGS_BYTES, &o->max_bytes, 1, 1ull << 50, 0, 0, false, "SIZE",
         "fail a URL whose body (decoded) passes SIZE bytes (K, M, G,\n"
         "T suffixes); its partial file is removed (default: no limit)"},
        {"no-compressed", 0, ARGS_FLAG, &o->no_compressed, 0, 0, 0, 0, false, NULL,
         "do not ask for compressed bodies (default: ask for\n"
         "every encoding this libcurl decodes, and decode them)"},
        {"rate", 0, ARGS_REAL, &o->rate, 0, 0, 0, 1e6, true, "R",
         "start at most R requests per second"},
        {"json", 0, ARGS_FLAG, &json, 0, 0, 0, 0, false, NULL, "JSON lines (summary on stderr)"},
        {"csv", 0, ARGS_FLAG, &csv, 0, 0, 0, 0, false, NULL,
         "CSV with a header row (summary on stderr)"},
        {"user-agent", 0, ARGS_STRING, &o->user_agent, 0, 0, 0, 0, false, "S",
         "the User-Agent header"},
        {"compare", 0, ARGS_FLAG, &o->compare, 0, 0, 0, 0, false, NULL,
         "run with 1 worker, then with N; print the speedup\n"
         "(rows and -o files come from the second run)"},
        {"timeline", 0, ARGS_FLAG, &o->timeline, 0, 0, 0, 0, false, NULL,
         "print a per-worker timeline after the run"},
        {"trace", 0, ARGS_STRING, &o->trace, 0, 0, 0, 0, false, "FILE",
         "write a Chrome Trace Event file (open in Perfetto)"},
        {"quiet", 'q', ARGS_FLAG, &o->quiet, 0, 0, 0, 0, false, NULL,
         "no per-URL rows and no progress bar"},
        {"help", 'h', ARGS_HELP, NULL, 0, 0, 0, 0, false, NULL, "this text"},
    };
    const args_spec sp = {"fetch", usage_head, usage_tail, opts, sizeof opts / sizeof opts[0],
                          0,       SIZE_MAX,   "URLs"};
    size_t nops = 0;
    int rc = args_parse(&sp, argc, argv, &nops, out, err);
    if (rc != 0)
        return rc;
    if (json && csv)
        return args_usage_error(err, "fetch", "%s", "--json and --csv exclude each other");
    o->format = json ? REPORT_JSON : csv ? REPORT_CSV : REPORT_TABLE;
    o->urls = argv + 1;
    o->nurls = nops;
    if (o->input && o->nurls > 0)
        return args_usage_error(err, "fetch", "%s", "give URLs or -i FILE, not both");
    if (!o->input && o->nurls == 0)
        return args_usage_error(err, "fetch", "%s", "no URLs given");
    return 0;
}

/* ------------------------------------------------------------ command */

/* Back to the start, for stdio and for the raw reads of next_line: rewind
 * alone may only move within stdio's buffer. */
static void rewind_all(FILE *f)
{
    rewind(f);
    lseek(fileno(f), 0, SEEK_SET);
}

/* Counts the URLs a regular file holds, for the progress bar's total and
 * ETA, without keeping any of them. 0 when unknown. */
static size_t count_lines(FILE *f)
{
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode))
        return 0;
    size_t n = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) >= 0) {
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p && *p != '\n' && *p != '\r' && *p != '#')
            n++;
    }
    free(line);
    rewind_all(f);
    return n;
}

/* Copies a stream that cannot be rewound (stdin) to an unnamed temporary
 * file, for the second run of --compare. */
static FILE *spool(FILE *in)
{
    FILE *t = tmpfile();
    if (!t)
        return NULL;
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, t) != n) {
            fclose(t);
            return NULL;
        }
    fflush(t);
    rewind_all(t);
    return t;
}

static int exit_status(const fetch_run_result *r)
{
    if (r->interrupted)
        return FETCH_EXIT_INTERRUPTED;
    return r->error || r->stats.failed > 0 ? 1 : 0;
}

int cmd_fetch(int argc, char **argv)
{
    fetch_opts o;
    int rc = fetch_parse_args(argc, argv, &o, stdout, stderr);
    if (rc == 1)
        return 0;
    if (rc != 0)
        return 2;

    FILE *in = NULL;
    bool close_in = false;
    if (o.input) {
        if (strcmp(o.input, "-") == 0) {
            in = stdin;
        } else {
            in = fopen(o.input, "r");
            struct stat st;
            if (in && fstat(fileno(in), &st) == 0 && S_ISDIR(st.st_mode)) {
                fclose(in);
                fprintf(stderr, "weft fetch: -i %s: is a directory (give a file of URLs)\n",
                        o.input);
                return 2;
            }
            if (!in) {
                fprintf(stderr, "weft fetch: -i %s: %s\n", o.input, strerror(errno));
                return 2;
            }
            close_in = true;
        }
        if (o.compare && in == stdin) {
            in = spool(stdin);
            if (!in) {
                fprintf(stderr, "weft fetch: cannot spool stdin: %s\n", strerror(errno));
                return 1;
            }
            close_in = true;
        }
    }
    struct stat dst;
    if (o.outdir && ((mkdir(o.outdir, 0755) != 0 && errno != EEXIST) || stat(o.outdir, &dst) != 0 ||
                     !S_ISDIR(dst.st_mode))) {
        fprintf(stderr, "weft fetch: -o %s: %s\n", o.outdir,
                errno == EEXIST ? "not a directory" : strerror(errno));
        rc = 2;
        goto out;
    }
    trace tr = {0};
    if (o.trace && (rc = trace_open(&tr, o.trace)) != 0) {
        fprintf(stderr, "weft fetch: --trace %s: %s\n", o.trace, strerror(rc));
        rc = 2;
        goto out;
    }
    size_t total = in ? count_lines(in) : o.nurls;
    cli_stop_on_signals(&fetch_stop);
    /* Rows own stdout in the machine formats; everything else goes aside. */
    FILE *info = o.format == REPORT_TABLE ? stdout : stderr;
    bool bar = !o.quiet && isatty(2);
    timeline tl1, tl2;
    timeline_init(&tl1);
    timeline_init(&tl2);
    fetch_run_result seq = {0}, thr = {0};

    if (o.compare) {
        if (o.trace)
            trace_process(&tr, 1, "sequential (1 worker)");
        fetch_sinks s1 = {.progress = bar,
                          .total = total,
                          .tl = o.timeline ? &tl1 : NULL,
                          .tr = o.trace ? &tr : NULL,
                          .trace_pid = 1};
        if (bar)
            fprintf(stderr, "sequential run (1 worker)...\n");
        fetch_run(&o, 1, false, in, &s1, &seq);
        report_summary(info, &seq.stats, "Sequential run");
        if (!seq.interrupted && !seq.error) {
            if (in)
                rewind_all(in);
            if (o.trace) {
                char name[64];
                snprintf(name, sizeof name, "threaded (%u workers)", o.jobs);
                trace_process(&tr, 2, name);
            }
            fetch_sinks s2 = {.rows = o.quiet ? NULL : stdout,
                              .progress = bar,
                              .total = total,
                              .tl = o.timeline ? &tl2 : NULL,
                              .tr = o.trace ? &tr : NULL,
                              .trace_pid = 2};
            if (bar)
                fprintf(stderr, "threaded run (%u workers)...\n", o.jobs);
            fetch_run(&o, o.jobs, true, in, &s2, &thr);
            report_summary(info, &thr.stats, "Threaded run");
            if (!thr.interrupted && !thr.error) {
                fputc('\n', info);
                report_compare(info, seq.stats.wall, thr.stats.wall, o.jobs,
                               thr.stats.ok + thr.stats.failed);
            }
        }
        if (o.timeline) {
            fprintf(info, "\nSequential:\n");
            timeline_render(&tl1, seq.stats.wall, 60, 16, info);
            if (tl2.n) {
                fprintf(info, "\nThreaded:\n");
                timeline_render(&tl2, thr.stats.wall, 60, 16, info);
            }
        }
        rc = exit_status(&seq);
        if (rc == 0 || (rc == 1 && exit_status(&thr) == FETCH_EXIT_INTERRUPTED))
            rc = exit_status(&thr);
    } else {
        if (o.trace)
            trace_process(&tr, 1, "weft fetch");
        fetch_sinks s = {.rows = o.quiet ? NULL : stdout,
                         .progress = bar,
                         .total = total,
                         .tl = o.timeline ? &tl2 : NULL,
                         .tr = o.trace ? &tr : NULL,
                         .trace_pid = 1};
        fetch_run(&o, o.jobs, true, in, &s, &thr);
        if (o.format == REPORT_TABLE && !o.quiet)
            fputc('\n', info);
        report_summary(info, &thr.stats, thr.interrupted ? "Interrupted" : "Summary");
        if (o.timeline) {
            fputc('\n', info);
            timeline_render(&tl2, thr.stats.wall, 60, 32, info);
        }
        rc = exit_status(&thr);
    }
    bool out_ok = true;
    if (o.trace) {
        int trc = trace_close(&tr);
        if (trc) {
            fprintf(stderr, "weft fetch: --trace %s: %s\n", o.trace, strerror(trc));
            out_ok = false;
        } else {
            fprintf(info, "Trace written to %s (open it in https://ui.perfetto.dev)\n", o.trace);
        }
    }
    out_ok &= cli_output_ok(stdout, "fetch", "the output", thr.out_failed ? thr.out_errno : 0);
    if (info != stdout)
        out_ok &= cli_output_ok(info, "fetch", "the summary", 0);
    if (!out_ok)
        rc = WEFT_EXIT_OUTPUT;
    timeline_free(&tl1);
    timeline_free(&tl2);
out:
    if (close_in)
        fclose(in);
    return rc;
}
