/* cli/crawl.c: `weft crawl URL`: its command line, how its records are
 * printed as they come, --compare, and the seeds' sequential-versus-threaded
 * report. The engine is crawl/engine.c. */
#include "cli/args.h"
#include "cli/stop.h"
#include "crawl/crawl.h"
#include "cli/crawl-state.h"
#include "crawl/redis-conn.h"
#include "commands.h"
#include "fetch/fetch.h"
#include "parse/html.h"
#include "parse/robots.h"
#include "http/retry.h"
#include "output/timeline.h"
#include "parse/urlnorm.h"

#include <weft.h>

#include <curl/curl.h>
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* ------------------------------------------------------------- options */

void crawl_opts_default(crawl_opts *o)
{
    memset(o, 0, sizeof *o);
    o->depth = CRAWL_DEFAULT_DEPTH;
    o->jobs = CRAWL_DEFAULT_JOBS;
    o->max_bytes = CRAWL_DEFAULT_MAX_BYTES;
    o->retries = CRAWL_DEFAULT_RETRIES;
    o->timeout = CRAWL_DEFAULT_TIMEOUT;
    o->connect_timeout = 10;
    o->user_agent = CRAWL_USER_AGENT;
    o->robots = true;
    o->redis_timeout = 60;
    o->lease = 10;
}

void crawl_opts_free(crawl_opts *o)
{
    free(o->allow);
    free(o->deny);
    o->allow = o->deny = NULL;
    o->nallow = o->ndeny = 0;
}

/* Ctrl-C: the crawl's own stop flag. */
static atomic_bool crawl_stop;

static const char usage_head[] =
    "usage: weft crawl [options] URL\n"
    "\n"
    "Crawls breadth-first from URL, on the same host, obeying robots.txt, and\n"
    "prints one record per page (status, depth, title, words, links, bytes, time)\n"
    "and per URL not fetched (with the reason), then a summary per depth.\n";

static const char usage_tail[] =
    "Exit status: 0 every page fetched fine, 1 some page failed (an HTTP error\n"
    "status or a transfer error), 2 bad usage, 3 the output could not be written\n"
    "(the crawl stops), 130 interrupted (with --state: saved; the message says\n"
    "how to resume).\n";

