/* fetch.c: `weft fetch`: download many URLs concurrently on a weft executor.
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
#include "args.h"
#include "fetch.h"
#include "commands.h"
#include "hostlimit.h"
#include "http.h"
#include "retry.h"

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

/* ------------------------------------------------------------------ run */

typedef struct run {
    const fetch_opts *o;
    http_client *http;
    hostlimit *hl;
    int dirfd;
    double t0;
} run;

typedef struct task {
    run *run;
    size_t index;
    char url[];
} task;

typedef struct source {
    run *run;
    const fetch_opts *o;
    FILE *in; /* read through its descriptor, not stdio (see next_line) */
    size_t next_arg, index;
    char *buf; /* bytes read, not yet consumed: buf[start, end) */
    size_t cap, start, end;
    bool eof;
    bool may_stall; /* a pipe or terminal: poll before reading */
    FILE *flush;    /* rows to flush before a read that may block, or NULL */
} source;

static task *task_new(run *r, size_t index, const char *url, size_t len)
{
    task *t = malloc(sizeof *t + len + 1);
    if (!t)
        return NULL;
    t->run = r;
    t->index = index;
    memcpy(t->url, url, len);
    t->url[len] = '\0';
    return t;
}

/* The next line of the input (without its '\n') into *line, *n; returns 0,
 * ENOENT at the end or when stopped, EIO, ENOMEM. Reads the descriptor
 * directly instead of through stdio because a pipe can stall: then we poll
 * it in 0.1 s slices and look at fetch_stop between them, since a Ctrl-C
 * that lands just before a blocking read() would otherwise be missed. */
static int next_line(source *s, char **line, size_t *n)
{
    int fd = fileno(s->in);
    for (;;) {
        char *nl = s->end > s->start ? memchr(s->buf + s->start, '\n', s->end - s->start) : NULL;
        if (nl || (s->eof && s->end > s->start)) {
            *line = s->buf + s->start;
            *n = nl ? (size_t)(nl - *line) : s->end - s->start;
            s->start = nl ? (size_t)(nl - s->buf) + 1 : s->end;
            return 0;
        }
        if (s->eof)
            return ENOENT;
        if (s->start > 0) {
            memmove(s->buf, s->buf + s->start, s->end - s->start);
            s->end -= s->start;
            s->start = 0;
        }
        if (s->end == s->cap) {
            size_t cap = s->cap ? s->cap * 2 : 65536;
            char *b = realloc(s->buf, cap);
            if (!b)
                return ENOMEM;
            s->buf = b;
            s->cap = cap;
        }
        if (s->may_stall) {
            /* Show the rows we have before waiting on the pipe. */
            if (s->flush)
                fflush(s->flush);
            struct pollfd pfd = {.fd = fd, .events = POLLIN};
            int pr;
            while ((pr = poll(&pfd, 1, 100)) <= 0) {
                if (atomic_load(&fetch_stop))
                    return ENOENT;
                if (pr < 0 && errno != EINTR)
                    return EIO;
            }
        }
        ssize_t r = read(fd, s->buf + s->end, s->cap - s->end);
        if (r < 0) {
            if (errno != EINTR && errno != EAGAIN)
                return EIO;
            if (atomic_load(&fetch_stop))
                return ENOENT;
            continue;
        }
        if (r == 0)
            s->eof = true;
        s->end += (size_t)r;
    }
}

/* weft_source_fn: the next URL, from the arguments or the next non-blank,
 * non-comment line of the input. Runs on the draining thread only. */
static int source_next(void *ud, void **item)
{
    source *s = ud;
    if (atomic_load(&fetch_stop))
        return ENOENT;
    if (!s->in) {
        if (s->next_arg >= s->o->nurls)
            return ENOENT;
        const char *u = s->o->urls[s->next_arg++];
        task *t = task_new(s->run, s->index++, u, strlen(u));
        if (!t)
            return ENOMEM;
        *item = t;
        return 0;
    }
    for (;;) {
        char *line;
        size_t n;
        int rc = next_line(s, &line, &n);
        if (rc)
            return rc;
        char *p = line, *e = line + n;
        while (p < e && (*p == ' ' || *p == '\t'))
            p++;
        while (e > p && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e == p || *p == '#')
            continue;
        task *t = task_new(s->run, s->index++, p, (size_t)(e - p));
        if (!t)
            return ENOMEM;
        *item = t;
        return 0;
    }
}

