/* test-crawl.c: the crawler core (tool/crawl/engine.c, tool/crawl/frontier.c) against
 * the embedded site, in-process: the exact page sets site.h predicts at
 * each depth, sequential and threaded; robots.txt (disallowed paths never
 * requested), Crawl-delay, the per-host limit, redirect loops, every link
 * form, hostile bodies, limits. Sets are compared sorted, never in crawl
 * order; timing checks are one-sided. */
#include "test.h"

#include "crawl/crawl.h"
#include "parse/html.h"
#include "site/site.h"
#include "parse/urlnorm.h"

#include <weft.h>

#include <curl/curl.h>

/* ------------------------------------------------------------ helpers */

typedef struct page {
    char path[256];
    unsigned depth;
    long status;
    unsigned long words;
    char title[64];
    bool error;
    char errmsg[128];
    bool truncated;
    long long bytes;
} page;

typedef struct collect {
    page *pages;
    size_t n, cap;
    size_t skips[SKIP_N];
    char skipped_paths[64][64]; /* the first skipped URLs' paths */
    crawl_skip skipped_why[64];
    size_t nskipped;
    char scheme_hrefs[16][64];
    size_t nscheme;
    bool secret; /* a record showed "secret" (a link's userinfo) */
} collect;

static void on_record(void *ud, const crawl_record *r)
{
    collect *c = ud;
    if (strstr(r->url, "secret") || (r->final_url && strstr(r->final_url, "secret")) ||
        (r->parent && strstr(r->parent, "secret")))
        c->secret = true;
    if (r->skip != SKIP_NONE) {
        c->skips[r->skip]++;
        if (r->skip == SKIP_SCHEME) {
            if (c->nscheme < 16)
                snprintf(c->scheme_hrefs[c->nscheme++], 64, "%s", r->url);
        } else if (c->nskipped < 64) {
            snprintf(c->skipped_paths[c->nskipped], 64, "%s", urlnorm_path(r->url));
            c->skipped_why[c->nskipped++] = r->skip;
        }
        return;
    }
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        c->pages = realloc(c->pages, c->cap * sizeof *c->pages);
        CHECK(c->pages != NULL);
    }
    page *p = &c->pages[c->n++];
    memset(p, 0, sizeof *p);
    snprintf(p->path, sizeof p->path, "%s", urlnorm_path(r->url));
    p->depth = r->depth;
    p->status = r->status;
    p->words = r->words;
    snprintf(p->title, sizeof p->title, "%s", r->title);
    p->error = r->error != NULL;
    snprintf(p->errmsg, sizeof p->errmsg, "%s", r->error ? r->error : "");
    p->truncated = r->truncated;
    p->bytes = r->bytes;
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const page *)a)->path, ((const page *)b)->path);
}

static int node_by_path(const void *a, const void *b)
{
    return strcmp(((const site_node *)a)->path, ((const site_node *)b)->path);
}

static struct site *start(site_opts *so)
{
    CHECK(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK);
    html_global_init();
    struct site *s;
    CHECK_OK(site_start(&s, so));
    return s;
}

static struct site *start_default(void)
{
    site_opts so;
    site_opts_default(&so);
    return start(&so);
}

static char *url_of(struct site *s, const char *path)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "%s%s", site_base_url(s), path[0] == '/' ? path + 1 : path);
    return buf;
}

/* Crawls path on s with o (start_url filled in here). */
static crawl_result crawl(struct site *s, crawl_opts *o, const char *path, unsigned workers,
                          collect *c)
{
    memset(c, 0, sizeof *c);
    o->start_url = url_of(s, path);
    crawl_result r;
    CHECK_OK(crawl_run(o, workers, on_record, c, &r));
    return r;
}

static page *find(collect *c, const char *path)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->pages[i].path, path) == 0)
            return &c->pages[i];
    return NULL;
}

/* The crawl found exactly site_expected's nodes, each once, at its depth,
 * with its status, and for /page/I its title and word count. */