int crawl_parse_args(int argc, char **argv, crawl_opts *o, FILE *out, FILE *err)
{
    crawl_opts_default(o);
    bool json = false, csv = false;
    args_list allow = {0}, deny = {0};
    const char *skipped = NULL;
    const args_opt opts[] = {
        {"depth", 'd', ARGS_UINT, &o->depth, 0, 100000, 0, 0, false, "D",
         "link hops from URL (default 2; 0: URL only)"},
        {"jobs", 'j', ARGS_UINT, &o->jobs, 1, 4096, 0, 0, false, "N", "workers (default 8)"},
        {"max-pages", 0, ARGS_SIZE, &o->max_pages, 1, 1000000000ull, 0, 0, false, "N",
         "fetch at most N pages"},
        {"max-bytes", 0, ARGS_BYTES, &o->max_bytes, 1, 1ull << 40, 0, 0, false, "SIZE",
         "cut bodies after SIZE bytes (K, M, G suffixes; default 10M)"},
        {"per-host", 0, ARGS_UINT, &o->per_host, 0, 100000, 0, 0, false, "N",
         "requests in flight per host (default: no limit but -j)"},
        {"delay", 0, ARGS_SECONDS, &o->delay, 0, 0, 0, 1e6, false, "S",
         "at least S seconds between requests to a host\n"
         "(a robots.txt Crawl-delay, if larger, wins)"},
        {"domain", 0, ARGS_FLAG, &o->domain, 0, 0, 0, 0, false, NULL,
         "subdomains of URL's host are in scope too"},
        {"allow", 0, ARGS_LIST, &allow, 0, 0, 0, 0, false, "PATTERN",
         "only crawl URLs matching PATTERN (repeatable)"},
        {"deny", 0, ARGS_LIST, &deny, 0, 0, 0, 0, false, "PATTERN",
         "never crawl URLs matching PATTERN (repeatable)\n"
         "PATTERN is a substring, or a glob when it has * ? ["},
        {"no-compressed", 0, ARGS_FLAG, &o->no_compressed, 0, 0, 0, 0, false, NULL,
         "do not ask for compressed pages (default: ask for every\n"
         "encoding this libcurl decodes; --max-bytes counts decoded bytes)"},
        {"no-robots", 0, ARGS_UNFLAG, &o->robots, 0, 0, 0, 0, false, NULL, "ignore robots.txt"},
        {"retries", 0, ARGS_UINT, &o->retries, 0, 100, 0, 0, false, "N",
         "retries of 429, 503, timeouts, resets (default 2)"},
        {"timeout", 0, ARGS_SECONDS, &o->timeout, 0, 0, 0, 1e6, false, "S",
         "per-request time limit (default 30; 0: none)"},
        {"connect-timeout", 0, ARGS_SECONDS, &o->connect_timeout, 0, 0, 0, 1e6, false, "S",
         "connection time limit (default 10)"},
        {"user-agent", 0, ARGS_STRING, &o->user_agent, 0, 0, 0, 0, false, "S",
         "the User-Agent (default " CRAWL_USER_AGENT ")"},
        {"robots-agent", 0, ARGS_STRING, &o->robots_agent, 0, 0, 0, 0, false, "NAME",
         "the product token robots.txt groups are matched against\n"
         "(case-insensitive; default: --user-agent's first token, weft)"},
        {"skipped", 0, ARGS_STRING, &skipped, 0, 0, 0, 0, false, "first|all|none",
         "records of URLs not fetched: one per distinct URL with its\n"
         "first reason (first, the default), also one per link to a URL\n"
         "already seen (all), or none; the summary counts them all"},
        {"json", 0, ARGS_FLAG, &json, 0, 0, 0, 0, false, NULL,
         "JSON lines, skipped URLs as {\"skipped\": reason}"},
        {"csv", 0, ARGS_FLAG, &csv, 0, 0, 0, 0, false, NULL, "CSV with a header row"},
        {"compare", 0, ARGS_FLAG, &o->compare, 0, 0, 0, 0, false, NULL,
         "crawl with 1 worker, then with N; print the speedup"},
        {"timeline", 0, ARGS_FLAG, &o->timeline, 0, 0, 0, 0, false, NULL,
         "print a per-worker timeline after the crawl"},
        {"trace", 0, ARGS_STRING, &o->trace, 0, 0, 0, 0, false, "FILE",
         "write a Chrome Trace Event file (open in Perfetto)"},
        {"state", 0, ARGS_STRING, &o->state_path, 0, 0, 0, 0, false, "FILE",
         "keep the crawl in FILE (SQLite): it survives kill -9, and the\n"
         "same command resumes it; a finished crawl is not fetched again.\n"
         "redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] or unix:///PATH: one\n"
         "crawl shared by every process started with the same command"},
        {"crawl-id", 0, ARGS_STRING, &o->crawl_id, 0, 0, 0, 0, false, "NAME",
         "with --state redis://...: the shared crawl's name (default: derived\n"
         "from URL and the options that decide its pages)"},
        {"redis-timeout", 0, ARGS_SECONDS, &o->redis_timeout, 0, 0, 0, 1e6, false, "S",
         "how long Redis may be away mid-crawl before the crawl gives up (default 60)"},
        {"lease", 0, ARGS_SECONDS, &o->lease, 0, 0, 0, 1e6, true, "S",
         "with Redis: a URL handed out stays this process's for S seconds,\n"
         "renewed while it is fetched; a dead process's URLs return after it (default 10)"},
        {"dump", 0, ARGS_FLAG, &o->dump, 0, 0, 0, 0, false, NULL,
         "with --state: print every record of the crawl in FILE (no URL,\n"
         "no network), however many runs it took"},
        {"quiet", 'q', ARGS_FLAG, &o->quiet, 0, 0, 0, 0, false, NULL, "summary only"},
        {"help", 'h', ARGS_HELP, NULL, 0, 0, 0, 0, false, NULL, "this text"},
    };
    const args_spec sp = {"crawl", usage_head, usage_tail, opts, sizeof opts / sizeof opts[0],
                          0,       1,          "URL"};
    size_t nops = 0;
    int rc = args_parse(&sp, argc, argv, &nops, out, err);
    o->allow = allow.v;
    o->nallow = allow.n;
    o->deny = deny.v;
    o->ndeny = deny.n;
    if (rc == 0 && o->dump && !o->state_path)
        rc = args_usage_error(err, "crawl", "%s", "--dump wants --state FILE");
    else if (rc == 0 && o->dump && nops > 0 && !redis_is_url(o->state_path))
        rc = args_usage_error(err, "crawl", "--dump prints FILE: it takes no URL ('%s')", argv[1]);
    else if (rc == 0 && o->dump && nops == 0 && redis_is_url(o->state_path) && !o->crawl_id)
        rc = args_usage_error(err, "crawl", "%s",
                              "--dump of a Redis crawl wants its URL (and scope) or --crawl-id");
    else if (rc == 0 && !o->dump && nops == 0)
        rc = args_usage_error(err, "crawl", "%s", "no URL given");
    if (rc == 0 && o->crawl_id && !(o->state_path && redis_is_url(o->state_path)))
        rc = args_usage_error(err, "crawl", "%s",
                              "--crawl-id names a Redis crawl: it wants --state redis://...");
    if (rc == 0 && o->state_path && o->compare)
        rc = args_usage_error(err, "crawl", "%s",
                              "--compare crawls twice from scratch: it does not go with --state");
    if (rc == 0 && json && csv)
        rc = args_usage_error(err, "crawl", "%s", "--json and --csv exclude each other");
    if (rc == 0 && skipped) {
        if (strcmp(skipped, "first") == 0)
            o->skipped = CRAWL_SKIPPED_FIRST;
        else if (strcmp(skipped, "all") == 0)
            o->skipped = CRAWL_SKIPPED_ALL;
        else if (strcmp(skipped, "none") == 0)
            o->skipped = CRAWL_SKIPPED_NONE;
        else
            rc = args_usage_error(err, "crawl", "--skipped wants first, all or none, not '%s'",
                                  skipped);
    }
    if (rc == 0 && o->robots_agent && !robots_valid_token(o->robots_agent))
        rc = args_usage_error(err, "crawl",
                              "--robots-agent wants a product token (letters, '_' and '-'), not "
                              "'%s'",
                              o->robots_agent);
    if (rc != 0) {
        crawl_opts_free(o);
        return rc;
    }
    o->format = json ? REPORT_JSON : csv ? REPORT_CSV : REPORT_TABLE;
    o->start_url = nops ? argv[1] : NULL;
    return 0;
}

