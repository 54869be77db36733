/* crawl.c: `weft crawl URL`: a breadth-first, polite, concurrent crawler on a
 * weft executor.
 *
 * DESIGN: see crawl.h and frontier.h. This file holds the workers (fetch,
 * parse, resolve links, hand them to the frontier), the scope rules (same
 * host, --domain, --allow/--deny), the output (JSON lines, CSV, table,
 * summary, per-depth statistics, --compare, --timeline/--trace) and the
 * command line. Lock order: the frontier's lock and the output lock are
 * never held together (records are emitted after frontier calls return);
 * curl's share locks are taken only inside curl, with neither held. */
#include "args.h"
#include "crawl.h"
#include "commands.h"
#include "fetch.h"
#include "html.h"
#include "retry.h"
#include "timeline.h"
#include "urlnorm.h"

#include <weft.h>

#include <curl/curl.h>
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
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
}

void crawl_opts_free(crawl_opts *o)
{
    free(o->allow);
    free(o->deny);
    o->allow = o->deny = NULL;
    o->nallow = o->ndeny = 0;
}

static const char usage_text[] =
    "usage: weft crawl [options] URL\n"
    "\n"
    "Crawls breadth-first from URL, on the same host, obeying robots.txt, and\n"
    "prints one record per page (status, depth, title, words, links, bytes, time)\n"
    "and per URL not fetched (with the reason), then a summary per depth.\n"
    "\n"
    "options:\n"
    "  -d, --depth D            link hops from URL (default 2; 0: URL only)\n"
    "  -j, --jobs N             workers (default 8)\n"
    "      --max-pages N        fetch at most N pages\n"
    "      --max-bytes N        cut bodies after N bytes (default 10 MiB)\n"
    "      --per-host N         requests in flight per host (default: no limit but -j)\n"
    "      --delay S            at least S seconds between requests to a host\n"
    "                           (a robots.txt Crawl-delay, if larger, wins)\n"
    "      --domain             subdomains of URL's host are in scope too\n"
    "      --allow PATTERN      only crawl URLs matching PATTERN (repeatable)\n"
    "      --deny PATTERN       never crawl URLs matching PATTERN (repeatable)\n"
    "                           PATTERN is a substring, or a glob when it has * ? [\n"
    "      --no-robots          ignore robots.txt\n"
    "      --retries N          retries of 429, 503, timeouts, resets (default 2)\n"
    "      --timeout S          per-request time limit (default 30; 0: none)\n"
    "      --connect-timeout S  connection time limit (default 10)\n"
    "      --user-agent S       the User-Agent (default " CRAWL_USER_AGENT ")\n"
    "      --json               JSON lines, skipped URLs as {\"skipped\": reason}\n"
    "      --csv                CSV with a header row\n"
    "      --compare            crawl with 1 worker, then with N; print the speedup\n"
    "      --timeline           print a per-worker timeline after the crawl\n"
    "      --trace FILE         write a Chrome Trace Event file (open in Perfetto)\n"
    "  -q, --quiet              summary only\n"
    "  -h, --help               this text\n"
    "\n"
    "Exit status: 0 every page fetched fine, 1 some page failed (an HTTP error\n"
    "status or a transfer error), 2 bad usage, 130 interrupted.\n";

enum {
    OPT_MAX_PAGES = 256,
    OPT_MAX_BYTES,
    OPT_PER_HOST,
    OPT_DELAY,
    OPT_DOMAIN,
    OPT_ALLOW,
    OPT_DENY,
    OPT_NO_ROBOTS,
    OPT_RETRIES,
    OPT_TIMEOUT,
    OPT_CONNECT_TIMEOUT,
    OPT_USER_AGENT,
    OPT_JSON,
    OPT_CSV,
    OPT_COMPARE,
    OPT_TIMELINE,
    OPT_TRACE,
};

static const struct option long_opts[] = {
    {"depth", required_argument, NULL, 'd'},
    {"jobs", required_argument, NULL, 'j'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"max-pages", required_argument, NULL, OPT_MAX_PAGES},
    {"max-bytes", required_argument, NULL, OPT_MAX_BYTES},
    {"per-host", required_argument, NULL, OPT_PER_HOST},
    {"delay", required_argument, NULL, OPT_DELAY},
    {"domain", no_argument, NULL, OPT_DOMAIN},
    {"allow", required_argument, NULL, OPT_ALLOW},
    {"deny", required_argument, NULL, OPT_DENY},
    {"no-robots", no_argument, NULL, OPT_NO_ROBOTS},
    {"retries", required_argument, NULL, OPT_RETRIES},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
    {"user-agent", required_argument, NULL, OPT_USER_AGENT},
    {"json", no_argument, NULL, OPT_JSON},
    {"csv", no_argument, NULL, OPT_CSV},
    {"compare", no_argument, NULL, OPT_COMPARE},
    {"timeline", no_argument, NULL, OPT_TIMELINE},
    {"trace", required_argument, NULL, OPT_TRACE},
    {NULL, 0, NULL, 0},
};