static void check_expected(struct site *s, collect *c, unsigned depth, bool honour)
{
    site_node *nodes;
    size_t nn;
    CHECK_OK(site_expected(site_options(s), depth, honour, &nodes, &nn));
    qsort(nodes, nn, sizeof *nodes, node_by_path);
    qsort(c->pages, c->n, sizeof *c->pages, by_path);
    if (c->n != nn)
        test_fail(__FILE__, __LINE__, "depth %u: crawled %zu pages, expected %zu", depth, c->n, nn);
    for (size_t i = 0; i < nn; i++) {
        page *p = &c->pages[i];
        if (strcmp(p->path, nodes[i].path) != 0)
            test_fail(__FILE__, __LINE__, "depth %u: page %zu is %s, expected %s", depth, i,
                      p->path, nodes[i].path);
        CHECK_EQ(p->depth, nodes[i].depth);
        CHECK_EQ(p->status, nodes[i].status);
        unsigned k;
        if (sscanf(p->path, "/page/%u", &k) == 1 && p->status == 200) {
            char title[SITE_PATH_MAX];
            site_page_title(k, title);
            CHECK_STR(p->title, title);
            CHECK_EQ(p->words, site_page_words(site_options(s), k));
        }
    }
    free(nodes);
}

/* Crawls the whole site from / with `workers` and default options but depth
 * unbounded (left in *o for the caller's next crawl), the server's counters
 * reset first, and checks that it found exactly the site's own graph. */
static crawl_result crawl_whole_site(struct site *s, crawl_opts *o, unsigned workers, bool honour,
                                     collect *c)
{
    crawl_opts_default(o);
    o->depth = 1000;
    site_reset_counters(s);
    crawl_result r = crawl(s, o, "/", workers, c);
    check_expected(s, c, 1000, honour);
    return r;
}

/* -------------------------------------------------------------- tests */

TEST_T(crawl_exact_sets_by_depth, 60)
{
    struct site *s = start_default();
    for (unsigned depth = 0; depth <= 2; depth++) {
        for (unsigned workers = 1; workers <= 8; workers += 7) {
            crawl_opts o;
            crawl_opts_default(&o);
            o.depth = depth;
            collect c;
            crawl_result r = crawl(s, &o, "/", workers, &c);
            CHECK_EQ(r.pages, c.n);
            CHECK_EQ(r.errors, 0);
            check_expected(s, &c, depth, true);
            if (depth == 0)
                CHECK_EQ(c.skips[SKIP_DEPTH], 1); /* "/" links /page/0 only */
            free(c.pages);
            crawl_result_free(&r);
        }
    }
    site_stop(s);
}

TEST_T(crawl_sequential_equals_threaded_deep, 60)
{
    /* A deeper crawl with latency jitter, so workers finish out of order. */
    site_opts so;
    site_opts_default(&so);
    so.pages = 300;
    so.latency = 0.001;
    so.jitter = 0.01;
    struct site *s = start(&so);
    crawl_opts o;
    crawl_opts_default(&o);
    o.depth = 5;
    collect c1, c2;
    crawl_result r1 = crawl(s, &o, "/", 1, &c1);
    crawl_result r2 = crawl(s, &o, "/", 16, &c2);
    CHECK_EQ(r1.pages, r2.pages);
    CHECK(r1.checksum == r2.checksum);
    check_expected(s, &c1, 5, true);
    check_expected(s, &c2, 5, true);
    for (int i = 1; i < SKIP_N; i++)
        CHECK_EQ(c1.skips[i], c2.skips[i]);
    free(c1.pages);
    free(c2.pages);
    crawl_result_free(&r1);
    crawl_result_free(&r2);
    site_stop(s);
}