/* ---------------------------------------------------------- the command */

typedef struct printer {
    const crawl_opts *o;
    FILE *rows; /* NULL: no rows */
    size_t table_rows, table_more;
    timeline *tl;
    trace *tr;
    int trace_pid;
    bool *traced;
    unsigned nworkers;
    int out_errno; /* the first write error on rows, or 0 */
    bool out_failed;
} printer;

static void print_record(void *ud, const crawl_record *r)
{
    printer *p = ud;
    if (p->rows) {
        switch (p->o->format) {
        case REPORT_JSON:
            crawl_record_json(p->rows, r);
            break;
        case REPORT_CSV:
            crawl_record_csv(p->rows, r);
            break;
        case REPORT_TABLE:
            if (r->skip != SKIP_NONE)
                break;
            if (p->table_rows < CRAWL_TABLE_ROWS) {
                if (p->table_rows == 0)
                    crawl_table_header(p->rows);
                crawl_table_row(p->rows, r);
                p->table_rows++;
            } else {
                p->table_more++;
            }
            break;
        }
        if (!p->out_failed && ferror(p->rows)) {
            /* The record is lost: stop the crawl rather than fetch for nothing. */
            p->out_failed = true;
            p->out_errno = errno;
            atomic_store(&crawl_stop, true);
        }
    }
    if (r->skip != SKIP_NONE)
        return;
    if (p->tl)
        timeline_add(p->tl, r->start, r->end, r->worker, r->error == NULL, r->url);
    if (p->tr && r->worker >= 0 && (unsigned)r->worker < p->nworkers) {
        if (!p->traced[r->worker]) {
            p->traced[r->worker] = true;
            trace_thread(p->tr, p->trace_pid, r->worker);
        }
        trace_span(p->tr, p->trace_pid, r->worker, r->start, r->end, r->url, r->status, r->error);
    }
}

static int exit_status(const crawl_result *r)
{
    if (r->interrupted)
        return FETCH_EXIT_INTERRUPTED;
    return r->error || r->errors > 0 ? 1 : 0;
}

