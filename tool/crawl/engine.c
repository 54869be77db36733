/* crawl/engine.c: one crawl: the workers (fetch, parse, resolve links, hand
 * them to the frontier) and the scope rules (same host, --domain,
 * --allow/--deny).
 *
 * DESIGN: see crawl.h and frontier.h. Lock order: the frontier's lock and
 * the output lock are never held together (records are emitted after
 * frontier calls return); curl's share locks are taken only inside curl,
 * with neither held. */
#include "cli/args.h"
#include "crawl/crawl.h"
#include "commands.h"
#include "fetch/fetch.h"
#include "parse/html.h"
#include "http/retry.h"
#include "output/timeline.h"
#include "parse/urlnorm.h"

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