TEST_T(crawl_robots_disallowed_never_requested, 60)
{
    struct site *s = start_default();
    const site_opts *so = site_options(s);
    crawl_opts o;
    collect c;
    crawl_result r = crawl_whole_site(s, &o, 8, true, &c);
    size_t privates = 0;
    for (unsigned i = 0; i < so->pages; i++) {
        char path[SITE_PATH_MAX + 16];
        snprintf(path, sizeof path, "/private/%u", i);
        CHECK_EQ(site_hits(s, path), 0);
        privates += site_page_links_private(so, i);
    }
    CHECK(privates > 0);
    CHECK_EQ(r.skipped[SKIP_ROBOTS], privates);
    CHECK_EQ(site_hits(s, "/robots.txt"), 1);
    free(c.pages);
    crawl_result_free(&r);

    /* The same crawl ignoring robots.txt does fetch them: the check above
     * could fail. */
    o.robots = false;
    site_reset_counters(s);
    r = crawl(s, &o, "/", 8, &c);
    check_expected(s, &c, 1000, false);
    CHECK_EQ(site_hits(s, "/robots.txt"), 0);
    CHECK_EQ(r.skipped[SKIP_ROBOTS], 0);
    free(c.pages);
    crawl_result_free(&r);
    site_stop(s);
}

TEST_T(crawl_robots_status_rules, 60)
{
    /* 404: everything allowed. */
    site_opts so;
    site_opts_default(&so);
    so.robots_missing = true;
    struct site *s = start(&so);
    crawl_opts o;
    collect c;
    crawl_result r = crawl_whole_site(s, &o, 4, false, &c);
    free(c.pages);
    crawl_result_free(&r);
    site_stop(s);

    /* A group naming us wins over '*'. */
    site_opts_default(&so);
    so.robots_txt = "User-agent: *\nDisallow: /\n\nUser-agent: weft\nDisallow: /page/1$\n";
    s = start(&so);
    crawl_opts_default(&o);
    o.depth = 2;
    site_reset_counters(s);
    r = crawl(s, &o, "/", 4, &c);
    CHECK(find(&c, "/page/0") != NULL);
    CHECK(find(&c, "/page/1") == NULL);
    CHECK_EQ(site_hits(s, "/page/1"), 0);
    CHECK_EQ(r.skipped[SKIP_ROBOTS], 1);
    free(c.pages);
    crawl_result_free(&r);
    site_stop(s);
}

TEST_T(crawl_robots_unreachable_disallows_all, 30)
{
    /* No answer for robots.txt (nothing listens on port 1): RFC 9309 says
     * assume everything is disallowed, so the start page is not fetched. */
    CHECK(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK);
    crawl_opts o;
    crawl_opts_default(&o);
    o.start_url = "http://127.0.0.1:1/";
    o.connect_timeout = 2;
    collect c;
    memset(&c, 0, sizeof c);
    crawl_result r;
    CHECK_OK(crawl_run(&o, 2, on_record, &c, &r));
    CHECK_EQ(r.pages, 0);
    CHECK_EQ(r.skipped[SKIP_ROBOTS], 1);
    free(c.pages);
    crawl_result_free(&r);
}

TEST_T(crawl_delay_holds, 60)
{
    site_opts so;
    site_opts_default(&so);
    so.robots_delay = 0.2;
    struct site *s = start(&so);
    crawl_opts o;
    crawl_opts_default(&o);
    o.depth = 3;
    o.max_pages = 6;
    collect c;
    double t0 = weft_monotonic();
    crawl_result r = crawl(s, &o, "/", 8, &c);
    double took = weft_monotonic() - t0;
    CHECK_EQ(r.pages, 6);
    /* Six pages, starts at least 0.2 s apart (one-sided, 1 ms slack); as
     * the server saw them arrive, with slack for the time between a request
     * being handed out and reaching the server (sanitizers stretch it):
     * ignoring the delay altogether gives gaps of a millisecond. */
    CHECK(took >= 5 * 0.2 - 0.001);
    CHECK(site_min_gap(s, "127.0.0.1") >= 0.2 / 2);
    CHECK_EQ(site_peak_concurrency(s, "127.0.0.1"), 1);
    free(c.pages);
    crawl_result_free(&r);

    /* --delay does the same without robots.txt saying so. */
    site_stop(s);
    s = start_default();
    o.delay = 0.1;
    t0 = weft_monotonic();
    r = crawl(s, &o, "/", 8, &c);
    took = weft_monotonic() - t0;
    CHECK_EQ(r.pages, 6);
    CHECK(took >= 5 * 0.1 - 0.001);
    CHECK(site_min_gap(s, "127.0.0.1") >= 0.1 / 2);
    free(c.pages);
    crawl_result_free(&r);
    site_stop(s);
}

