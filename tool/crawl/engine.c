/* crawl/engine.c: one crawl: the workers (fetch, parse, resolve links, hand
 * them to the frontier) and the scope rules (same host, --domain,
 * --allow/--deny).
 *
 * DESIGN: see crawl.h and frontier.h. Lock order: the frontier's lock and
 * the output lock are never held together (records are emitted after
 * frontier calls return); curl's share locks are taken only inside curl,
 * with neither held. */
#include "crawl/crawl.h"
#include "crawl/frontier-redis.h"
#include "crawl/state.h"
#include "http/http.h"
#include "http/retry.h"
#include "output/report.h"
#include "parse/html.h"
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
#include <unistd.h>

/* ---------------------------------------------------------------- scope */

typedef struct scope {
    char *origin; /* "scheme://host[:port]" of the start URL */
    char host[256];
    const crawl_opts *o;
} scope;

static bool pattern_match(const char *pat, const char *url)
{
    if (strpbrk(pat, "*?["))
        return fnmatch(pat, url, 0) == 0;
    return strstr(url, pat) != NULL;
}

/* The ":port" of an origin's authority ("" for the scheme's default, which
 * normalisation drops). */
static const char *origin_port(const char *origin)
{
    const char *auth = strstr(origin, "://");
    auth = auth ? auth + 3 : origin;
    if (*auth == '[') {
        const char *e = strchr(auth, ']');
        return e ? e + 1 : "";
    }
    const char *c = strrchr(auth, ':');
    return c ? c : "";
}

/* SKIP_NONE when url (normalised) is in scope, else why not. Scope is the
 * start URL's origin: scheme, host and port all equal. --domain widens only
 * the host, to its subdomains: the scheme and port must still match, so a
 * page cannot steer the crawler at another service of the same host. */