static void print_levels_side_by_side(FILE *out, const crawl_result *s, const crawl_result *t)
{
    size_t n = s->nlevels > t->nlevels ? s->nlevels : t->nlevels;
    fprintf(out, "%5s | %7s %7s %8s | %7s %7s %8s\n", "DEPTH", "PAGES", "ERRORS", "SEQ", "PAGES",
            "ERRORS", "THREADED");
    for (size_t d = 0; d < n; d++) {
        crawl_level z = {0};
        const crawl_level *a = d < s->nlevels ? &s->levels[d] : &z;
        const crawl_level *b = d < t->nlevels ? &t->levels[d] : &z;
        if (a->pages == 0 && b->pages == 0)
            continue;
        fprintf(out, "%5zu | %7zu %7zu %7.2fs | %7zu %7zu %7.2fs\n", d, a->pages, a->errors,
                a->last > a->first ? a->last - a->first : 0.0, b->pages, b->errors,
                b->last > b->first ? b->last - b->first : 0.0);
    }
}

static void print_compare(FILE *out, const crawl_result *seq, const crawl_result *thr,
                          unsigned workers)
{
    fprintf(out, "Sequential: %.2fs, %zu pages\n", seq->wall, seq->pages);
    fprintf(out, "Threaded: %.2fs, %zu pages (%u workers)\n", thr->wall, thr->pages, workers);
    fprintf(out, "Speedup: %.1f\u00d7\n", thr->wall > 0 ? seq->wall / thr->wall : 0.0);
    fprintf(out, "Time saved: %.2fs\n", seq->wall - thr->wall);
    bool same = seq->pages == thr->pages && seq->checksum == thr->checksum;
    fprintf(out, "Same pages both ways: %s\n", same ? "yes" : "NO");
    print_levels_side_by_side(out, seq, thr);
}

/* --dump: the records in the state file, then the whole crawl's summary. */
/* --dump's records: as the crawl's printer, but --skipped none drops the
 * skipped ones here too. */
static void print_dumped(void *ud, const crawl_record *r)
{
    const printer *p = ud;
    if (r->skip != SKIP_NONE && p->o->skipped == CRAWL_SKIPPED_NONE)
        return;
    print_record(ud, r);
}

static int crawl_dump(crawl_opts *o)
{
    printer p = {.o = o, .rows = o->quiet ? NULL : stdout};
    FILE *info = o->format == REPORT_TABLE ? stdout : stderr;
    if (p.rows && o->format == REPORT_CSV)
        crawl_csv_header(p.rows);
    crawl_result tot = {0};
    int status = crawl_state_print(o, print_dumped, &p, &tot);
    if (status != 2) {
        if (p.table_more)
            fprintf(info, "... and %zu more pages\n", p.table_more);
        if (p.rows && o->format == REPORT_TABLE && p.table_rows)
            fputc('\n', info);
        crawl_summary(info, &tot, "Crawl in the state file");
    }
    bool out_ok = cli_output_ok(stdout, "crawl", "the output", p.out_failed ? p.out_errno : 0);
    if (info != stdout)
        out_ok &= cli_output_ok(info, "crawl", "the summary", 0);
    crawl_result_free(&tot);
    crawl_opts_free(o);
    return out_ok ? status : WEFT_EXIT_OUTPUT;
}