TEST_T(crawl_per_host_limit_holds, 60)
{
    site_opts so;
    site_opts_default(&so);
    so.latency = 0.02;
    struct site *s = start(&so);
    crawl_opts o;
    crawl_opts_default(&o);
    o.depth = 4;
    o.per_host = 2;
    collect c;
    site_reset_counters(s);
    crawl_result r = crawl(s, &o, "/", 16, &c);
    CHECK(r.pages > 20);
    /* The cap is reached and never passed: 16 workers, 2 allowed. */
    CHECK_EQ(site_peak_concurrency(s, "127.0.0.1"), 2);
    free(c.pages);
    crawl_result_free(&r);
    /* Without the limit the same crawl does overlap more (so the check above
     * could fail). */
    o.per_host = 0;
    site_reset_counters(s);
    r = crawl(s, &o, "/", 16, &c);
    CHECK(site_peak_concurrency(s, "127.0.0.1") > 2);
    free(c.pages);
    crawl_result_free(&r);
    site_stop(s);
}

/* Every slot is used: with more URLs waiting than workers, -j requests are
 * in flight at once (no level barrier, no worker idling while the frontier
 * has work), never more; robots.txt once, every page once. Requests are held
 * long enough (0.15 s) that a working dispatcher overlaps all of them. */
TEST_T(crawl_fills_every_slot, 60)
{
    site_opts so;
    site_opts_default(&so);
    so.pages = 60;
    so.latency = 0.15;
    struct site *s = start(&so);
    crawl_opts o;
    collect c;
    crawl_result r = crawl_whole_site(s, &o, 8, true, &c);
    CHECK_EQ(site_peak_concurrency(s, "127.0.0.1"), 8u);
    CHECK_EQ(site_hits(s, "/robots.txt"), 1ul);
    site_stats st;
    site_counters(s, &st);
    CHECK_EQ(st.requests, (unsigned long)c.n + 1);
    free(c.pages);
    crawl_result_free(&r);
    /* A per-host limit below -j is reached too, and not passed. */
    o.per_host = 3;
    o.depth = 3;
    site_reset_counters(s);
    r = crawl(s, &o, "/", 8, &c);
    CHECK_EQ(site_peak_concurrency(s, "127.0.0.1"), 3u);
    free(c.pages);
    crawl_result_free(&r);
    site_stop(s);
}

TEST_T(crawl_redirects, 30)
{
    struct site *s = start_default();
    crawl_opts o;
    crawl_opts_default(&o);
    o.depth = 0;
    collect c;
    crawl_result r = crawl(s, &o, "/loop/a", 2, &c);
    CHECK_EQ(c.n, 1);
    CHECK(c.pages[0].error);
    CHECK(strstr(c.pages[0].errmsg, "redirect") != NULL);
    CHECK_EQ(r.errors, 1);
    free(c.pages);
    crawl_result_free(&r);
    /* A chain ends at /page/0, whose links are followed (depth 1). */
    o.depth = 1;
    r = crawl(s, &o, "/redirect/3", 2, &c);
    page *p = find(&c, "/redirect/3");
    CHECK(p != NULL);
    CHECK_EQ(p->status, 200);
    CHECK_STR(p->title, "Page 0");
    CHECK(find(&c, "/page/1") != NULL);
    free(c.pages);
    crawl_result_free(&r);
    site_stop(s);
}

