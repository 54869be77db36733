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
#include "fetch/fetch.h"
#include "commands.h"
#include "http/hostlimit.h"
#include "http/http.h"
#include "http/retry.h"

#include <weft.h>

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
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

atomic_bool fetch_stop;

static void on_signal(int sig)
{
    atomic_store(&fetch_stop, true);
}

void fetch_install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* The second Ctrl-C gets the default action: a stuck run can always be
     * killed from the keyboard. No SA_RESTART: a read of a stalled stdin on
     * the draining thread must return (EINTR) so the run can end. Workers
     * block these signals (block_signals), so the draining thread gets them. */
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void fetch_opts_default(fetch_opts *o)
{
    memset(o, 0, sizeof *o);
    o->jobs = FETCH_DEFAULT_JOBS;
    o->timeout = FETCH_DEFAULT_TIMEOUT;
    o->connect_timeout = 10;
    o->retries = FETCH_DEFAULT_RETRIES;
    o->per_host = FETCH_DEFAULT_PER_HOST;
}

static const char usage_text[] =
    "usage: weft fetch [options] URL...\n"
    "       weft fetch [options] -i FILE      (one URL per line; '-' reads stdin)\n"
    "\n"
    "Downloads the URLs concurrently and prints one row per URL (status, bytes,\n"
    "time, attempts) as they finish, then a summary.\n"
    "\n"
    "options:\n"
    "  -j, --jobs N             workers (default 8)\n"
    "  -i, --input FILE         read URLs from FILE, lazily ('-': stdin)\n"
    "  -o, --output-dir DIR     save bodies in DIR under safe, unique names\n"
    "      --timeout S          per-attempt time limit in seconds (default 30; 0: none)\n"
    "      --connect-timeout S  connection time limit in seconds (default 10)\n"
    "      --retries N          retries of timeouts, connection errors, 408, 429, 5xx\n"
    "                           with backoff and Retry-After (default 2)\n"
    "      --per-host N         requests in flight per host (default 6; 0: no limit)\n"
    "      --rate R             start at most R requests per second\n"
    "      --json               JSON lines (summary on stderr)\n"
    "      --csv                CSV with a header row (summary on stderr)\n"
    "      --user-agent S       the User-Agent header\n"
    "      --compare            run with 1 worker, then with N; print the speedup\n"
    "                           (rows and -o files come from the second run)\n"
    "      --timeline           print a per-worker timeline after the run\n"
    "      --trace FILE         write a Chrome Trace Event file (open in Perfetto)\n"
    "  -q, --quiet              no per-URL rows and no progress bar\n"
    "  -h, --help               this text\n"
    "\n"
    "Exit status: 0 all succeeded, 1 some failed (an HTTP status >= 400 after\n"
    "retries counts as a failure), 2 bad usage, 130 interrupted by Ctrl-C (the\n"
    "partial summary is still printed; a second Ctrl-C kills at once).\n";

enum {
    OPT_TIMEOUT = 256,
    OPT_CONNECT_TIMEOUT,
    OPT_RETRIES,
    OPT_PER_HOST,
    OPT_RATE,
    OPT_JSON,
    OPT_CSV,
    OPT_USER_AGENT,
    OPT_COMPARE,
    OPT_TIMELINE,
    OPT_TRACE,
};

static const struct option long_opts[] = {
    {"jobs", required_argument, NULL, 'j'},
    {"input", required_argument, NULL, 'i'},
    {"output-dir", required_argument, NULL, 'o'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
    {"retries", required_argument, NULL, OPT_RETRIES},
    {"per-host", required_argument, NULL, OPT_PER_HOST},
    {"rate", required_argument, NULL, OPT_RATE},
    {"json", no_argument, NULL, OPT_JSON},
    {"csv", no_argument, NULL, OPT_CSV},
    {"user-agent", required_argument, NULL, OPT_USER_AGENT},
    {"compare", no_argument, NULL, OPT_COMPARE},
    {"timeline", no_argument, NULL, OPT_TIMELINE},
    {"trace", required_argument, NULL, OPT_TRACE},
    {NULL, 0, NULL, 0},
};

int fetch_parse_args(int argc, char **argv, fetch_opts *o, FILE *out, FILE *err)
{
    fetch_opts_default(o);
    bool json = false, csv = false;
    opterr = 0;
    optind = 0; /* glibc: start afresh, so tests can parse twice */
    int c, idx;
    while ((c = getopt_long(argc, argv, ":j:i:o:qh", long_opts, &idx)) != -1) {
        switch (c) {
        case 'j':
            if (!args_uint(optarg, 1, 4096, &o->jobs))
                return args_usage_error(
                    err, "fetch", "-j wants a number of workers from 1 to 4096, not '%s'", optarg);
            break;
        case 'i':
            o->input = optarg;
            break;
        case 'o':
            o->outdir = optarg;
            break;
        case 'q':
            o->quiet = true;
            break;
        case 'h':
            fputs(usage_text, out);
            return 1;
        case OPT_TIMEOUT:
            if (!args_seconds(optarg, &o->timeout))
                return args_usage_error(err, "fetch",
                                        "--timeout wants seconds (e.g. 2.5), not '%s'", optarg);
            break;
        case OPT_CONNECT_TIMEOUT:
            if (!args_seconds(optarg, &o->connect_timeout))
                return args_usage_error(err, "fetch", "--connect-timeout wants seconds, not '%s'",
                                        optarg);
            break;
        case OPT_RETRIES:
            if (!args_uint(optarg, 0, 100, &o->retries))
                return args_usage_error(err, "fetch",
                                        "--retries wants a number from 0 to 100, not '%s'", optarg);
            break;
        case OPT_PER_HOST:
            if (!args_uint(optarg, 0, 100000, &o->per_host))
                return args_usage_error(
                    err, "fetch", "--per-host wants a number (0: no limit), not '%s'", optarg);
            break;
        case OPT_RATE:
            if (!args_seconds(optarg, &o->rate) || o->rate == 0)
                return args_usage_error(
                    err, "fetch", "--rate wants requests per second above 0, not '%s'", optarg);
            break;
        case OPT_JSON:
            json = true;
            break;
        case OPT_CSV:
            csv = true;
            break;
        case OPT_USER_AGENT:
            o->user_agent = optarg;
            break;
        case OPT_COMPARE:
            o->compare = true;
            break;
        case OPT_TIMELINE:
            o->timeline = true;
            break;
        case OPT_TRACE:
            o->trace = optarg;
            break;
        case ':':
            return args_usage_error(err, "fetch", "option '%s' needs a value", argv[optind - 1]);
        default:
            return args_usage_error(err, "fetch", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (json && csv)
        return args_usage_error(err, "fetch", "%s", "--json and --csv exclude each other");
    o->format = json ? REPORT_JSON : csv ? REPORT_CSV : REPORT_TABLE;
    o->urls = argv + optind;
    o->nurls = (size_t)(argc - optind);
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
            if (!in) {
                fprintf(stderr, "weft fetch: %s: %s\n", o.input, strerror(errno));
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
    fetch_install_signals();
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
    if (o.trace) {
        int trc = trace_close(&tr);
        if (trc)
            fprintf(stderr, "weft fetch: --trace %s: %s\n", o.trace, strerror(trc));
        else
            fprintf(info, "Trace written to %s (open it in https://ui.perfetto.dev)\n", o.trace);
    }
    timeline_free(&tl1);
    timeline_free(&tl2);
out:
    if (close_in)
        fclose(in);
    return rc;
}