static int push_pattern(const char ***v, size_t *n, const char *p)
{
    const char **nv = realloc(*v, (*n + 1) * sizeof *nv);
    if (!nv)
        return ENOMEM;
    nv[(*n)++] = p;
    *v = nv;
    return 0;
}

int crawl_parse_args(int argc, char **argv, crawl_opts *o, FILE *out, FILE *err)
{
    crawl_opts_default(o);
    bool json = false, csv = false;
    unsigned long long v;
    opterr = 0;
    optind = 0; /* glibc: start afresh, so tests can parse twice */
    int c, idx, rc = 0;
    while (rc == 0 && (c = getopt_long(argc, argv, ":d:j:qh", long_opts, &idx)) != -1) {
        switch (c) {
        case 'd':
            if (!args_ull(optarg, 0, 100000, &v))
                rc = args_usage_error(err, "crawl",
                                      "--depth wants a number from 0 to 100000, not '%s'", optarg);
            o->depth = (unsigned)v;
            break;
        case 'j':
            if (!args_ull(optarg, 1, 4096, &v))
                rc = args_usage_error(
                    err, "crawl", "-j wants a number of workers from 1 to 4096, not '%s'", optarg);
            o->jobs = (unsigned)v;
            break;
        case 'q':
            o->quiet = true;
            break;
        case 'h':
            fputs(usage_text, out);
            crawl_opts_free(o);
            return 1;
        case OPT_MAX_PAGES:
            if (!args_ull(optarg, 1, 1000000000ull, &v))
                rc = args_usage_error(err, "crawl", "--max-pages wants a number above 0, not '%s'",
                                      optarg);
            o->max_pages = (size_t)v;
            break;
        case OPT_MAX_BYTES:
            if (!args_ull(optarg, 1, 1ull << 40, &v))
                rc = args_usage_error(
                    err, "crawl", "--max-bytes wants a number of bytes above 0, not '%s'", optarg);
            o->max_bytes = (long long)v;
            break;
        case OPT_PER_HOST:
            if (!args_ull(optarg, 0, 100000, &v))
                rc = args_usage_error(err, "crawl",
                                      "--per-host wants a number (0: no limit), not '%s'", optarg);
            o->per_host = (unsigned)v;
            break;
        case OPT_DELAY:
            if (!args_seconds(optarg, &o->delay))
                rc = args_usage_error(err, "crawl", "--delay wants seconds (e.g. 0.5), not '%s'",
                                      optarg);
            break;
        case OPT_DOMAIN:
            o->domain = true;
            break;
        case OPT_ALLOW:
            if (push_pattern(&o->allow, &o->nallow, optarg) != 0)
                rc = args_usage_error(err, "crawl", "%s", "out of memory");
            break;
        case OPT_DENY:
            if (push_pattern(&o->deny, &o->ndeny, optarg) != 0)
                rc = args_usage_error(err, "crawl", "%s", "out of memory");
            break;
        case OPT_NO_ROBOTS:
            o->robots = false;
            break;
        case OPT_RETRIES:
            if (!args_ull(optarg, 0, 100, &v))
                rc = args_usage_error(err, "crawl",
                                      "--retries wants a number from 0 to 100, not '%s'", optarg);
            o->retries = (unsigned)v;
            break;
        case OPT_TIMEOUT:
            if (!args_seconds(optarg, &o->timeout))
                rc = args_usage_error(err, "crawl", "--timeout wants seconds (e.g. 2.5), not '%s'",
                                      optarg);
            break;
        case OPT_CONNECT_TIMEOUT:
            if (!args_seconds(optarg, &o->connect_timeout))
                rc = args_usage_error(err, "crawl", "--connect-timeout wants seconds, not '%s'",
                                      optarg);
            break;
        case OPT_USER_AGENT:
            o->user_agent = optarg;
            break;
        case OPT_JSON:
            json = true;
            break;
        case OPT_CSV:
            csv = true;
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
            rc = args_usage_error(err, "crawl", "option '%s' needs a value", argv[optind - 1]);
            break;
        default:
            rc = args_usage_error(err, "crawl", "unknown option '%s'", argv[optind - 1]);
            break;
        }
    }
    if (rc == 0 && json && csv)
        rc = args_usage_error(err, "crawl", "%s", "--json and --csv exclude each other");
    if (rc == 0 && optind != argc - 1)
        rc = args_usage_error(err, "crawl", "%s",
                              optind >= argc ? "no URL given" : "give exactly one URL");
    if (rc != 0) {
        crawl_opts_free(o);
        return 2;
    }
    o->format = json ? REPORT_JSON : csv ? REPORT_CSV : REPORT_TABLE;
    o->start_url = argv[optind];
    return 0;
}