TEST_T(crawl_link_forms, 30)
{
    struct site *s = start_default();
    crawl_opts o;
    crawl_opts_default(&o);
    o.depth = 1;
    collect c;
    site_reset_counters(s);
    crawl_result r = crawl(s, &o, "/links", 4, &c);
    /* Every followable form resolves to /page/1../page/4, each fetched once. */
    CHECK_EQ(c.n, 5);
    CHECK(find(&c, "/links") != NULL);
    for (int i = 1; i <= 4; i++) {
        char path[32];
        snprintf(path, sizeof path, "/page/%d", i);
        CHECK(find(&c, path) != NULL);
        CHECK_EQ(site_hits(s, path), 1);
    }
    /* mailto:, javascript:, data:, tel: were not followed but reported. */
    bool mailto = false, js = false, data = false, tel = false;
    for (size_t i = 0; i < c.nscheme; i++) {
        mailto |= strncmp(c.scheme_hrefs[i], "mailto:", 7) == 0;
        js |= strncmp(c.scheme_hrefs[i], "javascript:", 11) == 0;
        data |= strncmp(c.scheme_hrefs[i], "data:", 5) == 0;
        tel |= strncmp(c.scheme_hrefs[i], "tel:", 4) == 0;
    }
    CHECK(mailto && js && data && tel);
    /* The userinfo link is /page/3 (fetched once, above), never shown. */
    CHECK(!c.secret);
    /* Fragment-only and empty links are the page itself: duplicates. */
    CHECK(r.skipped[SKIP_DUPLICATE] > 0);
    CHECK_EQ(r.errors, 0);
    free(c.pages);
    crawl_result_free(&r);
    site_stop(s);
}

TEST_T(crawl_hostile_bodies, 60)
{
    struct site *s = start_default();
    crawl_opts o;
    crawl_opts_default(&o);
    o.depth = 1;
    collect c;
    crawl_result r = crawl(s, &o, "/malformed", 4, &c);
    page *p = find(&c, "/malformed");
    CHECK(p && p->status == 200 && !p->error);
    CHECK(find(&c, "/page/1") && find(&c, "/page/2"));
    free(c.pages);
    crawl_result_free(&r);

    const char *paths[] = {"/latin1",      "/badutf8",   "/binary",
                           "/big/3000000", "/style.css", "/asset/1.png"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        o.depth = 0;
        r = crawl(s, &o, paths[i], 2, &c);
        CHECK_EQ(c.n, 1);
        CHECK_EQ(c.pages[0].status, 200);
        CHECK(!c.pages[0].error);
        CHECK(c.pages[0].bytes > 0);
        for (const unsigned char *t = (const unsigned char *)c.pages[0].title; *t; t++)
            CHECK(*t >= 0x20);
        free(c.pages);
        crawl_result_free(&r);
    }
    r = crawl(s, &o, "/latin1", 1, &c);
    CHECK(strstr(c.pages[0].title, "\xc3\xa9") != NULL); /* é, as UTF-8 */
    free(c.pages);
    crawl_result_free(&r);
    site_stop(s);
}

TEST_T(crawl_limits, 60)
{
    struct site *s = start_default();
    crawl_opts o;
    crawl_opts_default(&o);
    o.depth = 1000;
    o.max_pages = 10;
    collect c;
    site_reset_counters(s);
    crawl_result r = crawl(s, &o, "/", 8, &c);
    CHECK_EQ(r.pages, 10);
    CHECK(r.skipped[SKIP_LIMIT] > 0);
    site_stats st;
    site_counters(s, &st);
    CHECK_EQ(st.requests, 11); /* and robots.txt */
    free(c.pages);
    crawl_result_free(&r);

    /* --max-bytes cuts a body and says so; the page is not an error. */
    o.max_pages = 0;
    o.depth = 0;
    o.max_bytes = 1000;
    r = crawl(s, &o, "/big/100000", 1, &c);
    CHECK_EQ(c.n, 1);
    CHECK(c.pages[0].truncated);
    CHECK_EQ(c.pages[0].bytes, 1000);
    CHECK(!c.pages[0].error);
    free(c.pages);
    crawl_result_free(&r);
    site_stop(s);
}