static crawl_skip scope_check(const scope *sc, const char *url)
{
    char origin[URLNORM_MAX + 8];
    if (!urlnorm_origin(url, origin, sizeof origin))
        return SKIP_SCHEME;
    if (sc->o->domain) {
        char host[256];
        if (!urlnorm_host(url, host, sizeof host))
            return SKIP_OFFSITE;
        size_t hl = strlen(host), sl = strlen(sc->host);
        if (!(strcmp(host, sc->host) == 0 ||
              (hl > sl && host[hl - sl - 1] == '.' && strcmp(host + hl - sl, sc->host) == 0)))
            return SKIP_OFFSITE;
        size_t sch = (size_t)(strstr(origin, "://") - origin);
        if (strncmp(origin, sc->origin, sch + 3) != 0 ||
            strcmp(origin_port(origin), origin_port(sc->origin)) != 0)
            return SKIP_OFFSITE;
    } else if (strcmp(origin, sc->origin) != 0) {
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
    http_client *http;
    atomic_bool *stop; /* o->stop, or a flag nobody sets */
    weft_lock *out;    /* serialises fn and the result */
    crawl_record_fn *fn;
    void *ud;
    crawl_result *res;
    double t0;
    char product[64]; /* robots.txt product token */
} crawl_ctx;

static void out_lock(crawl_ctx *c)
{
    while (weft_lock_acquire(c->out, WEFT_FOREVER) != 0)
        if (weft_lock_acquire(c->out, 0) == 0)
            return;
        else
            sched_yield();
}

/* Records go out in batches (a page and its skipped links): first to the
 * frontier, which keeps them with the page when it is durable, then under
 * one acquisition of the output lock to the result and the callback. */
static void emit_counting(crawl_ctx *c, frontier_item *it, crawl_record *recs, size_t n,
                          size_t unwritten_dups)
{
    /* The first record is the page's, whenever there are duplicates. */
    if (n > 0 && recs[0].skip == SKIP_NONE)
        recs[0].dups = unwritten_dups;
    frontier_records(c->f, it, recs, n);
    out_lock(c);
    crawl_result *r = c->res;
    for (size_t i = 0; i < n; i++) {
        const crawl_record *rec = &recs[i];
        crawl_result_count(r, rec);
        if (c->fn && (rec->skip == SKIP_NONE || c->o->skipped != CRAWL_SKIPPED_NONE))
            c->fn(c->ud, rec);
    }
    weft_lock_release(c->out);
}

static void emit(crawl_ctx *c, frontier_item *it, crawl_record *recs, size_t n)
{
    emit_counting(c, it, recs, n, 0);
}

/* -------------------------------------------------------------- fetching */

typedef struct body {
    bool checked, parse_failed;
    html_parser *parser;
    /* robots.txt: the body itself */
    char *buf;
    size_t len, cap;
    bool keep;
} body;

/* http_body_fn: a page's body goes to the HTML push parser as it arrives
 * (decided once, on the first bytes, from the response's type and status),
 * a robots.txt's into a buffer. */
static bool on_body(void *ud, http_attempt *a, const char *ptr, size_t n)
{
    body *b = ud;
    if (!b->checked) {
        b->checked = true;
        if (!b->keep && html_is_html_type(a->content_type) && a->status >= 200 && a->status < 300) {
            char cs[64];
            html_content_charset(a->content_type, cs, sizeof cs);
            if (html_parser_new(&b->parser, cs) != 0)
                b->parse_failed = true;
        }
    }
    if (b->parser)
        html_parser_feed(b->parser, ptr, n);
    if (b->keep) {
        if (b->len + n > b->cap) {
            size_t cap = b->cap ? b->cap : 4096;
            while (cap < b->len + n)
                cap *= 2;
            char *nb = realloc(b->buf, cap);
            if (!nb) {
                snprintf(a->error, sizeof a->error, "out of memory");
                return false;
            }
            b->buf = nb;
            b->cap = cap;
        }
        memcpy(b->buf + b->len, ptr, n);
        b->len += n;
    }
    return true;
}

/* Normalises a redirect's Location into *out (malloc'd). False when it is
 * not a URL the crawler can request. */
static bool hop_url(const char *location, char **out, crawl_skip *why)
{
    *out = NULL;
    urlnorm_status st = location ? urlnorm(location, out) : URLNORM_BAD;
    if (st != URLNORM_OK) {
        free(*out);
        *out = NULL;
        if (why)
            *why = st == URLNORM_TOO_LONG ? SKIP_TOO_LONG : SKIP_SCHEME;
        return false;
    }
    return true;
}

/* RFC 9309 2.3.1.2: a robots.txt fetch follows at least five redirects,
 * to any host; the rules then apply to the origin that asked. */
#define ROBOTS_MAX_HOPS 5

static void fetch_robots(crawl_ctx *c, frontier_item *it)
{
    char url[URLNORM_MAX + 32];
    snprintf(url, sizeof url, "%s/robots.txt", it->url);
    body b = {.keep = true};
    http_attempt a = {0};
    char *next = NULL;
    long status = 0;
    const char *cur = url;
    for (unsigned hops = 0;; hops++) {
        free(b.buf);
        b = (body){.keep = true};
        http_request rq = {
            .url = cur, .fd = -1, .body = on_body, .ud = &b, .max_bytes = ROBOTS_MAX_BYTES};
        http_attempt_free(&a);
        status = 0;
        if (http_perform(c->http, &rq, &a) != 0 || a.curlcode != 0)
            break;
        status = a.status;
        char *hop;
        if (status < 300 || status >= 400 || hops == ROBOTS_MAX_HOPS ||
            !hop_url(a.location, &hop, NULL))
            break;
        free(next);
        cur = next = hop;
    }
    robots *rb = NULL;
    /* A redirect not followed to its end leaves a 3xx: robots_from_response
     * reads it as "no rules" (RFC 9309: unavailable). Out of memory: no
     * rules is the only answer we can give. */
    robots_from_response(status, b.buf ? b.buf : "", b.len, c->product, &rb);
    frontier_robots_done(c->f, it, rb, status, b.buf ? b.buf : "", b.len);
    free(b.buf);
    free(next);
    http_attempt_free(&a);
}

/* The links of a parsed page, resolved and classified, handed to the
 * frontier, and the resulting records (the page first) emitted. */
static void expand(crawl_ctx *c, frontier_item *it, crawl_record *page, html_page *hp,
                   const char *base_url)
{
    size_t n = hp->nlinks;
    frontier_link *links = calloc(n ? n : 1, sizeof *links);
    char **norm = calloc(n ? n : 1, sizeof *norm);
    crawl_record *recs = calloc(n + 1, sizeof *recs);
    if (!links || !norm || !recs) {
        page->error = "out of memory while following links";
        emit(c, it, page, 1);
        free(links);
        free(norm);
        free(recs);
        return;
    }
    char *base = NULL;
    if (hp->base && urlnorm_resolve(base_url, hp->base, &base) != URLNORM_OK)
        base = NULL;
    /* Links to URLs seen before are counts on the page record
     * (links_seen); only --skipped all writes a "duplicate" record for each. */
    bool all = c->o->skipped == CRAWL_SKIPPED_ALL;
    size_t nl = 0, nr = 1, fresh = 0, seen = 0, dups = 0;
    for (size_t i = 0; i < n; i++) {
        char *u = NULL;
        urlnorm_status st = urlnorm_resolve(base ? base : base_url, hp->links[i], &u);
        if (st != URLNORM_OK) {
            /* Not a URL the crawler can follow: the raw href goes to the
             * frontier with its reason, which marks it seen, so that it is
             * reported once, like any URL (and in the same round trip as
             * the page's other links, for a remote frontier). */
            free(u);
            norm[nl] = NULL;
            links[nl].url = hp->links[i];
            links[nl].pre = st == URLNORM_TOO_LONG ? SKIP_TOO_LONG : SKIP_SCHEME;
            nl++;
            continue;
        }
        norm[nl] = u;
        links[nl].url = u;
        links[nl].pre = scope_check(&c->sc, u);
        nl++;
    }
    frontier_add_links(c->f, it, links, nl);
    for (size_t i = 0; i < nl; i++) {
        if (links[i].result == SKIP_DUPLICATE) {
            seen++;
            if (!all) {
                dups++;
                continue;
            }
        } else if (links[i].lowered) {
            seen++; /* seen deeper first: moved up to here */
        } else {
            fresh++;
        }
        if (links[i].result != SKIP_NONE)
            recs[nr++] = (crawl_record){.skip = links[i].result,
                                        .url = links[i].url,
                                        .parent = it->url,
                                        .depth = it->depth + 1,
                                        .worker = -1};
        else if (links[i].lowered && all)
            /* An earlier sighting at a greater depth: what a sequential
             * crawl would have reported as the duplicate. */
            recs[nr++] = (crawl_record){.skip = SKIP_DUPLICATE,
                                        .url = links[i].url,
                                        .parent = links[i].dup_parent,
                                        .depth = links[i].dup_depth,
                                        .worker = -1};
        else if (links[i].lowered)
            dups++;
    }
    recs[0] = *page;
    recs[0].links_new = fresh;
    recs[0].links_seen = seen;
    emit_counting(c, it, recs, nr, dups);
    for (size_t i = 0; i < nl; i++) {
        free(norm[i]);
        free(links[i].dup_parent);
    }
    free(base);
    free(links);
    free(norm);
    free(recs);
}

/* Redirects a page may take before it is an error. */
#define CRAWL_MAX_HOPS 10

/* A redirect hop the crawler did not take: the target's record. */
typedef struct refused_hop {
    char *url;      /* normalised target (owned), or NULL */
    crawl_skip why; /* why it was not requested */
    bool as_link;   /* its host's robots.txt is not in: queue it as a link */
} refused_hop;

/* Fetches it->url, following redirects hop by hop: each hop must be in
 * scope (origin, filters), new, and allowed by its host's robots.txt
 * before it is requested, so a redirect cannot take the crawler where a
 * link could not. A refused hop ends the page (its record keeps the 3xx)
 * and is reported as a skipped record with its reason. */
static void fetch_page(crawl_ctx *c, frontier_item *it, int worker)
{
    const crawl_opts *o = c->o;
    body b = {0};
    http_attempt a = {0};
    char *chain[CRAWL_MAX_HOPS]; /* the hops taken, owned */
    size_t nchain = 0;
    refused_hop refused = {0};
    const char *hop_error = NULL;
    const char *cur = it->url;
    int prc = 0, cc = 0;
    double start = weft_monotonic() - c->t0;
    for (;;) {
        html_parser_free(b.parser);
        b = (body){0};
        http_request rq = {
            .url = cur, .fd = -1, .body = on_body, .ud = &b, .max_bytes = o->max_bytes};
        http_attempt_free(&a);
        prc = http_perform(c->http, &rq, &a);
        if (prc != 0)
            snprintf(a.error, sizeof a.error, "no HTTP handle: %s", weft_strerror(prc));
        cc = prc != 0 ? -1 : a.curlcode;
        if (cc != 0 || a.status < 300 || a.status >= 400 || !a.location)
            break;
        char *next;
        crawl_skip bad;
        if (!hop_url(a.location, &next, &bad)) {
            refused = (refused_hop){.url = NULL, .why = bad};
            break;
        }
        bool loop = strcmp(next, it->url) == 0;
        for (size_t i = 0; i < nchain && !loop; i++)
            loop = strcmp(next, chain[i]) == 0;
        if (loop) {
            hop_error = "redirect loop";
            free(next);
            break;
        }
        if (nchain == CRAWL_MAX_HOPS) {
            hop_error = "too many redirects (more than 10)";
            free(next);
            break;
        }
        crawl_skip why = scope_check(&c->sc, next);
        if (why == SKIP_NONE) {
            switch (frontier_claim(c->f, it, next)) {
            case CLAIM_OK:
                chain[nchain++] = next;
                cur = next;
                continue;
            case CLAIM_SEEN:
                why = SKIP_DUPLICATE;
                break;
            case CLAIM_ROBOTS:
                why = SKIP_ROBOTS;
                break;
            case CLAIM_UNKNOWN_HOST:
                refused.as_link = true;
                break;
            case CLAIM_BAD:
                why = SKIP_SCHEME;
                break;
            }
        }
        refused.url = next;
        refused.why = why;
        break;
    }
    double end = weft_monotonic() - c->t0;

    if (cc == CURLE_ABORTED_BY_CALLBACK ||
        (prc == 0 && it->attempt < o->retries && retry_should(cc, cc == 0 ? a.status : 0))) {
        /* Ctrl-C: the page is neither done nor failed; let go. Otherwise
         * the whole chain is tried again later. */
        if (cc != CURLE_ABORTED_BY_CALLBACK) {
            double ra = cc == 0 ? a.retry_after : -1;
            frontier_retry(c->f, it, retry_delay(it->attempt, ra, retry_jitter()));
        } else {
            frontier_giveback(c->f, it);
        }
        html_parser_free(b.parser);
        http_attempt_free(&a);
        for (size_t i = 0; i < nchain; i++)
            free(chain[i]);
        free(refused.url);
        return;
    }

    char errmsg[300];
    crawl_record rec = {.url = it->url,
                        .parent = it->parent,
                        .depth = it->depth,
                        .final_url = cur,
                        .status = cc == 0 ? a.status : 0,
                        .title = "",
                        .content_type = a.content_type,
                        .bytes = a.bytes,
                        .wire_bytes = a.wire_bytes,
                        .truncated = a.truncated,
                        .attempts = it->attempt + 1,
                        .time = a.total,
                        .start = start,
                        .end = end,
                        .worker = worker};
    if (cc != 0) {
        snprintf(errmsg, sizeof errmsg, "%s", a.error);
        rec.error = errmsg;
    } else if (hop_error) {
        snprintf(errmsg, sizeof errmsg, "%s: %s", hop_error, a.location ? a.location : "");
        rec.error = errmsg;
    } else if (a.status >= 400) {
        snprintf(errmsg, sizeof errmsg, "HTTP %ld", a.status);
        rec.error = errmsg;
    }

    html_page hp = {0};
    bool follow = false;
    if (b.parser) {
        if (html_parser_finish(b.parser, &hp) != 0 && !rec.error)
            rec.error = "out of memory while parsing";
        html_parser_free(b.parser);
        b.parser = NULL;
        rec.parsed = true;
        rec.title = hp.title;
        rec.words = hp.words;
        rec.links = hp.nlinks + hp.dropped;
        follow = cc == 0 && a.status >= 200 && a.status < 300;
    }
    if (follow) {
        expand(c, it, &rec, &hp, cur);
    } else if (refused.as_link) {
        /* Another origin in scope (--domain) whose robots.txt is not in:
         * the frontier queues the target like a link of this page. */
        frontier_link l = {.url = refused.url, .pre = SKIP_NONE};
        frontier_add_links(c->f, it, &l, 1);
        crawl_record recs[2] = {rec};
        size_t n = 1;
        if (l.result != SKIP_NONE)
            recs[n++] = (crawl_record){.skip = l.result,
                                       .url = l.url,
                                       .parent = it->url,
                                       .depth = it->depth + 1,
                                       .worker = -1};
        emit(c, it, recs, n);
    } else if (refused.url || refused.why == SKIP_SCHEME || refused.why == SKIP_TOO_LONG) {
        crawl_record recs[2] = {rec,
                                {.skip = refused.why,
                                 .url = refused.url ? refused.url : a.location,
                                 .parent = it->url,
                                 .depth = it->depth,
                                 .worker = -1}};
        emit(c, it, recs, recs[1].url ? 2 : 1);
    } else {
        emit(c, it, &rec, 1);
    }
    html_page_free(&hp);
    http_attempt_free(&a);
    for (size_t i = 0; i < nchain; i++)
        free(chain[i]);
    free(refused.url);
    frontier_page_done(c->f, it);
}

/* weft_fn: one worker, for the whole crawl. */
static int worker_main(void *arg, void **result)
{
    crawl_ctx *c = arg;
    int worker = weft_executor_current_worker();
    for (;;) {
        frontier_item it;
        int rc = frontier_next(c->f, &it);
        if (rc != 0)
            break;
        switch (it.kind) {
        case FRONTIER_SKIP: {
            crawl_record r = {.skip = it.skip,
                              .url = it.url,
                              .parent = it.parent,
                              .depth = it.depth,
                              .worker = -1};
            emit(c, &it, &r, 1);
            frontier_skip_done(c->f, &it);
            break;
        }
        case FRONTIER_ROBOTS:
            fetch_robots(c, &it);
            break;
        case FRONTIER_PAGE:
            fetch_page(c, &it, worker);
            break;
        }
    }
    return 0;
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
    static atomic_bool never; /* nobody sets it: a crawl without a stop flag */
    crawl_ctx c = {.o = o, .fn = fn, .ud = ud, .res = res, .stop = o->stop ? o->stop : &never};
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
    if (o->robots_agent)
        snprintf(c.product, sizeof c.product, "%s", o->robots_agent);
    else
        robots_product_token(o->user_agent, c.product, sizeof c.product);
    char origin[URLNORM_MAX + 8];
    if (!urlnorm_origin(start, origin, sizeof origin) ||
        !urlnorm_host(start, c.sc.host, sizeof c.sc.host)) {
        free(start);
        res->error = EINVAL;
        return EINVAL;
    }
    c.sc.origin = strdup(origin);
    if (!c.sc.origin) {
        rc = ENOMEM;
        goto out;
    }
    frontier_opts fo = {.max_depth = o->depth,
                        .max_pages = o->max_pages,
                        .per_host = o->per_host,
                        .min_delay = o->delay,
                        .robots = o->robots,
                        .stop = c.stop};
    if (o->redis)
        rc = frontier_new_redis(&c.f, &fo, o->redis, o->redis_prefix, c.product, o->lease);
    else if (o->state)
        rc = frontier_new_sqlite(&c.f, &fo, o->state, c.product);
    else
        rc = frontier_new(&c.f, &fo);
    if (rc != 0 || (rc = weft_lock_new(&c.out)) != 0)
        goto out;
    http_opts ho = {.timeout = o->timeout,
                    .connect_timeout = o->connect_timeout,
                    .user_agent = o->user_agent,
                    .abort = c.stop,
                    .no_follow = true, /* each hop is checked first: fetch_page */
                    .no_compressed = o->no_compressed};
    if ((rc = http_client_new(&c.http, &ho)) != 0)
        goto out;
    /* EEXIST: a resumed crawl knows its start URL already. */
    if ((rc = frontier_seed(c.f, start)) != 0 && rc != EEXIST)
        goto out;

    weft_executor_opts eo = {.max_workers = workers, .thread_name_prefix = "crawl"};
    if ((rc = weft_executor_new(&ex, &eo)) != 0 || (rc = weft_group_new(&g, ex, NULL)) != 0)
        goto out;
    double cpu0 = report_cpu_seconds();
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
    res->cpu = report_cpu_seconds() - cpu0;
    if (wrc != 0 && wrc != ECANCELED) {
        const char *msg = NULL;
        rc = weft_group_error(g, 0, &msg, NULL);
        if (rc == 0)
            rc = wrc;
    }
    res->interrupted = atomic_load(c.stop);
    frontier_stats fs;
    frontier_stats_get(c.f, &fs);
    res->seen = fs.seen;
    res->set_bytes = fs.arena_bytes;
out:
    if (c.f)
        frontier_sync(c.f); /* the last batch, so that its failure is seen */
    if (c.f && frontier_error(c.f)) {
        /* The state file failed: the crawl stopped for that, not a Ctrl-C. */
        snprintf(res->error_text, sizeof res->error_text, "%s", frontier_error(c.f));
        res->interrupted = false;
        rc = EIO;
    }
    weft_group_free(g);
    weft_executor_free(ex);
    /* After the executor: its workers' easy handles are gone by now. */
    http_client_free(c.http);
    weft_lock_free(c.out);
    frontier_free(c.f);
    free(c.sc.origin);
    free(start);
    if (rc != 0)
        res->error = rc;
    return rc;
}