int cmd_crawl(int argc, char **argv)
{
    crawl_opts o;
    /* The command as typed, to say how to resume (parsing permutes argv). */
    char **typed = malloc(((size_t)argc + 1) * sizeof *typed);
    if (!typed) {
        fprintf(stderr, "weft crawl: out of memory\n");
        return 1;
    }
    memcpy(typed, argv, (size_t)argc * sizeof *typed);
    int rc = crawl_parse_args(argc, argv, &o, stdout, stderr);
    if (rc == 1 || rc != 0 || o.dump) {
        free(typed);
        return rc == 1 ? 0 : rc != 0 ? 2 : crawl_dump(&o);
    }
    char *check = NULL;
    urlnorm_status st = urlnorm(o.start_url, &check);
    free(check);
    char *shown = urlnorm_redact(o.start_url);
    if (st == URLNORM_OK && shown && strcmp(shown, o.start_url) != 0)
        fprintf(stderr, "weft crawl: note: the start URL's user:password is not sent: a crawl "
                        "never sends credentials (they would go to every page)\n");
    free(shown);
    if (st != URLNORM_OK) {
        fprintf(stderr, "weft crawl: '%s' is not an http(s) URL (%s)\nTry 'weft crawl --help'.\n",
                o.start_url, urlnorm_strstatus(st));
        crawl_opts_free(&o);
        free(typed);
        return 2;
    }
    trace tr = {0};
    if (o.trace && (rc = trace_open(&tr, o.trace)) != 0) {
        fprintf(stderr, "weft crawl: --trace %s: %s\n", o.trace, strerror(rc));
        crawl_opts_free(&o);
        free(typed);
        return 2;
    }
    html_global_init();
    crawl_state_global_init();
    o.stop = &crawl_stop;
    if (o.state_path) {
        char product[64];
        if (o.robots_agent)
            snprintf(product, sizeof product, "%s", o.robots_agent);
        else
            robots_product_token(o.user_agent, product, sizeof product);
        int sst = crawl_state_begin(&o, product);
        if (sst >= 0) {
            if (o.trace)
                trace_close(&tr);
            free(typed);
            crawl_opts_free(&o);
            return sst;
        }
    }
    cli_stop_on_signals(&crawl_stop);
    o.stop = &crawl_stop;
    FILE *info = o.format == REPORT_TABLE ? stdout : stderr;
    timeline tl1, tl2;
    timeline_init(&tl1);
    timeline_init(&tl2);
    crawl_result seq = {0}, thr = {0};
    bool *traced = calloc(o.jobs, sizeof *traced);
    if (!traced) {
        fprintf(stderr, "weft crawl: out of memory\n");
        free(typed);
        return 1;
    }
    printer p = {.o = &o,
                 .rows = o.quiet ? NULL : stdout,
                 .tl = o.timeline ? &tl2 : NULL,
                 .tr = o.trace ? &tr : NULL,
                 .trace_pid = o.compare ? 2 : 1,
                 .traced = traced,
                 .nworkers = o.jobs};
    if (p.rows && o.format == REPORT_CSV)
        crawl_csv_header(p.rows);
    if (o.compare) {
        bool traced1 = false;
        printer p1 = {.o = &o,
                      .tl = o.timeline ? &tl1 : NULL,
                      .tr = o.trace ? &tr : NULL,
                      .trace_pid = 1,
                      .traced = &traced1,
                      .nworkers = 1};
        if (o.trace)
            trace_process(&tr, 1, "sequential (1 worker)");
        rc = crawl_run(&o, 1, print_record, &p1, &seq);
        if (rc == 0 && !seq.interrupted) {
            if (o.trace) {
                char name[64];
                snprintf(name, sizeof name, "threaded (%u workers)", o.jobs);
                trace_process(&tr, 2, name);
            }
            rc = crawl_run(&o, o.jobs, print_record, &p, &thr);
        }
    } else {
        if (o.trace)
            trace_process(&tr, 1, "weft crawl");
        rc = crawl_run(&o, o.jobs, print_record, &p, &thr);
    }
    /* A resumed crawl's summary is counted again from every record in the
     * file; a crawl this run began has only this run's records there. */
    if (o.state && !o.state_fresh && rc == 0 && thr.error == 0)
        crawl_state_totals(o.state, &thr);
    if (o.state || o.redis)
        crawl_state_end(&o, &thr, argc, typed);
    if (rc != 0 && !thr.error_text[0]) {
        fprintf(stderr, "weft crawl: %s\n", weft_strerror(rc));
    } else if (rc == 0) {
        if (p.table_more)
            fprintf(info, "... and %zu more pages\n", p.table_more);
        if (p.rows && o.format == REPORT_TABLE && p.table_rows)
            fputc('\n', info);
        if (o.compare) {
            crawl_summary(info, &seq, "Sequential");
            if (!seq.interrupted) {
                crawl_summary(info, &thr, "Threaded");
                fputc('\n', info);
                print_compare(info, &seq, &thr, o.jobs);
            }
        } else {
            crawl_summary(info, &thr,
                          thr.interrupted
                              ? (o.state ? "Interrupted; the crawl so far" : "Interrupted")
                          : o.state ? "Crawled (all runs)"
                                    : "Crawled");
        }
        if (o.timeline) {
            if (o.compare) {
                fprintf(info, "\nSequential:\n");
                timeline_render(&tl1, seq.wall, 60, 16, info);
                fprintf(info, "\nThreaded:\n");
            } else {
                fputc('\n', info);
            }
            timeline_render(&tl2, thr.wall, 60, 32, info);
        }
    }
    bool out_ok = true;
    if (o.trace) {
        int trc = trace_close(&tr);
        if (trc) {
            fprintf(stderr, "weft crawl: --trace %s: %s\n", o.trace, strerror(trc));
            out_ok = false;
        } else {
            fprintf(info, "Trace written to %s (open it in https://ui.perfetto.dev)\n", o.trace);
        }
    }
    int status = rc != 0 ? 1 : exit_status(&thr);
    if (o.compare && rc == 0 && exit_status(&seq) > status)
        status = exit_status(&seq);
    out_ok &= cli_output_ok(stdout, "crawl", "the output", p.out_failed ? p.out_errno : 0);
    if (info != stdout)
        out_ok &= cli_output_ok(info, "crawl", "the summary", 0);
    if (!out_ok)
        status = WEFT_EXIT_OUTPUT;
    timeline_free(&tl1);
    timeline_free(&tl2);
    crawl_result_free(&seq);
    crawl_result_free(&thr);
    free(traced);
    crawl_state_close(o.state);
    redis_pool_free(o.redis);
    crawl_opts_free(&o);
    free(typed);
    return status;
}