TEST_T(crawl_filters, 30)
{
    struct site *s = start_default();
    crawl_opts o;
    crawl_opts_default(&o);
    o.depth = 2;
    const char *deny[] = {"*/page/1"};
    o.deny = deny;
    o.ndeny = 1;
    collect c;
    site_reset_counters(s);
    crawl_result r = crawl(s, &o, "/", 4, &c);
    CHECK(find(&c, "/page/0") != NULL);
    CHECK(find(&c, "/page/1") == NULL);
    CHECK_EQ(site_hits(s, "/page/1"), 0);
    CHECK(r.skipped[SKIP_FILTERED] >= 1);
    free(c.pages);
    crawl_result_free(&r);
    /* --allow with a substring: only matching URLs beyond the start. */
    const char *allow[] = {"/page/0"};
    o.deny = NULL;
    o.ndeny = 0;
    o.allow = allow;
    o.nallow = 1;
    r = crawl(s, &o, "/", 4, &c);
    CHECK_EQ(c.n, 2); /* "/" and /page/0 */
    free(c.pages);
    crawl_result_free(&r);
    site_stop(s);
}

/* Which reason the collector saw for a skipped path, or SKIP_N. */
static crawl_skip skipped_why(collect *c, const char *path)
{
    for (size_t i = 0; i < c->nskipped; i++)
        if (strcmp(c->skipped_paths[i], path) == 0)
            return c->skipped_why[i];
    return SKIP_N;
}

/* Crawls a start path that redirects (the site's /redirect/1?to=TARGET)
 * with depth 1, and returns the page record of the start. */
static page *crawl_redirect(struct site *s, crawl_opts *o, const char *target, collect *c,
                            crawl_result *r)
{
    char path[300];
    snprintf(path, sizeof path, "/redirect/1?to=%s", target);
    o->depth = 1;
    site_reset_counters(s);
    *r = crawl(s, o, path, 2, c);
    for (size_t i = 0; i < c->n; i++)
        if (strncmp(c->pages[i].path, "/redirect/1?", 12) == 0)
            return &c->pages[i];
    test_fail(__FILE__, __LINE__, "no record of the start %s", path);
    return NULL;
}

/* Every redirect hop passes robots.txt, scope (scheme, host and port) and
 * the filters before it is requested; a refused hop is a skipped record
 * with its reason, and the server never sees the request. */
TEST_T(crawl_redirect_hops_obey_robots_scope_and_filters, 30)
{
    struct site *s = start_default();
    struct site *other = start_default(); /* same host, another port */
    crawl_opts o;
    crawl_opts_default(&o);
    collect c;
    crawl_result r;

    /* robots.txt disallows /private/: no request, reason robots. */
    page *p = crawl_redirect(s, &o, "/private/3", &c, &r);
    CHECK_EQ(c.n, 1);
    CHECK_EQ(p->status, 302);
    CHECK(!p->error);
    CHECK_EQ(skipped_why(&c, "/private/3"), SKIP_ROBOTS);
    CHECK_EQ(site_hits(s, "/private/3"), 0);
    free(c.pages);
    crawl_result_free(&r);

    /* Another port of the same host: off-site, with and without --domain. */
    char target[128];
    snprintf(target, sizeof target, "http://127.0.0.1:%u/page/1", site_port(other));
    for (int domain = 0; domain < 2; domain++) {
        o.domain = domain;
        site_reset_counters(other);
        crawl_redirect(s, &o, target, &c, &r);
        CHECK_EQ(skipped_why(&c, "/page/1"), SKIP_OFFSITE);
        CHECK_EQ(site_hits(other, "/page/1"), 0);
        CHECK_EQ(site_hits(other, "/robots.txt"), 0);
        free(c.pages);
        crawl_result_free(&r);
    }
    o.domain = false;

    /* --deny: reason filtered. */
    const char *deny[] = {"*/page/5"};
    o.deny = deny;
    o.ndeny = 1;
    crawl_redirect(s, &o, "/page/5", &c, &r);
    CHECK_EQ(skipped_why(&c, "/page/5"), SKIP_FILTERED);
    CHECK_EQ(site_hits(s, "/page/5"), 0);
    free(c.pages);
    crawl_result_free(&r);
    o.deny = NULL;
    o.ndeny = 0;

    /* A hop that passes is taken: the page is the target's, requested once,
     * and its links are followed from there. */
    p = crawl_redirect(s, &o, "/page/2", &c, &r);
    CHECK_EQ(p->status, 200);
    CHECK_STR(p->title, "Page 2");
    CHECK_EQ(site_hits(s, "/page/2"), 1);
    CHECK(c.skips[SKIP_DEPTH] + c.skips[SKIP_DUPLICATE] + c.skips[SKIP_ROBOTS] > 0);
    free(c.pages);
    crawl_result_free(&r);
    site_stop(other);
    site_stop(s);
}