/* Uniform in [0, 1), per thread (xorshift64*), for the backoff's jitter. */
static double jitter(void)
{
    static _Thread_local uint64_t x;
    if (x == 0)
        x = ((uint64_t)weft_thread_current_ident() << 32) ^ (uint64_t)(weft_monotonic() * 1e9) ^
            0x9e3779b97f4a7c15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    return (double)((x * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

static void interrupted(fetch_result *res)
{
    res->cancelled = true;
    snprintf(res->error, sizeof res->error, "interrupted");
}

static void fetch_one(run *r, fetch_result *res)
{
    const fetch_opts *o = r->o;
    const char *url = res->url;
    char host[512];
    if (!http_url_check(url, res->error, sizeof res->error, host, sizeof host))
        return;
    if (atomic_load(&fetch_stop)) {
        interrupted(res);
        return;
    }
    int fd = -1;
    if (r->dirfd >= 0) {
        fd = savename_create(r->dirfd, url, res->file, sizeof res->file);
        if (fd < 0) {
            snprintf(res->error, sizeof res->error, "cannot create a file in %s: %s", o->outdir,
                     strerror(-fd));
            res->file[0] = '\0';
            return;
        }
    }
    http_attempt a;
    memset(&a, 0, sizeof a);
    for (unsigned attempt = 0;; attempt++) {
        if (hostlimit_enter(r->hl, host) != 0) {
            interrupted(res);
            break;
        }
        int rc = http_get(r->http, url, fd, &a);
        hostlimit_leave(r->hl, host);
        if (rc != 0) {
            snprintf(res->error, sizeof res->error, "no HTTP handle: %s", weft_strerror(rc));
            break;
        }
        res->attempts++;
        res->status = a.status;
        res->curlcode = a.curlcode;
        res->bytes = a.bytes;
        res->dns = a.dns;
        res->connect = a.connect;
        res->ttfb = a.ttfb;
        res->total = a.total;
        res->reused = a.curlcode == CURLE_OK && a.connects == 0;
        if (a.curlcode == CURLE_ABORTED_BY_CALLBACK) {
            interrupted(res);
            break;
        }
        res->ok = a.curlcode == CURLE_OK && a.status < 400;
        if (res->ok) {
            res->error[0] = '\0';
            break;
        }
        if (a.curlcode != CURLE_OK)
            snprintf(res->error, sizeof res->error, "%s", a.error);
        else
            snprintf(res->error, sizeof res->error, "HTTP %ld", a.status);
        if (attempt >= o->retries || !retry_should(a.curlcode, a.status))
            break;
        if (hostlimit_sleep(retry_delay(attempt, a.retry_after, jitter()), &fetch_stop) != 0) {
            interrupted(res);
            break;
        }
        /* The next attempt rewrites the file from the start. */
        if (fd >= 0 && (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0)) {
            snprintf(res->error, sizeof res->error, "cannot rewrite %s: %s", res->file,
                     strerror(errno));
            res->ok = false;
            break;
        }
    }
    if (fd >= 0) {
        close(fd);
        if (!res->ok) {
            unlinkat(r->dirfd, res->file, 0);
            res->file[0] = '\0';
        }
    }
}

/* weft_worker_init_fn: Ctrl-C is for the draining thread (see
 * fetch_install_signals); threads curl starts inherit this mask too. */
static int block_signals(void *arg, unsigned index)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    return 0;
}

/* weft_fn: one URL. Always succeeds: the outcome is in the row. */
static int fetch_task(void *arg, void **result)
{
    task *t = arg;
    run *r = t->run;
    fetch_result *res = calloc(1, sizeof *res);
    if (!res)
        return ENOMEM;
    res->url = strdup(t->url);
    if (!res->url) {
        free(res);
        return ENOMEM;
    }
    res->index = t->index;
    res->worker = weft_executor_current_worker();
    res->start = weft_monotonic() - r->t0;
    fetch_one(r, res);
    res->end = weft_monotonic() - r->t0;
    if (res->total == 0)
        res->total = res->end - res->start;
    *result = res;
    return 0;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

typedef struct drain {
    const fetch_sinks *sk;
    const fetch_opts *o;
    fetch_run_result *res;
    progress bar;
    bool rows_on_tty;
    bool *traced; /* workers whose track is named */
    unsigned nworkers;
    size_t done;
} drain;

static void take_row(drain *d, const fetch_result *fr)
{
    const fetch_sinks *sk = d->sk;
    d->done++;
    report_stats_add(&d->res->stats, fr);
    if (sk->rows) {
        if (d->rows_on_tty)
            progress_clear(&d->bar);
        report_row(sk->rows, d->o->format, fr);
    }
    if (sk->tl && !fr->cancelled)
        timeline_add(sk->tl, fr->start, fr->end, fr->worker, fr->ok, fr->url);
    if (sk->tr && fr->worker >= 0 && (unsigned)fr->worker < d->nworkers && !fr->cancelled) {
        if (!d->traced[fr->worker]) {
            d->traced[fr->worker] = true;
            trace_thread(sk->tr, sk->trace_pid, fr->worker);
        }
        trace_span(sk->tr, sk->trace_pid, fr->worker, fr->start, fr->end, fr->url, fr->status,
                   fr->error);
    }
}

int fetch_run(const fetch_opts *o, unsigned workers, bool save, FILE *in, const fetch_sinks *sk,
              fetch_run_result *res)
{
    memset(res, 0, sizeof *res);
    run r = {.o = o, .dirfd = -1};
    weft_executor *ex = NULL;
    weft_map *m = NULL;
    source src = {.run = &r, .o = o, .in = in};
    drain d = {.sk = sk, .o = o, .res = res, .nworkers = workers};
    int rc;

    if (save && o->outdir) {
        r.dirfd = open(o->outdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (r.dirfd < 0) {
            rc = errno;
            fprintf(stderr, "weft fetch: %s: %s\n", o->outdir, strerror(rc));
            goto out;
        }
    }
    http_opts ho = {.timeout = o->timeout,
                    .connect_timeout = o->connect_timeout,
                    .user_agent = o->user_agent,
                    .abort = &fetch_stop};
    if ((rc = http_client_new(&r.http, &ho)) != 0 ||
        (rc = hostlimit_new(&r.hl, o->per_host, o->rate, &fetch_stop)) != 0)
        goto fail;
    d.traced = calloc(workers, sizeof *d.traced);
    if (!d.traced) {
        rc = ENOMEM;
        goto fail;
    }
    weft_executor_opts eo = {
        .max_workers = workers, .thread_name_prefix = "fetch", .initializer = block_signals};
    if ((rc = weft_executor_new(&ex, &eo)) != 0)
        goto fail;
    /* Two inputs per worker in flight: every worker has its next URL ready
     * when it finishes one, and the input is read no further ahead. */
    weft_map_opts mo = {.buffersize = 2 * (size_t)workers, .unordered = true};
    if ((rc = weft_map_new(&m, ex, fetch_task, source_next, &src, &mo)) != 0)
        goto fail;

    d.rows_on_tty = sk->rows && isatty(fileno(sk->rows));
    struct stat ist;
    if (in && (fstat(fileno(in), &ist) != 0 || !S_ISREG(ist.st_mode))) {
        src.may_stall = true;
        src.flush = sk->rows;
    }
    double cpu0 = cpu_seconds();
    r.t0 = weft_monotonic();
    progress_init(&d.bar, sk->progress, r.t0);
    if (sk->rows)
        report_header(sk->rows, o->format);
    double last_flush = r.t0, drain_until = 0;
    bool draining = false;
    for (;;) {
        void *rv = NULL, *iv = NULL;
        rc = weft_map_next(m, 1.0 / PROGRESS_HZ, &rv, &iv);
        double now = weft_monotonic();
        if (!draining && atomic_load(&fetch_stop)) {
            /* Ctrl-C: no new input (source_next says ENOENT), pending tasks
             * cancelled, running ones abort from curl's progress callback;
             * keep draining so their rows are counted. */
            draining = true;
            res->interrupted = true;
            weft_executor_shutdown(ex, false, true);
            drain_until = now + 10;
        }
        if (draining && now > drain_until) {
            fprintf(stderr, "weft fetch: transfers did not stop in time; giving up on them\n");
            break;
        }
        if (rc == 0 || rc == WEFT_EFAILED || rc == ECANCELED) {
            fetch_result *fr = rv, tmp;
            task *t = iv;
            if (rc != 0 || !fr) {
                /* The task did not make a row (cancelled, or out of memory):
                 * make one from its input. */
                const char *msg = NULL;
                int code = rc == WEFT_EFAILED ? weft_map_error(m, &msg) : ECANCELED;
                memset(&tmp, 0, sizeof tmp);
                tmp.url = t ? t->url : "?";
                tmp.index = t ? t->index : 0;
                tmp.worker = -1;
                if (code == ECANCELED)
                    interrupted(&tmp);
                else
                    snprintf(tmp.error, sizeof tmp.error, "%s", msg ? msg : weft_strerror(code));
                fr = &tmp;
            }
            take_row(&d, fr);
            if (fr != &tmp) {
                free(fr->url);
                free(fr);
            }
            free(t);
        } else if (rc != ETIMEDOUT) {
            if (rc != ENOENT) {
                res->error = rc;
                fprintf(stderr, "weft fetch: %s: %s\n", o->input ? o->input : "input",
                        weft_strerror(rc));
            }
            break;
        }
        if (sk->rows && (rc == ETIMEDOUT || now - last_flush >= 1.0 / PROGRESS_HZ)) {
            /* Rows reach a pipe within 0.1 s, without a write per row. */
            fflush(sk->rows);
            last_flush = now;
        }
        if (d.bar.enabled) {
            weft_executor_stats st;
            weft_executor_stats_get(ex, &st);
            progress_draw(&d.bar, now, d.done, sk->total, st.running, false);
        }
    }
    res->stats.wall = weft_monotonic() - r.t0;
    progress_clear(&d.bar);
    if (sk->rows)
        fflush(sk->rows);
    weft_map_free(m);
    m = NULL;
    weft_executor_free(ex);
    ex = NULL;
    res->stats.cpu = cpu_seconds() - cpu0;
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "weft fetch: cannot start: %s\n", weft_strerror(rc));
    res->error = rc;
out:
    weft_map_free(m);
    weft_executor_free(ex);
    http_client_free(r.http);
    hostlimit_free(r.hl);
    free(d.traced);
    free(src.buf);
    if (r.dirfd >= 0)
        close(r.dirfd);
    return rc;
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