/* ------------------------------------------------- the seeds' report */

typedef struct kept {
    char *url, *title;
    unsigned long words;
    long status;
} kept;

typedef struct keeper {
    kept *v;
    size_t n, cap;
} keeper;

static void keep_record(void *ud, const crawl_record *r)
{
    keeper *k = ud;
    if (r->skip != SKIP_NONE)
        return;
    if (k->n == k->cap) {
        size_t cap = k->cap ? 2 * k->cap : 64;
        kept *v = realloc(k->v, cap * sizeof *v);
        if (!v)
            return;
        k->v = v;
        k->cap = cap;
    }
    kept *e = &k->v[k->n];
    e->url = strdup(r->url);
    e->title = strdup(r->error ? r->error : r->title);
    if (!e->url || !e->title) {
        free(e->url);
        free(e->title);
        return;
    }
    e->words = r->words;
    e->status = r->status;
    k->n++;
}

static int by_url(const void *a, const void *b)
{
    return strcmp(((const kept *)a)->url, ((const kept *)b)->url);
}

int crawl_compare_report(const char *start_url, unsigned workers, unsigned depth, FILE *out)
{
    crawl_opts o;
    crawl_opts_default(&o);
    o.start_url = start_url;
    o.depth = depth;
    o.jobs = workers;
    html_global_init();
    crawl_result seq, thr;
    keeper k = {0};
    fprintf(out, "Sequential crawling...\n");
    int rc = crawl_run(&o, 1, NULL, NULL, &seq);
    if (rc != 0)
        return rc;
    fprintf(out, "Sequential: %.2fs, %zu pages\n\nThreaded crawling...\n", seq.wall, seq.pages);
    rc = crawl_run(&o, workers, keep_record, &k, &thr);
    if (rc != 0) {
        crawl_result_free(&seq);
        return rc;
    }
    fprintf(out, "Threaded: %.2fs, %zu pages (%u workers)\n\n", thr.wall, thr.pages, workers);
    fprintf(out, "Speedup: %.1f\u00d7\n", thr.wall > 0 ? seq.wall / thr.wall : 0.0);
    fprintf(out, "Time saved: %.2fs\n", seq.wall - thr.wall);
    bool same = seq.pages == thr.pages && seq.checksum == thr.checksum;
    fprintf(out, "Same pages both ways: %s\n\n", same ? "yes" : "NO");
    print_levels_side_by_side(out, &seq, &thr);
    qsort(k.v, k.n, sizeof *k.v, by_url);
    fprintf(out, "\nScraped %zu pages:\n", k.n);
    for (int i = 0; i < 60; i++)
        fputc('-', out);
    fputc('\n', out);
    for (size_t i = 0; i < k.n && i < 5; i++)
        fprintf(out, "%s\n Title: %.50s\n Words: %lu, Status: %ld\n", k.v[i].url, k.v[i].title,
                k.v[i].words, k.v[i].status);
    int status = (!same || seq.errors || thr.errors) ? 1 : 0;
    for (size_t i = 0; i < k.n; i++) {
        free(k.v[i].url);
        free(k.v[i].title);
    }
    free(k.v);
    crawl_result_free(&seq);
    crawl_result_free(&thr);
    return status;
}