/* Scope is scheme + host + port: --domain widens only the host. */
TEST_T(crawl_domain_keeps_scheme_and_port, 30)
{
    struct site *s = start_default();
    crawl_opts o;
    crawl_opts_default(&o);
    o.domain = true;
    o.depth = 1;
    collect c;
    /* Through "localhost": links name localhost (the Host header), in scope. */
    char start_url[128];
    snprintf(start_url, sizeof start_url, "http://localhost:%u/", site_port(s));
    memset(&c, 0, sizeof c);
    o.start_url = start_url;
    crawl_result r;
    CHECK_OK(crawl_run(&o, 2, on_record, &c, &r));
    CHECK(find(&c, "/page/0") != NULL);
    CHECK_EQ(c.skips[SKIP_OFFSITE], 0);
    free(c.pages);
    crawl_result_free(&r);
    /* The same host on another port, and another scheme: off-site. */
    char target[128];
    snprintf(target, sizeof target, "http://127.0.0.1:%u/page/1", site_port(s) + 1);
    crawl_redirect(s, &o, target, &c, &r);
    CHECK_EQ(skipped_why(&c, "/page/1"), SKIP_OFFSITE);
    free(c.pages);
    crawl_result_free(&r);
    snprintf(target, sizeof target, "https://127.0.0.1:%u/page/1", site_port(s));
    crawl_redirect(s, &o, target, &c, &r);
    CHECK_EQ(skipped_why(&c, "/page/1"), SKIP_OFFSITE);
    free(c.pages);
    crawl_result_free(&r);
    site_stop(s);
}

/* robots.txt groups are chosen by the product token: --user-agent's first
 * token, or --robots-agent, case-insensitively. */
/* A 503's Retry-After is honoured: the server sees the retry no sooner
 * than it asked, far later than the first backoff (at most 0.2 s). */
TEST_T(crawl_retry_after_is_honoured, 30)
{
    struct site *s = start_default();
    crawl_opts o;
    crawl_opts_default(&o);
    o.depth = 0;
    o.retries = 1;
    collect c;
    site_reset_counters(s);
    crawl_result r = crawl(s, &o, "/status/503?retry-after=2", 2, &c);
    CHECK_EQ(site_hits(s, "/status/503"), 2);
    CHECK(site_hit_gap(s, "/status/503", 0) >= 2.0 - 0.05);
    CHECK_EQ(r.errors, 1);
    free(c.pages);
    crawl_result_free(&r);
    site_stop(s);
}

TEST_T(crawl_robots_agent, 30)
{
    site_opts so;
    site_opts_default(&so);
    so.robots_txt = "User-agent: mybot\nDisallow: /page/\n\nUser-agent: *\nDisallow: /private/\n";
    struct site *s = start(&so);
    crawl_opts o;
    crawl_opts_default(&o);
    o.depth = 2;
    collect c;
    struct {
        const char *ua, *agent;
        bool pages;
    } cases[] = {
        {NULL, NULL, true}, /* weft: the * group */
        {"MyBot/1.0 (+https://example.invalid)", NULL, false},
        {NULL, "MYBOT", false},
        {"MyBot/1.0", "weft", true}, /* --robots-agent wins */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        crawl_opts_default(&o);
        o.depth = 2;
        if (cases[i].ua)
            o.user_agent = cases[i].ua;
        o.robots_agent = cases[i].agent;
        site_reset_counters(s);
        crawl_result r = crawl(s, &o, "/", 2, &c);
        CHECK_EQ(site_hits(s, "/page/0") == 1, cases[i].pages);
        if (!cases[i].pages)
            CHECK_EQ(skipped_why(&c, "/page/0"), SKIP_ROBOTS);
        free(c.pages);
        crawl_result_free(&r);
    }
    site_stop(s);
}

