/* crawl.h: the engine of `weft crawl` (and of the crawl half of `weft demo`):
 * options, argument parsing, one crawl with N workers, and the seeds'
 * sequential-versus-threaded report.
 *
 * DESIGN: N worker tasks run on a weft_executor inside one weft_group. Each
 * owns one curl easy handle for the whole crawl (keep-alive; curl's rule of
 * one handle per thread) and loops: take an item from the frontier (a page,
 * a robots.txt, or a URL to report as skipped), fetch it with no lock held,
 * feeding the body to the HTML push parser as it arrives (so no page is
 * ever held whole), then add the page's links to the frontier under its
 * lock. There is no coordinator: the frontier's lock is the only meeting
 * point, and its level barrier makes the result independent of timing (see
 * frontier.h). Records (one per page, one per skipped URL) go to the caller's
 * callback, one at a time, under a separate output lock, in the order they
 * happen; nothing keeps them, so memory stays flat over a long crawl. */
#ifndef WEFT_TOOL_CRAWL_H
#define WEFT_TOOL_CRAWL_H

#include "crawl/frontier.h"
#include "output/report.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>

#define CRAWL_DEFAULT_DEPTH     2
#define CRAWL_DEFAULT_JOBS      8
#define CRAWL_DEFAULT_MAX_BYTES (10LL * 1024 * 1024)
#define CRAWL_DEFAULT_RETRIES   2
#define CRAWL_DEFAULT_TIMEOUT   30.0
#define CRAWL_USER_AGENT        "weft/0.1 (+https://example.invalid/weft)"
/* Rows the default table shows before it only counts. */
#define CRAWL_TABLE_ROWS 20

/* Which records of URLs not fetched a crawl writes (--skipped). */
typedef enum crawl_skipped_mode {
    CRAWL_SKIPPED_FIRST = 0, /* one per distinct URL, with its first reason (default) */
    CRAWL_SKIPPED_ALL,       /* also one per link to an already-seen URL ("duplicate") */
    CRAWL_SKIPPED_NONE,      /* none: pages only (the summary still counts them) */
} crawl_skipped_mode;

typedef struct crawl_opts {
    const char *start_url;
    unsigned depth;           /* --depth */
    unsigned jobs;            /* -j */
    size_t max_pages;         /* --max-pages, 0: none */
    long long max_bytes;      /* --max-bytes: bodies are cut there */
    unsigned per_host;        /* --per-host, 0: only -j limits */
    double delay;             /* --delay: seconds between requests per host */
    unsigned retries;         /* --retries of 429, 503, timeouts... */
    double timeout;           /* --timeout per request */
    double connect_timeout;   /* --connect-timeout */
    const char *user_agent;   /* --user-agent */
    const char *robots_agent; /* --robots-agent: the product token for robots.txt;
                               * NULL: the User-Agent's first token */
    bool domain;              /* --domain: subdomains are in scope */
    bool robots;              /* obey robots.txt (--no-robots clears) */
    const char **allow;       /* --allow patterns (substring, or glob with * ? [) */
    size_t nallow;
    const char **deny; /* --deny patterns */
    size_t ndeny;
    report_format format;       /* --json, --csv, else the table */
    bool compare;               /* --compare */
    bool timeline;              /* --timeline */
    const char *trace;          /* --trace FILE */
    bool quiet;                 /* -q: summary only */
    bool no_compressed;         /* --no-compressed: no Accept-Encoding */
    crawl_skipped_mode skipped; /* --skipped */
    atomic_bool *stop;          /* set (by a signal handler) to end the crawl; may be NULL */
    const char *state_path;     /* --state FILE */
    bool dump;                  /* --dump: print the records in FILE, fetch nothing */
    struct crawl_state *state;  /* the open state file (crawl/state.h): the crawl lives
                                 * there; NULL: in memory */
    bool state_fresh;           /* the file was made by this run: its records are
                                 * this run's, so the summary needs no recount */
    const char *crawl_id;       /* --crawl-id (Redis) */
    double redis_timeout;       /* --redis-timeout: how long Redis may be away */
    double lease;               /* --lease: seconds a URL handed out stays leased */
    struct redis_pool *redis;   /* --state redis://...: the shared crawl's connections */
    char redis_prefix[300];     /* its keys' prefix */
} crawl_opts;

void crawl_opts_default(crawl_opts *o);

/* Parses `weft crawl` arguments (argv[0] is "crawl"). Returns 0 to run, 1
 * when --help was printed to `out`, 2 after a usage error printed to `err`.
 * The pattern arrays are malloc'd: crawl_opts_free. */
int crawl_parse_args(int argc, char **argv, crawl_opts *o, FILE *out, FILE *err);
void crawl_opts_free(crawl_opts *o);

/* crawl_record (one record: a page or a URL not fetched) is in frontier.h. */

/* Called once per record, never concurrently. */
typedef void crawl_record_fn(void *ud, const crawl_record *r);

typedef struct crawl_level {
    size_t pages, errors;
    long long bytes;
    double first, last; /* start of the level's first page, end of its last */
} crawl_level;

typedef struct crawl_result {
    size_t pages, errors;
    size_t skipped[SKIP_N];
    long long bytes;
    double wall, cpu;
    crawl_level *levels; /* per depth, malloc'd */
    size_t nlevels;
    unsigned long long checksum; /* order-free hash of the page URLs */
    size_t seen;                 /* URLs in the de-dup set at the end */
    size_t set_bytes;            /* its memory */
    size_t run_pages;            /* pages of this run, when the counts cover more (a resumed
                                  * crawl's totals); 0: the counts are this run's */
    bool interrupted;
    int error;            /* a failure of the crawl itself (ENOMEM, EIO...), or 0 */
    char error_text[320]; /* a durable backend's failure, as a sentence, or "" */
} crawl_result;

void crawl_result_free(crawl_result *r);

/* Counts one record into r (pages, errors, bytes, skips, per-depth figures,
 * checksum), and a page's unwritten duplicates. */
void crawl_result_count(crawl_result *r, const crawl_record *rec);

/* Crawls o->start_url with `workers` workers, calling fn (may be NULL) for
 * every record. Returns 0 (the outcome of each page is in its record and in
 * *res), EINVAL for a start URL that is not http(s), or ENOMEM. */
int crawl_run(const crawl_opts *o, unsigned workers, crawl_record_fn *fn, void *ud,
              crawl_result *res);

/* The seeds' report for start_url: crawls it with 1 worker and then with
 * `workers`, `depth` levels deep, and prints "Sequential: Xs, N pages",
 * "Threaded: Ys, N pages", "Speedup: Z×", whether both found the same pages,
 * the statistics per depth, and the first five pages sorted by URL with
 * title, words and status. Returns 0, 1 when a page failed or the two runs
 * disagree, or an errno from crawl_run. */
int crawl_compare_report(const char *start_url, unsigned workers, unsigned depth, FILE *out);

/* Writes one record as a JSON line / CSV row / table row. */
void crawl_record_json(FILE *out, const crawl_record *r);
void crawl_record_csv(FILE *out, const crawl_record *r);
void crawl_csv_header(FILE *out);
/* The table's header line and one row of it. */
void crawl_table_header(FILE *out);
void crawl_table_row(FILE *out, const crawl_record *r);

/* The summary: pages, errors, bytes, time, skips by reason, per-depth table. */
void crawl_summary(FILE *out, const crawl_result *r, const char *label);

int cmd_crawl(int argc, char **argv);

#endif