/* ---------------------------------------------------------------- scope */

typedef struct scope {
    char *authority; /* host[:port] of the start URL */
    char host[256];
    const crawl_opts *o;
} scope;

static bool pattern_match(const char *pat, const char *url)
{
    if (strpbrk(pat, "*?["))
        return fnmatch(pat, url, 0) == 0;
    return strstr(url, pat) != NULL;
}

/* SKIP_NONE when url (normalised) is in scope, else why not. */
static crawl_skip scope_check(const scope *sc, const char *url)
{
    char origin[URLNORM_MAX + 8];
    if (!urlnorm_origin(url, origin, sizeof origin))
        return SKIP_SCHEME;
    const char *auth = strstr(origin, "://") + 3;
    if (sc->o->domain) {
        char host[256];
        if (!urlnorm_host(url, host, sizeof host))
            return SKIP_OFFSITE;
        size_t hl = strlen(host), sl = strlen(sc->host);
        if (!(strcmp(host, sc->host) == 0 ||
              (hl > sl && host[hl - sl - 1] == '.' && strcmp(host + hl - sl, sc->host) == 0)))
            return SKIP_OFFSITE;
    } else if (strcmp(auth, sc->authority) != 0) {
        return SKIP_OFFSITE;
    }
    for (size_t i = 0; i < sc->o->ndeny; i++)
        if (pattern_match(sc->o->deny[i], url))
            return SKIP_FILTERED;
    if (sc->o->nallow == 0)
        return SKIP_NONE;
    for (size_t i = 0; i < sc->o->nallow; i++)
        if (pattern_match(sc->o->allow[i], url))
            return SKIP_NONE;
    return SKIP_FILTERED;
}

/* ---------------------------------------------------------------- a run */

typedef struct crawl_ctx {
    const crawl_opts *o;
    frontier *f;
    scope sc;
    CURLSH *share;
    weft_lock *share_locks[CURL_LOCK_DATA_LAST];
    weft_lock *out; /* serialises fn and the result */
    crawl_record_fn *fn;
    void *ud;
    crawl_result *res;
    double t0;
} crawl_ctx;

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
    crawl_ctx *c = ud;
    if ((unsigned)data >= CURL_LOCK_DATA_LAST)
        return;
    /* curl cannot be told "no": wait out a cancellation like http.c does. */
    while (weft_lock_acquire(c->share_locks[data], WEFT_FOREVER) != 0)
        if (weft_lock_acquire(c->share_locks[data], 0) == 0)
            return;
        else
            sched_yield();
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
    crawl_ctx *c = ud;
    if ((unsigned)data < CURL_LOCK_DATA_LAST)
        weft_lock_release(c->share_locks[data]);
}

static void out_lock(crawl_ctx *c)
{
    while (weft_lock_acquire(c->out, WEFT_FOREVER) != 0)
        if (weft_lock_acquire(c->out, 0) == 0)
            return;
        else
            sched_yield();
}

static crawl_level *level_of(crawl_result *r, unsigned depth)
{
    if (depth >= r->nlevels) {
        size_t n = (size_t)depth + 1;
        crawl_level *l = realloc(r->levels, n * sizeof *l);
        if (!l)
            return NULL;
        for (size_t i = r->nlevels; i < n; i++)
            l[i] = (crawl_level){.first = INFINITY, .last = 0};
        r->levels = l;
        r->nlevels = n;
    }
    return &r->levels[depth];
}

/* Records go out in batches (a page and its skipped links) under one
 * acquisition of the output lock. */