TEST_T(crawl_transient_errors_retried, 60)
{
    site_opts so;
    site_opts_default(&so);
    so.transient_rate = 0.3;
    struct site *s = start(&so);
    crawl_opts o;
    crawl_opts_default(&o);
    o.depth = 3;
    collect c;
    crawl_result r = crawl(s, &o, "/", 8, &c);
    /* site_expected counts transient pages as 200: the retry got them. */
    check_expected(s, &c, 3, true);
    CHECK_EQ(r.errors, 0);
    CHECK(site_status_count(s, 503) > 0);
    free(c.pages);
    crawl_result_free(&r);
    site_stop(s);
}

TEST(crawl_args)
{
    crawl_opts o;
    FILE *null = fopen("/dev/null", "w");
    CHECK(null);
    char *a1[] = {"crawl",   "--depth", "3",       "-j", "4",        "--json",
                  "--allow", "x",       "--allow", "y",  "http://h/"};
    CHECK_EQ(crawl_parse_args(11, a1, &o, null, null), 0);
    CHECK_EQ(o.depth, 3);
    CHECK_EQ(o.jobs, 4);
    CHECK_EQ(o.format, REPORT_JSON);
    CHECK_EQ(o.nallow, 2);
    CHECK_STR(o.start_url, "http://h/");
    crawl_opts_free(&o);
    char *a2[] = {"crawl", "--json", "--csv", "http://h/"};
    CHECK_EQ(crawl_parse_args(4, a2, &o, null, null), 2);
    char *a3[] = {"crawl"};
    CHECK_EQ(crawl_parse_args(1, a3, &o, null, null), 2);
    char *a4[] = {"crawl", "--depth", "x", "http://h/"};
    CHECK_EQ(crawl_parse_args(4, a4, &o, null, null), 2);
    char *a5[] = {"crawl", "--help"};
    CHECK_EQ(crawl_parse_args(2, a5, &o, null, null), 1);
    char *a6[] = {"crawl", "http://a/", "http://b/"};
    CHECK_EQ(crawl_parse_args(3, a6, &o, null, null), 2);
    fclose(null);
}

TEST_T(crawl_compare_report_prints_the_seeds_lines, 60)
{
    site_opts so;
    site_opts_default(&so);
    so.latency = 0.02;
    struct site *s = start(&so);
    char *buf = NULL;
    size_t sz = 0;
    FILE *f = open_memstream(&buf, &sz);
    CHECK(f);
    CHECK_EQ(crawl_compare_report(site_base_url(s), 4, 3, f), 0);
    fclose(f);
    /* Judged from the two runs' own figures, not from the report's verdicts:
     * the same number of pages, and threads faster (20 ms a request, 4
     * workers, levels of several pages: a speedup the latency guarantees). */
    double seq = 0, thr = 0;
    size_t seq_pages = 0, thr_pages = 0;
    const char *ps = strstr(buf, "Sequential: "), *pt = strstr(buf, "Threaded: ");
    CHECK(ps && pt);
    CHECK_EQ(sscanf(ps, "Sequential: %lfs, %zu pages", &seq, &seq_pages), 2);
    CHECK_EQ(sscanf(pt, "Threaded: %lfs, %zu pages", &thr, &thr_pages), 2);
    CHECK(seq_pages == thr_pages && seq_pages > 5);
    CHECK(thr > 0 && seq / thr > 1.0);
    CHECK(strstr(buf, "Speedup: ") != NULL);
    CHECK(strstr(buf, "Same pages both ways: yes") != NULL);
    CHECK(strstr(buf, " Title: ") != NULL);
    free(buf);
    site_stop(s);
}
