/* fetch/engine.c: `weft fetch`: download many URLs concurrently on a weft executor.
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
#include "parse/urlnorm.h"

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

/* ------------------------------------------------------------------ run */

atomic_bool fetch_stop;

typedef struct run {
    const fetch_opts *o;
    http_client *http;
    hostlimit *hl;
    int dirfd;
    savename_dir *names; /* when dirfd >= 0 */
    double t0;
} run;

typedef struct task {
    run *run;
    size_t index;
    size_t line; /* its line in the input (from 1), 0 for an argument */
    bool nul;    /* the line held a NUL byte: refused, not cut there */
    char url[];
} task;

typedef struct source {
    run *run;
    const fetch_opts *o;
    FILE *in; /* read through its descriptor, not stdio (see next_line) */
    size_t next_arg, index, line;
    char *buf; /* bytes read, not yet consumed: buf[start, end) */
    size_t cap, start, end;
    bool eof;
    bool may_stall;        /* a pipe or terminal: poll before reading */
    FILE *flush;           /* rows to flush before a read that may block, or NULL */
    fetch_run_result *res; /* where a failed flush is recorded */
} source;

/* Flushes the rows; the first failure is recorded and stops the run (the
 * rows are the run's record: fetching on would be for nothing). */
static void flush_rows(FILE *rows, fetch_run_result *res)
{
    if (fflush(rows) != 0 && !res->out_failed) {
        res->out_failed = true;
        res->out_errno = errno;
        atomic_store(&fetch_stop, true);
    }
}

static task *task_new(run *r, size_t index, const char *url, size_t len)
{
    task *t = malloc(sizeof *t + len + 1);
    if (!t)
        return NULL;
    t->run = r;
    t->index = index;
    t->line = 0;
    t->nul = false;
    memcpy(t->url, url, len);
    t->url[len] = '\0';
    /* A NUL would silently cut the URL: keep the line visible, refuse it. */
    for (size_t i = 0; i < len; i++)
        if (t->url[i] == '\0') {
            t->url[i] = '?';
            t->nul = true;
        }
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
                flush_rows(s->flush, s->res);
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
        s->line++;
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
        t->line = s->line;
        *item = t;
        return 0;
    }
}

static void interrupted(fetch_result *res)
{
    res->cancelled = true;
    snprintf(res->error, sizeof res->error, "interrupted");
}

static void fetch_one(run *r, const char *url, fetch_result *res)
{
    const fetch_opts *o = r->o;
    char host[512];
    if (!http_url_check(url, res->error, sizeof res->error, host, sizeof host))
        return;
    if (atomic_load(&fetch_stop)) {
        interrupted(res);
        return;
    }
    int fd = -1;
    if (r->dirfd >= 0) {
        fd = savename_dir_create(r->names, url, res->file, sizeof res->file);
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
        http_request rq = {.url = url, .fd = fd, .max_bytes = o->max_bytes, .cut_is_error = true};
        http_attempt_free(&a);
        int rc = http_perform(r->http, &rq, &a);
        hostlimit_leave(r->hl, host);
        if (rc != 0) {
            snprintf(res->error, sizeof res->error, "no HTTP handle: %s", weft_strerror(rc));
            break;
        }
        res->attempts++;
        res->status = a.status;
        res->curlcode = a.curlcode;
        res->bytes = a.bytes;
        res->wire_bytes = a.wire_bytes;
        free(res->final_url);
        res->final_url = a.effective_url ? urlnorm_redact(a.effective_url) : NULL;
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
        if (hostlimit_sleep(retry_delay(attempt, a.retry_after, retry_jitter()), &fetch_stop) !=
            0) {
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
    http_attempt_free(&a);
    if (fd >= 0) {
        close(fd);
        if (!res->ok) {
            unlinkat(r->dirfd, res->file, 0);
            res->file[0] = '\0';
        }
    }
}

/* weft_worker_init_fn: Ctrl-C is for the draining thread (see
 * cli/stop.h); threads curl starts inherit this mask too. */
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
    res->url = urlnorm_redact(t->url); /* the task's URL keeps them for the request */
    if (!res->url) {
        free(res);
        return ENOMEM;
    }
    res->index = t->index;
    res->worker = weft_executor_current_worker();
    res->start = weft_monotonic() - r->t0;
    if (t->nul)
        snprintf(res->error, sizeof res->error, "line %zu: a NUL byte in the URL", t->line);
    else
        fetch_one(r, t->url, res);
    res->end = weft_monotonic() - r->t0;
    if (res->total == 0)
        res->total = res->end - res->start;
    *result = res;
    return 0;
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
        if (!d->res->out_failed && ferror(sk->rows)) {
            /* Rows are the run's record: stop rather than fetch for nothing. */
            d->res->out_failed = true;
            d->res->out_errno = errno;
            atomic_store(&fetch_stop, true);
        }
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
    source src = {.run = &r, .o = o, .in = in, .res = res};
    drain d = {.sk = sk, .o = o, .res = res, .nworkers = workers};
    int rc;

    if (save && o->outdir) {
        r.dirfd = open(o->outdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (r.dirfd < 0) {
            rc = errno;
            fprintf(stderr, "weft fetch: %s: %s\n", o->outdir, strerror(rc));
            goto out;
        }
        if ((rc = savename_dir_new(&r.names, r.dirfd)) != 0)
            goto out;
    }
    http_opts ho = {.timeout = o->timeout,
                    .connect_timeout = o->connect_timeout,
                    .user_agent = o->user_agent,
                    .abort = &fetch_stop,
                    .no_compressed = o->no_compressed};
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
    if ((rc = weft_map_new(&m, ex, fetch_task, source_next, &src, WEFT_FOREVER, &mo)) != 0)
        goto fail;

    d.rows_on_tty = sk->rows && isatty(fileno(sk->rows));
    struct stat ist;
    if (in && (fstat(fileno(in), &ist) != 0 || !S_ISREG(ist.st_mode))) {
        src.may_stall = true;
        src.flush = sk->rows;
    }
    double cpu0 = report_cpu_seconds();
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
                free(fr->final_url);
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
            flush_rows(sk->rows, res);
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
        flush_rows(sk->rows, res);
    weft_map_free(m);
    m = NULL;
    weft_executor_free(ex);
    ex = NULL;
    res->stats.cpu = report_cpu_seconds() - cpu0;
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
    savename_dir_free(r.names);
    if (r.dirfd >= 0)
        close(r.dirfd);
    return rc;
}