static void emit(crawl_ctx *c, const crawl_record *recs, size_t n)
{
    out_lock(c);
    crawl_result *r = c->res;
    for (size_t i = 0; i < n; i++) {
        const crawl_record *rec = &recs[i];
        if (rec->skip != SKIP_NONE) {
            r->skipped[rec->skip]++;
        } else {
            r->pages++;
            r->bytes += rec->bytes;
            r->checksum += frontier_hash(rec->url);
            bool failed = rec->error != NULL;
            if (failed)
                r->errors++;
            crawl_level *l = level_of(r, rec->depth);
            if (l) {
                l->pages++;
                l->errors += failed;
                l->bytes += rec->bytes;
                if (rec->start < l->first)
                    l->first = rec->start;
                if (rec->end > l->last)
                    l->last = rec->end;
            }
        }
        if (c->fn)
            c->fn(c->ud, rec);
    }
    weft_lock_release(c->out);
}

static void emit_skip(crawl_ctx *c, crawl_skip why, const char *url, const char *parent,
                      unsigned depth)
{
    crawl_record r = {.skip = why, .url = url, .parent = parent, .depth = depth, .worker = -1};
    emit(c, &r, 1);
}

/* -------------------------------------------------------------- fetching */

typedef struct body {
    CURL *h;
    const crawl_opts *o;
    long long bytes, max;
    bool truncated;
    bool checked, is_html, parse_failed;
    html_parser *parser;
    /* robots.txt: the body itself */
    char *buf;
    size_t len, cap;
    bool keep;
} body;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    body *b = ud;
    size_t n = size * nmemb;
    if (!b->checked) {
        /* The headers are in: decide once whether this body is parsed. */
        b->checked = true;
        char *ct = NULL;
        long status = 0;
        curl_easy_getinfo(b->h, CURLINFO_CONTENT_TYPE, &ct);
        curl_easy_getinfo(b->h, CURLINFO_RESPONSE_CODE, &status);
        b->is_html = html_is_html_type(ct);
        if (b->is_html && status >= 200 && status < 300 && !b->keep) {
            char cs[64];
            html_content_charset(ct, cs, sizeof cs);
            if (html_parser_new(&b->parser, cs) != 0)
                b->parse_failed = true;
        }
    }
    size_t take = n;
    if ((long long)take > b->max - b->bytes) {
        take = (size_t)(b->max - b->bytes);
        b->truncated = true;
    }
    if (b->parser)
        html_parser_feed(b->parser, ptr, take);
    if (b->keep && take > 0) {
        if (b->len + take > b->cap) {
            size_t cap = b->cap ? b->cap : 4096;
            while (cap < b->len + take)
                cap *= 2;
            char *nb = realloc(b->buf, cap);
            if (!nb)
                return 0;
            b->buf = nb;
            b->cap = cap;
        }
        memcpy(b->buf + b->len, ptr, take);
        b->len += take;
    }
    b->bytes += (long long)take;
    /* Returning less than n ends the transfer (CURLE_WRITE_ERROR): the cut. */
    return b->truncated ? take : n;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    return (atomic_load(&fetch_stop) || weft_cancelled()) ? 1 : 0;
}

static CURL *handle_new(crawl_ctx *c)
{
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
    const crawl_opts *o = c->o;
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_SHARE, c->share);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    /* A redirect loop ends here with CURLE_TOO_MANY_REDIRECTS. */
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, o->user_agent);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    if (o->timeout > 0)
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(o->timeout * 1000 + 0.5));
    if (o->connect_timeout > 0)
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(o->connect_timeout * 1000 + 0.5));
    return h;
}

/* One transfer into b. Returns the CURLcode, with a truncation at
 * --max-bytes counted as success. */
static CURLcode transfer(CURL *h, const char *url, body *b, char *errbuf)
{
    errbuf[0] = '\0';
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode cc = curl_easy_perform(h);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);
    if (cc == CURLE_WRITE_ERROR && b->truncated)
        cc = CURLE_OK;
    return cc;
}

static void fetch_robots(crawl_ctx *c, CURL *h, const frontier_item *it)
{
    char url[URLNORM_MAX + 32];
    snprintf(url, sizeof url, "%s/robots.txt", it->url);
    body b = {.h = h, .o = c->o, .max = ROBOTS_MAX_BYTES, .keep = true};
    char errbuf[CURL_ERROR_SIZE];
    long status = 0;
    CURLcode cc = transfer(h, url, &b, errbuf);
    if (cc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    robots *rb = NULL;
    /* Out of memory: no rules is the only answer we can give. */
    robots_from_response(status, b.buf ? b.buf : "", b.len, CRAWL_PRODUCT, &rb);
    free(b.buf);
    frontier_robots_done(c->f, it, rb);
}

/* Uniform in [0, 1), per thread, for the backoff's jitter. */
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

/* The links of a parsed page, resolved and classified, handed to the
 * frontier, and the resulting records (the page first) emitted. */
static void expand(crawl_ctx *c, const frontier_item *it, crawl_record *page, html_page *hp,
                   const char *base_url)
{
    size_t n = hp->nlinks;
    frontier_link *links = calloc(n ? n : 1, sizeof *links);
    char **norm = calloc(n ? n : 1, sizeof *norm);
    crawl_record *recs = calloc(n + 1, sizeof *recs);
    if (!links || !norm || !recs) {
        page->error = "out of memory while following links";
        emit(c, page, 1);
        free(links);
        free(norm);
        free(recs);
        return;
    }
    char *base = NULL;
    if (hp->base && urlnorm_resolve(base_url, hp->base, &base) != URLNORM_OK)
        base = NULL;
    size_t nl = 0, nr = 1;
    recs[0] = *page;
    for (size_t i = 0; i < n; i++) {
        char *u = NULL;
        urlnorm_status st = urlnorm_resolve(base ? base : base_url, hp->links[i], &u);
        if (st != URLNORM_OK) {
            recs[nr++] = (crawl_record){.skip = SKIP_SCHEME,
                                        .url = hp->links[i],
                                        .parent = it->url,
                                        .depth = it->depth + 1,
                                        .worker = -1};
            continue;
        }
        norm[nl] = u;
        links[nl].url = u;
        links[nl].pre = scope_check(&c->sc, u);
        nl++;
    }
    frontier_add_links(c->f, links, nl, it->url, it->depth);
    for (size_t i = 0; i < nl; i++) {
        if (links[i].result != SKIP_NONE)
            recs[nr++] = (crawl_record){.skip = links[i].result,
                                        .url = links[i].url,
                                        .parent = it->url,
                                        .depth = it->depth + 1,
                                        .worker = -1};
        else if (links[i].lowered)
            /* An earlier sighting at a greater depth: what a sequential
             * crawl would have reported as the duplicate. */
            recs[nr++] = (crawl_record){.skip = SKIP_DUPLICATE,
                                        .url = links[i].url,
                                        .parent = links[i].dup_parent,
                                        .depth = links[i].dup_depth,
                                        .worker = -1};
    }
    emit(c, recs, nr);
    for (size_t i = 0; i < nl; i++)
        free(norm[i]);
    free(base);
    free(links);
    free(norm);
    free(recs);
}

static void fetch_page(crawl_ctx *c, CURL *h, const frontier_item *it, int worker)
{
    const crawl_opts *o = c->o;
    body b = {.h = h, .o = o, .max = o->max_bytes};
    char errbuf[CURL_ERROR_SIZE];
    char errmsg[CURL_ERROR_SIZE + 64];
    double start = weft_monotonic() - c->t0;
    CURLcode cc = transfer(h, it->url, &b, errbuf);
    double end = weft_monotonic() - c->t0;
    long status = 0;
    char *eff = NULL, *ct = NULL;
    curl_off_t total = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &eff);
    curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
    curl_easy_getinfo(h, CURLINFO_TOTAL_TIME_T, &total);

    if (cc == CURLE_ABORTED_BY_CALLBACK) {
        /* Ctrl-C: the page is neither done nor failed; just let go. */
        html_parser_free(b.parser);
        frontier_page_done(c->f, it);
        return;
    }
    if (it->attempt < o->retries && retry_should((int)cc, cc == CURLE_OK ? status : 0)) {
        double ra = -1;
        struct curl_header *hdr;
        if (cc == CURLE_OK &&
            curl_easy_header(h, "Retry-After", 0, CURLH_HEADER, -1, &hdr) == CURLHE_OK)
            ra = retry_after_parse(hdr->value, time(NULL));
        html_parser_free(b.parser);
        frontier_retry(c->f, it, retry_delay(it->attempt, ra, jitter()));
        return;
    }

    crawl_record rec = {.url = it->url,
                        .parent = it->parent,
                        .depth = it->depth,
                        .final_url = eff ? eff : it->url,
                        .status = cc == CURLE_OK ? status : 0,
                        .title = "",
                        .content_type = ct ? ct : "",
                        .bytes = b.bytes,
                        .truncated = b.truncated,
                        .attempts = it->attempt + 1,
                        .time = (double)total / 1e6,
                        .start = start,
                        .end = end,
                        .worker = worker};
    if (cc != CURLE_OK) {
        if (cc == CURLE_TOO_MANY_REDIRECTS)
            snprintf(errmsg, sizeof errmsg, "too many redirects (a loop?): %s",
                     errbuf[0] ? errbuf : curl_easy_strerror(cc));
        else
            snprintf(errmsg, sizeof errmsg, "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
        rec.error = errmsg;
    } else if (status >= 400) {
        snprintf(errmsg, sizeof errmsg, "HTTP %ld", status);
        rec.error = errmsg;
    }

    html_page hp = {0};
    bool follow = false;
    char *final = NULL;
    if (b.parser) {
        if (html_parser_finish(b.parser, &hp) != 0 && !rec.error)
            rec.error = "out of memory while parsing";
        html_parser_free(b.parser);
        b.parser = NULL;
        rec.parsed = true;
        rec.title = hp.title;
        rec.words = hp.words;
        rec.links = hp.nlinks + hp.dropped;
        follow = cc == CURLE_OK && status >= 200 && status < 300;
    }
    if (follow && eff && urlnorm(eff, &final) == URLNORM_OK && strcmp(final, it->url) != 0) {
        /* Redirected: follow the target's links only if the target is in
         * scope and nobody else has it (else it is fetched, or skipped, as
         * itself). */
        if (scope_check(&c->sc, final) != SKIP_NONE || !frontier_claim(c->f, final))
            follow = false;
    }
    if (follow)
        expand(c, it, &rec, &hp, final ? final : it->url);
    else
        emit(c, &rec, 1);
    free(final);
    html_page_free(&hp);
    frontier_page_done(c->f, it);
}

/* weft_fn: one worker, for the whole crawl. */
static int worker_main(void *arg, void **result)
{
    crawl_ctx *c = arg;
    int worker = weft_executor_current_worker();
    CURL *h = handle_new(c);
    if (!h)
        return ENOMEM;
    for (;;) {
        frontier_item it;
        int rc = frontier_next(c->f, &it);
        if (rc != 0)
            break;
        switch (it.kind) {
        case FRONTIER_SKIP:
            emit_skip(c, it.skip, it.url, it.parent, it.depth);
            break;
        case FRONTIER_ROBOTS:
            fetch_robots(c, h, &it);
            break;
        case FRONTIER_PAGE:
            fetch_page(c, h, &it, worker);
            break;
        }
    }
    curl_easy_cleanup(h);
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

void crawl_result_free(crawl_result *r)
{
    free(r->levels);
    r->levels = NULL;
    r->nlevels = 0;
}

int crawl_run(const crawl_opts *o, unsigned workers, crawl_record_fn *fn, void *ud,
              crawl_result *res)
{
    memset(res, 0, sizeof *res);
    crawl_ctx c = {.o = o, .fn = fn, .ud = ud, .res = res};
    weft_executor *ex = NULL;
    weft_group *g = NULL;
    char *start = NULL;
    int rc;
    if (workers == 0)
        workers = 1;
    urlnorm_status st = urlnorm(o->start_url, &start);
    if (st != URLNORM_OK) {
        res->error = st == URLNORM_NOMEM ? ENOMEM : EINVAL;
        return res->error;
    }
    c.sc.o = o;
    char origin[URLNORM_MAX + 8];
    if (!urlnorm_origin(start, origin, sizeof origin) ||
        !urlnorm_host(start, c.sc.host, sizeof c.sc.host)) {
        free(start);
        res->error = EINVAL;
        return EINVAL;
    }
    c.sc.authority = strdup(strstr(origin, "://") + 3);
    if (!c.sc.authority) {
        rc = ENOMEM;
        goto out;
    }
    frontier_opts fo = {.max_depth = o->depth,
                        .max_pages = o->max_pages,
                        .per_host = o->per_host,
                        .min_delay = o->delay,
                        .robots = o->robots,
                        .stop = &fetch_stop};
    if ((rc = frontier_new(&c.f, &fo)) != 0 || (rc = weft_lock_new(&c.out)) != 0)
        goto out;
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        if ((rc = weft_lock_new(&c.share_locks[i])) != 0)
            goto out;
    rc = ENOMEM;
    c.share = curl_share_init();
    if (!c.share)
        goto out;
    curl_share_setopt(c.share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(c.share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(c.share, CURLSHOPT_USERDATA, &c);
    curl_share_setopt(c.share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(c.share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    if ((rc = frontier_seed(c.f, start)) != 0)
        goto out;

    weft_executor_opts eo = {.max_workers = workers, .thread_name_prefix = "crawl"};
    if ((rc = weft_executor_new(&ex, &eo)) != 0 || (rc = weft_group_new(&g, ex, NULL)) != 0)
        goto out;
    double cpu0 = cpu_seconds();
    c.t0 = weft_monotonic();
    unsigned spawned = 0;
    for (; spawned < workers; spawned++)
        if ((rc = weft_group_spawn(g, worker_main, &c, NULL)) != 0)
            break;
    /* Workers that did start carry the crawl; one that could not start only
     * means fewer workers. */
    if (spawned > 0)
        rc = 0;
    int wrc = weft_group_wait(g, WEFT_FOREVER);
    res->wall = weft_monotonic() - c.t0;
    res->cpu = cpu_seconds() - cpu0;
    if (wrc != 0 && wrc != ECANCELED) {
        const char *msg = NULL;
        rc = weft_group_error(g, 0, &msg, NULL);
        if (rc == 0)
            rc = wrc;
    }
    res->interrupted = atomic_load(&fetch_stop);
    frontier_stats fs;
    frontier_stats_get(c.f, &fs);
    res->seen = fs.seen;
    res->set_bytes = fs.arena_bytes;
out:
    weft_group_free(g);
    weft_executor_free(ex);
    if (c.share)
        curl_share_cleanup(c.share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        weft_lock_free(c.share_locks[i]);
    weft_lock_free(c.out);
    frontier_free(c.f);
    free(c.sc.authority);
    free(start);
    if (rc != 0 && rc != EEXIST)
        res->error = rc;
    return rc == EEXIST ? 0 : rc;
}

/* ---------------------------------------------------------------- output */

static void record_json(FILE *out, const crawl_record *r)
{
    fputs("{\"url\":", out);
    report_json_string(out, r->url);
    fputs(",\"parent\":", out);
    report_json_string(out, r->parent);
    fprintf(out, ",\"depth\":%u", r->depth);
    if (r->skip != SKIP_NONE) {
        fputs(",\"skipped\":", out);
        report_json_string(out, crawl_skip_name(r->skip));
        fputs("}\n", out);
        return;
    }
    fputs(",\"final_url\":", out);
    report_json_string(out, r->final_url);
    fprintf(out, ",\"status\":%ld,\"title\":", r->status);
    report_json_string(out, r->title);
    fprintf(out, ",\"words\":%lu,\"links\":%zu,\"content_type\":", r->words, r->links);
    report_json_string(out, r->content_type);
    fprintf(out,
            ",\"bytes\":%lld,\"truncated\":%s,\"parsed\":%s,\"attempts\":%u,\"time\":%.6f,"
            "\"worker\":%d,\"error\":",
            r->bytes, r->truncated ? "true" : "false", r->parsed ? "true" : "false", r->attempts,
            r->time, r->worker);
    report_json_string(out, r->error);
    fputs("}\n", out);
}

void crawl_record_json(FILE *out, const crawl_record *r)
{
    flockfile(out); /* one lock for the whole record: the calls inside recurse */
    record_json(out, r);
    funlockfile(out);
}

void crawl_csv_header(FILE *out)
{
    fputs("url,final_url,status,depth,parent,title,words,links,content_type,bytes,time,"
          "skipped,error\n",
          out);
}

void crawl_record_csv(FILE *out, const crawl_record *r)
{
    bool page = r->skip == SKIP_NONE;
    report_csv_field(out, r->url);
    putc(',', out);
    report_csv_field(out, page ? r->final_url : "");
    if (page)
        fprintf(out, ",%ld,%u,", r->status, r->depth);
    else
        fprintf(out, ",,%u,", r->depth);
    report_csv_field(out, r->parent ? r->parent : "");
    putc(',', out);
    report_csv_field(out, page ? r->title : "");
    if (page)
        fprintf(out, ",%lu,%zu,", r->words, r->links);
    else
        fputs(",,,", out);
    report_csv_field(out, page ? r->content_type : "");
    if (page)
        fprintf(out, ",%lld,%.6f,,", r->bytes, r->time);
    else
        fprintf(out, ",,,%s,", crawl_skip_name(r->skip));
    report_csv_field(out, r->error ? r->error : "");
    putc('\n', out);
}

static void table_header(FILE *out)
{
    fprintf(out, "%6s %5s %6s %5s %8s  %-40s %s\n", "STATUS", "DEPTH", "WORDS", "LINKS", "TIME",
            "URL", "TITLE");
}

static void table_row(FILE *out, const crawl_record *r)
{
    char status[24];
    if (r->status > 0)
        snprintf(status, sizeof status, "%ld", r->status);
    else
        snprintf(status, sizeof status, "ERR");
    fprintf(out, "%6s %5u %6lu %5zu %7.3fs  %-40s %.40s", status, r->depth, r->words, r->links,
            r->time, r->url, r->title);
    if (r->error)
        fprintf(out, "  (%s)", r->error);
    putc('\n', out);
}

void crawl_summary(FILE *out, const crawl_result *r, const char *label)
{
    char b[32];
    report_bytes(b, sizeof b, r->bytes);
    fprintf(out, "%s%s%zu pages (%zu ok, %zu failed), %s in %.2fs (%.1f pages/s",
            label ? label : "", label ? ": " : "", r->pages, r->pages - r->errors, r->errors, b,
            r->wall, r->wall > 0 ? r->pages / r->wall : 0.0);
    if (r->cpu > 0)
        fprintf(out, ", %.2fs CPU, %.2f ms CPU/page", r->cpu,
                r->pages ? 1e3 * r->cpu / (double)r->pages : 0.0);
    fputs(")\n", out);
    size_t skipped = 0;
    for (int i = 1; i < SKIP_N; i++)
        skipped += r->skipped[i];
    fprintf(out, "Skipped %zu URLs:", skipped);
    for (int i = 1; i < SKIP_N; i++)
        fprintf(out, "%s %s %zu", i == 1 ? "" : ",", crawl_skip_name((crawl_skip)i), r->skipped[i]);
    fputc('\n', out);
    if (r->nlevels == 0)
        return;
    fprintf(out, "%5s %7s %7s %10s %8s\n", "DEPTH", "PAGES", "ERRORS", "BYTES", "TIME");
    for (size_t d = 0; d < r->nlevels; d++) {
        const crawl_level *l = &r->levels[d];
        if (l->pages == 0)
            continue;
        report_bytes(b, sizeof b, l->bytes);
        fprintf(out, "%5zu %7zu %7zu %10s %7.2fs\n", d, l->pages, l->errors, b,
                l->last > l->first ? l->last - l->first : 0.0);
    }
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
                    table_header(p->rows);
                table_row(p->rows, r);
                p->table_rows++;
            } else {
                p->table_more++;
            }
            break;
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

int cmd_crawl(int argc, char **argv)
{
    crawl_opts o;
    int rc = crawl_parse_args(argc, argv, &o, stdout, stderr);
    if (rc == 1)
        return 0;
    if (rc != 0)
        return 2;
    char *check = NULL;
    urlnorm_status st = urlnorm(o.start_url, &check);
    free(check);
    if (st != URLNORM_OK) {
        fprintf(stderr, "weft crawl: '%s' is not an http(s) URL (%s)\nTry 'weft crawl --help'.\n",
                o.start_url, urlnorm_strstatus(st));
        crawl_opts_free(&o);
        return 2;
    }
    trace tr = {0};
    if (o.trace && (rc = trace_open(&tr, o.trace)) != 0) {
        fprintf(stderr, "weft crawl: --trace %s: %s\n", o.trace, strerror(rc));
        crawl_opts_free(&o);
        return 2;
    }
    html_global_init();
    fetch_install_signals();
    FILE *info = o.format == REPORT_TABLE ? stdout : stderr;
    timeline tl1, tl2;
    timeline_init(&tl1);
    timeline_init(&tl2);
    crawl_result seq = {0}, thr = {0};
    bool *traced = calloc(o.jobs, sizeof *traced);
    if (!traced) {
        fprintf(stderr, "weft crawl: out of memory\n");
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
    if (rc != 0) {
        fprintf(stderr, "weft crawl: %s\n", weft_strerror(rc));
    } else {
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
            crawl_summary(info, &thr, thr.interrupted ? "Interrupted" : "Crawled");
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
    if (o.trace) {
        int trc = trace_close(&tr);
        if (trc)
            fprintf(stderr, "weft crawl: --trace %s: %s\n", o.trace, strerror(trc));
        else
            fprintf(info, "Trace written to %s (open it in https://ui.perfetto.dev)\n", o.trace);
    }
    int status = rc != 0 ? 1 : exit_status(&thr);
    if (o.compare && rc == 0 && exit_status(&seq) > status)
        status = exit_status(&seq);
    timeline_free(&tl1);
    timeline_free(&tl2);
    crawl_result_free(&seq);
    crawl_result_free(&thr);
    free(traced);
    crawl_opts_free(&o);
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
