/* test-site.c: the embedded test site (tool/site/site.h): the page graph's pure
 * helpers, every special path fetched over loopback with libcurl, the
 * counters, and suspend/resume under hundreds of concurrent slow requests.
 * Waits are handshakes on the site's own counters (site_active), never
 * sleeps; timing checks are one-sided. */
#include "test.h"
#include "commands.h"
#include "site/site.h"

#include <curl/curl.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct site *start(const site_opts *o)
{
    struct site *s = NULL;
    CHECK_EQ(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
    CHECK_OK(site_start(&s, o));
    CHECK(s != NULL);
    return s;
}

/* ---------------------------------------------------------------- fetching */

struct got {
    CURLcode rc;
    long status;
    char *body;
    size_t len;
    char retry_after[80];
    char ctype[80];
    char url[256]; /* the final URL after redirects */
    long redirects;
    double seconds;
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct got *g = arg;
    size_t add = size * n;
    char *b = realloc(g->body, g->len + add + 1);
    if (!b)
        return 0;
    memcpy(b + g->len, p, add);
    g->body = b;
    g->len += add;
    g->body[g->len] = '\0';
    return add;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    struct got *g = arg;
    size_t len = size * n;
    const char *name = "Retry-After:";
    if (len > strlen(name) && strncasecmp(p, name, strlen(name)) == 0) {
        size_t k = strlen(name);
        while (k < len && p[k] == ' ')
            k++;
        size_t m = len - k;
        while (m && (p[k + m - 1] == '\r' || p[k + m - 1] == '\n'))
            m--;
        if (m >= sizeof g->retry_after)
            m = sizeof g->retry_after - 1;
        memcpy(g->retry_after, p + k, m);
        g->retry_after[m] = '\0';
    }
    return len;
}

static CURL *easy(const char *url, struct got *g, bool follow)
{
    CURL *e = curl_easy_init();
    CHECK(e != NULL);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, g);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, g);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, follow ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 20L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(e, CURLOPT_PRIVATE, g);
    return e;
}

static void finish(CURL *e, struct got *g, CURLcode rc)
{
    char *u = NULL, *ct = NULL;
    g->rc = rc;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &g->status);
    curl_easy_getinfo(e, CURLINFO_EFFECTIVE_URL, &u);
    curl_easy_getinfo(e, CURLINFO_REDIRECT_COUNT, &g->redirects);
    curl_easy_getinfo(e, CURLINFO_CONTENT_TYPE, &ct);
    snprintf(g->url, sizeof g->url, "%s", u ? u : "");
    snprintf(g->ctype, sizeof g->ctype, "%s", ct ? ct : "");
}

/* One GET of base+path; follow redirects when asked. */
static struct got get(struct site *s, const char *path, bool follow)
{
    struct got g = {0};
    char url[512];
    snprintf(url, sizeof url, "%s%s", site_base_url(s), path[0] == '/' ? path + 1 : path);
    CURL *e = easy(url, &g, follow);
    double t0 = now();
    CURLcode rc = curl_easy_perform(e);
    g.seconds = now() - t0;
    finish(e, &g, rc);
    curl_easy_cleanup(e);
    return g;
}

static void drop(struct got *g)
{
    free(g->body);
    g->body = NULL;
}

/* Many concurrent GETs on one curl multi. host (NULL: the URL's) goes into
 * the Host header; poll(arg) runs between rounds, for handshakes/sampling. */
struct batch {
    struct got *g;
    size_t n;
    unsigned long failed; /* transfers without a 200 */
};

static void run_batch(struct site *s, const char *path, size_t n, const char *host, long max_conns,
                      void (*poll)(struct site *, void *), void *arg, struct batch *out)
{
    CURLM *m = curl_multi_init();
    CHECK(m != NULL);
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, max_conns);
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, max_conns);
    out->g = calloc(n, sizeof *out->g);
    out->n = n;
    out->failed = 0;
    CHECK(out->g != NULL);
    struct curl_slist *hdr = NULL;
    char line[128];
    if (host) {
        snprintf(line, sizeof line, "Host: %s:%u", host, site_port(s));
        hdr = curl_slist_append(NULL, line);
    }
    char url[512];
    for (size_t k = 0; k < n; k++) {
        snprintf(url, sizeof url, "%s%s", site_base_url(s), path + 1);
        CURL *e = easy(url, &out->g[k], false);
        if (hdr)
            curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdr);
        CHECK_EQ(curl_multi_add_handle(m, e), CURLM_OK);
    }
    int running = 1;
    while (running) {
        CHECK_EQ(curl_multi_perform(m, &running), CURLM_OK);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct got *g;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&g);
            finish(msg->easy_handle, g, msg->data.result);
            if (g->rc != CURLE_OK || g->status != 200)
                out->failed++;
            curl_multi_remove_handle(m, msg->easy_handle);
            curl_easy_cleanup(msg->easy_handle);
        }
        if (poll)
            poll(s, arg);
        if (running)
            curl_multi_poll(m, NULL, 0, 20, NULL);
    }
    curl_multi_cleanup(m);
    curl_slist_free_all(hdr);
}

static void drop_batch(struct batch *b)
{
    for (size_t k = 0; k < b->n; k++)
        drop(&b->g[k]);
    free(b->g);
}

/* ---------------------------------------------------------------- the graph */

TEST(graph_is_deterministic_per_seed)
{
    site_opts a, b;
    site_opts_default(&a);
    site_opts_default(&b);
    unsigned la[70], lb[70];
    bool differs = false;
    for (unsigned i = 0; i < a.pages; i++) {
        size_t na = site_page_links(&a, i, la, 70), nb = site_page_links(&b, i, lb, 70);
        CHECK_EQ(na, nb);
        CHECK(memcmp(la, lb, na * sizeof la[0]) == 0);
        CHECK_EQ(site_page_words(&a, i), site_page_words(&b, i));
    }
    b.seed = 2;
    for (unsigned i = 0; i < a.pages && !differs; i++) {
        size_t na = site_page_links(&a, i, la, 70), nb = site_page_links(&b, i, lb, 70);
        differs = na != nb || memcmp(la, lb, na * sizeof la[0]) != 0;
    }
    CHECK(differs);
}

TEST(graph_links_are_valid)
{
    site_opts o;
    site_opts_default(&o);
    o.links = 5;
    unsigned l[70];
    for (unsigned i = 0; i < o.pages; i++) {
        size_t n = site_page_links(&o, i, l, 70);
        CHECK(n <= 6);
        if (i + 1 < o.pages)
            CHECK_EQ(l[0], i + 1);
        for (size_t k = 0; k < n; k++) {
            CHECK(l[k] < o.pages);
            CHECK(l[k] != i);
            for (size_t j = 0; j < k; j++)
                CHECK(l[j] != l[k]);
        }
        /* cap only limits what is written */
        unsigned one[1];
        CHECK_EQ(site_page_links(&o, i, one, 1), n);
        CHECK(site_page_words(&o, i) > 40);
    }
    char p[SITE_PATH_MAX];
    site_page_path(17, p);
    CHECK_STR(p, "/page/17");
    site_page_title(17, p);
    CHECK_STR(p, "Page 17");
}

TEST(every_page_is_reachable)
{
    site_opts o;
    site_opts_default(&o);
    for (uint64_t seed = 1; seed <= 5; seed++) {
        o.seed = seed;
        site_node *nodes;
        size_t n;
        CHECK_OK(site_expected(&o, o.pages + 1, true, &nodes, &n));
        CHECK_EQ(n, 1 + o.pages);
        CHECK_STR(nodes[0].path, "/");
        CHECK_EQ(nodes[0].depth, 0);
        for (size_t k = 1; k < n; k++) {
            CHECK(strncmp(nodes[k].path, "/page/", 6) == 0);
            CHECK(nodes[k].depth >= nodes[k - 1].depth); /* BFS order */
            CHECK_EQ(nodes[k].status, 200);
        }
        free(nodes);
        /* Without robots the /private/ pages join. */
        unsigned priv = 0;
        for (unsigned i = 0; i < o.pages; i++)
            priv += site_page_links_private(&o, i);
        CHECK(priv > 0);
        CHECK_OK(site_expected(&o, o.pages + 2, false, &nodes, &n));
        CHECK_EQ(n, 1 + o.pages + priv);
        free(nodes);
    }
}

TEST(expected_set_honours_depth)
{
    site_opts o;
    site_opts_default(&o);
    site_node *nodes;
    size_t n;
    CHECK_OK(site_expected(&o, 0, true, &nodes, &n));
    CHECK_EQ(n, 1);
    free(nodes);
    CHECK_OK(site_expected(&o, 1, true, &nodes, &n));
    CHECK_EQ(n, 2);
    CHECK_STR(nodes[1].path, "/page/0");
    free(nodes);
    /* Depth 2: "/", page 0 and page 0's links. */
    unsigned l[70];
    size_t nl = site_page_links(&o, 0, l, 70);
    CHECK_OK(site_expected(&o, 2, true, &nodes, &n));
    CHECK_EQ(n, 2 + nl);
    for (size_t k = 0; k < nl; k++) {
        char p[SITE_PATH_MAX];
        site_page_path(l[k], p);
        CHECK_STR(nodes[2 + k].path, p);
        CHECK_EQ(nodes[2 + k].depth, 2);
    }
    free(nodes);
    /* Depths only grow with the limit. */
    size_t last = 0;
    for (unsigned d = 0; d < 12; d++) {
        CHECK_OK(site_expected(&o, d, true, &nodes, &n));
        CHECK(n >= last);
        for (size_t k = 0; k < n; k++)
            CHECK(nodes[k].depth <= d);
        last = n;
        free(nodes);
    }
}

TEST(error_pages_are_seeded_leaves)
{
    site_opts o;
    site_opts_default(&o);
    o.error_rate = 0.3;
    o.transient_rate = 0.2;
    unsigned errors = 0, transient = 0;
    for (unsigned i = 0; i < o.pages; i++) {
        int st = site_page_status(&o, i);
        CHECK(st == 200 || st == 404 || st == 500 || st == 503);
        errors += st != 200;
        site_opts o2 = o;
        o2.transient_rate = 0;
        if (site_page_status(&o2, i) == 200 && st == 503)
            transient++;
    }
    CHECK(errors > 20 && errors < 160);
    CHECK(transient > 0);
    site_node *nodes;
    size_t n;
    CHECK_OK(site_expected(&o, 1000, true, &nodes, &n));
    for (size_t k = 1; k < n; k++) {
        unsigned i = (unsigned)atoi(nodes[k].path + 6);
        site_opts o2 = o;
        o2.transient_rate = 0;
        CHECK_EQ(nodes[k].status, site_page_status(&o2, i));
    }
    free(nodes);
}

/* ---------------------------------------------------------------- pages */

/* Words of the text under <body>, without tags, comments, script, style;
 * tags_break says whether a tag ends a word. */
static unsigned count_body_words(const char *html, bool tags_break)
{
    const char *p = strstr(html, "<body");
    unsigned words = 0;
    bool in = false;
    CHECK(p != NULL);
    while (*p) {
        if (strncmp(p, "<!--", 4) == 0) {
            const char *e = strstr(p, "-->");
            p = e ? e + 3 : p + strlen(p);
            in = false;
        } else if (strncmp(p, "<script", 7) == 0 || strncmp(p, "<style", 6) == 0) {
            const char *e = strstr(p, p[1] == 's' && p[2] == 'c' ? "</script>" : "</style>");
            p = e ? e + 8 : p + strlen(p);
            in = false;
        } else if (*p == '<') {
            const char *e = strchr(p, '>');
            p = e ? e + 1 : p + strlen(p);
            if (tags_break)
                in = false;
        } else {
            bool space = *p == ' ' || *p == '\n' || *p == '\t' || *p == '\r';
            if (!space && !in)
                words++;
            in = !space;
            p++;
        }
    }
    return words;
}

TEST(pages_have_title_and_word_count)
{
    site_opts o;
    site_opts_default(&o);
    o.pages = 30;
    struct site *s = start(&o);
    for (unsigned i = 0; i < o.pages; i++) {
        char path[SITE_PATH_MAX], title[SITE_PATH_MAX], want[64];
        site_page_path(i, path);
        struct got g = get(s, path, false);
        CHECK_EQ(g.rc, CURLE_OK);
        CHECK_EQ(g.status, 200);
        CHECK(strncmp(g.ctype, "text/html", 9) == 0);
        site_page_title(i, title);
        snprintf(want, sizeof want, "<title>%s</title>", title);
        CHECK(strstr(g.body, want) != NULL);
        CHECK_EQ(count_body_words(g.body, false), site_page_words(&o, i));
        CHECK_EQ(count_body_words(g.body, true), site_page_words(&o, i));
        char asset[64];
        snprintf(asset, sizeof asset, "src=\"/asset/%u.png\"", i % o.assets);
        CHECK(strstr(g.body, asset) != NULL);
        CHECK(strstr(g.body, "href=\"/style.css\"") != NULL);
        drop(&g);
    }
    site_stop(s);
}

/* The /page/ paths that the hrefs of a body resolve to (fragments dropped),
 * as a bitmap over page numbers; also counts links to other paths. */
static void resolved_pages(const char *base, const char *body, bool *pages, unsigned npages,
                           unsigned *other)
{
    const char *p = body;
    *other = 0;
    while ((p = strstr(p, "href=\""))) {
        p += 6;
        const char *e = strchr(p, '"');
        CHECK(e != NULL);
        char href[256];
        size_t n = (size_t)(e - p);
        CHECK(n < sizeof href);
        memcpy(href, p, n);
        href[n] = '\0';
        p = e;
        /* curl_url_set resolves "javascript:x" as a relative path: a crawler
         * must drop schemes it does not fetch before resolving. */
        size_t sl =
            strspn(href, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");
        if (sl > 0 && href[sl] == ':' && !(sl == 4 && strncasecmp(href, "http", 4) == 0))
            continue;
        /* Fragment-only and empty hrefs name this document (and curl 7.88
         * resolves "#x" against the directory: "/page/1" + "#x" -> "/page/"). */
        if (href[0] == '#' || href[0] == '\0')
            continue;
        CURLU *u = curl_url();
        CHECK(u != NULL);
        CHECK_EQ(curl_url_set(u, CURLUPART_URL, base, 0), CURLUE_OK);
        char *path = NULL, *scheme = NULL;
        if (curl_url_set(u, CURLUPART_URL, href, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
            strcmp(scheme, "http") == 0 && curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK) {
            if (strncmp(path, "/page/", 6) == 0 &&
                strspn(path + 6, "0123456789") == strlen(path + 6)) {
                unsigned i = (unsigned)atoi(path + 6);
                CHECK(i < npages);
                pages[i] = true;
            } else {
                (*other)++;
            }
        }
        curl_free(path);
        curl_free(scheme);
        curl_url_cleanup(u);
    }
}

TEST(page_links_resolve_to_the_graph)
{
    site_opts o;
    site_opts_default(&o);
    o.pages = 40;
    struct site *s = start(&o);
    for (unsigned i = 0; i < o.pages; i++) {
        char path[SITE_PATH_MAX], url[256];
        site_page_path(i, path);
        snprintf(url, sizeof url, "%s%s", site_base_url(s), path + 1);
        struct got g = get(s, path, false);
        CHECK_EQ(g.status, 200);
        bool seen[40] = {0}, want[40] = {0};
        unsigned other, l[70];
        resolved_pages(url, g.body, seen, 40, &other);
        size_t n = site_page_links(&o, i, l, 70);
        for (size_t k = 0; k < n; k++)
            want[l[k]] = true;
        for (unsigned k = 0; k < 40; k++)
            if (seen[k] != want[k])
                test_fail(__FILE__, __LINE__, "page %u: link to %u seen %d wanted %d", i, k,
                          seen[k], want[k]);
        /* "/", the stylesheet and maybe /private/I */
        CHECK_EQ(other, 2 + site_page_links_private(&o, i));
        drop(&g);
    }
    site_stop(s);
}

TEST(links_page_has_every_form)
{
    struct site *s = start(NULL);
    struct got g = get(s, "/links", false);
    CHECK_EQ(g.status, 200);
    bool seen[8] = {0};
    unsigned other;
    char url[256];
    snprintf(url, sizeof url, "%slinks", site_base_url(s));
    resolved_pages(url, g.body, seen, 8, &other);
    CHECK(!seen[0] && seen[1] && seen[2] && seen[3] && seen[4] && !seen[5]);
    CHECK_EQ(other, 0);
    CHECK(strstr(g.body, "mailto:") && strstr(g.body, "javascript:") && strstr(g.body, "//"));
    drop(&g);
    site_stop(s);
}

TEST(home_private_robots_assets)
{
    site_opts o;
    site_opts_default(&o);
    o.robots_delay = 0.5;
    struct site *s = start(&o);
    struct got g = get(s, "/", false);
    CHECK_EQ(g.status, 200);
    CHECK(strstr(g.body, "href=\"/page/0\""));
    drop(&g);
    g = get(s, "/private/5", false);
    CHECK_EQ(g.status, 200);
    drop(&g);
    g = get(s, "/page/5", false);
    CHECK(strstr(g.body, "href=\"/private/5\""));
    drop(&g);
    g = get(s, "/robots.txt", false);
    CHECK_EQ(g.status, 200);
    CHECK_STR(g.body, "User-agent: *\nDisallow: /private/\nCrawl-delay: 0.5\n");
    drop(&g);
    g = get(s, "/style.css", false);
    CHECK_EQ(g.status, 200);
    CHECK_STR(g.ctype, "text/css");
    drop(&g);
    g = get(s, "/asset/7.png", false);
    CHECK_EQ(g.status, 200);
    CHECK_STR(g.ctype, "image/png");
    CHECK(g.len > 8 && memcmp(g.body, "\x89PNG", 4) == 0);
    drop(&g);
    const char *missing[] = {"/asset/8.png", "/asset/x.png", "/page/200",   "/page/-1",
                             "/private/999", "/nope",        "/redirect/0", "/status/99"};
    for (size_t k = 0; k < sizeof missing / sizeof missing[0]; k++) {
        g = get(s, missing[k], false);
        CHECK_EQ(g.status, 404);
        drop(&g);
    }
    site_stop(s);

    o.robots_missing = true;
    s = start(&o);
    g = get(s, "/robots.txt", false);
    CHECK_EQ(g.status, 404);
    drop(&g);
    site_stop(s);
    o.robots_missing = false;
    o.robots_txt = "User-agent: *\nDisallow: /\n";
    s = start(&o);
    g = get(s, "/robots.txt", false);
    CHECK_STR(g.body, "User-agent: *\nDisallow: /\n");
    drop(&g);
    site_stop(s);
}

/* ---------------------------------------------------------------- the zoo */

TEST(status_paths_and_retry_after)
{
    struct site *s = start(NULL);
    int codes[] = {200, 404, 410, 429, 500, 502, 503};
    for (size_t k = 0; k < sizeof codes / sizeof codes[0]; k++) {
        char p[64];
        snprintf(p, sizeof p, "/status/%d", codes[k]);
        struct got g = get(s, p, false);
        CHECK_EQ(g.rc, CURLE_OK);
        CHECK_EQ(g.status, codes[k]);
        CHECK_STR(g.retry_after, "");
        drop(&g);
    }
    struct got g = get(s, "/status/503?retry-after=7", false);
    CHECK_EQ(g.status, 503);
    CHECK_STR(g.retry_after, "7");
    drop(&g);
    g = get(s, "/status/429?retry-after=30&date=1", false);
    CHECK_EQ(g.status, 429);
    time_t when = curl_getdate(g.retry_after, NULL);
    time_t t = time(NULL);
    CHECK(when >= t + 25 && when <= t + 35);
    CHECK(strstr(g.retry_after, "GMT") != NULL);
    drop(&g);
    CHECK_EQ(site_status_count(s, 503), 2);
    CHECK_EQ(site_status_count(s, 429), 2);
    site_stop(s);
}

TEST(redirect_chain_ends_on_a_page)
{
    struct site *s = start(NULL);
    struct got g = get(s, "/redirect/5", true);
    CHECK_EQ(g.rc, CURLE_OK);
    CHECK_EQ(g.status, 200);
    CHECK_EQ(g.redirects, 5);
    char want[128];
    snprintf(want, sizeof want, "%spage/0", site_base_url(s));
    CHECK_STR(g.url, want);
    drop(&g);
    for (int k = 1; k <= 5; k++) {
        char p[32];
        snprintf(p, sizeof p, "/redirect/%d", k);
        CHECK_EQ(site_hits(s, p), 1);
    }
    CHECK_EQ(site_status_count(s, 302), 5);
    g = get(s, "/redirect/2?code=301", false);
    CHECK_EQ(g.status, 301);
    drop(&g);
    g = get(s, "/redirect/2?code=308", true);
    CHECK_EQ(g.status, 200);
    CHECK_EQ(g.redirects, 2);
    drop(&g);
    CHECK_EQ(site_status_count(s, 308), 2);
    site_stop(s);
}

TEST(redirect_loop_is_caught_by_max_redirs)
{
    struct site *s = start(NULL);
    struct got g = get(s, "/loop/a", true);
    CHECK_EQ(g.rc, CURLE_TOO_MANY_REDIRECTS);
    CHECK(site_hits(s, "/loop/a") >= 10);
    CHECK(site_hits(s, "/loop/b") >= 10);
    drop(&g);
    site_stop(s);
}

TEST(reset_closes_without_answer)
{
    struct site *s = start(NULL);
    struct got g = get(s, "/reset", false);
    CHECK(g.rc == CURLE_GOT_NOTHING || g.rc == CURLE_RECV_ERROR);
    drop(&g);
    site_stats c;
    site_counters(s, &c);
    CHECK_EQ(c.resets, 1);
    CHECK_EQ(c.requests, 1);
    g = get(s, "/page/1", false); /* and the site carries on */
    CHECK_EQ(g.status, 200);
    drop(&g);
    site_stop(s);
}

TEST(big_page_has_its_size)
{
    struct site *s = start(NULL);
    struct got g = get(s, "/big/3000001", false);
    CHECK_EQ(g.rc, CURLE_OK);
    CHECK_EQ(g.status, 200);
    CHECK_EQ(g.len, 3000001);
    CHECK(strncmp(g.body, "<!DOCTYPE html>", 15) == 0);
    drop(&g);
    g = get(s, "/big/0", false);
    CHECK_EQ(g.status, 200);
    CHECK_EQ(g.len, 0);
    drop(&g);
    g = get(s, "/big/2000000000", false);
    CHECK_EQ(g.status, 404);
    drop(&g);
    site_stop(s);
}

TEST(slow_body_trickles)
{
    struct site *s = start(NULL);
    /* 2000 bytes at 4000 B/s in bursts of 200: the last burst starts no
     * earlier than 1800/4000 s after the first. */
    struct got g = get(s, "/slow/2000?rate=4000", false);
    CHECK_EQ(g.rc, CURLE_OK);
    CHECK_EQ(g.len, 2000);
    CHECK(g.seconds >= 0.45 - 0.01);
    drop(&g);
    site_stop(s);
}

TEST(latency_option_and_delay_query)
{
    site_opts o;
    site_opts_default(&o);
    o.latency = 0.2;
    o.jitter = 0.05;
    struct site *s = start(&o);
    struct got g = get(s, "/page/1", false);
    CHECK_EQ(g.status, 200);
    CHECK(g.seconds >= 0.2 - 0.002);
    drop(&g);
    g = get(s, "/page/1?delay=0", false);
    CHECK_EQ(g.status, 200);
    drop(&g);
    site_stop(s);
    s = start(NULL);
    g = get(s, "/page/1?delay=0.3", false);
    CHECK_EQ(g.status, 200);
    CHECK(g.seconds >= 0.3 - 0.002);
    CHECK_EQ(site_hits(s, "/page/1"), 1); /* the query is not part of the key */
    drop(&g);
    site_stop(s);
}

TEST(odd_bodies)
{
    struct site *s = start(NULL);
    struct got g = get(s, "/malformed", false);
    CHECK_EQ(g.status, 200);
    CHECK(strstr(g.body, "/page/1") && strstr(g.body, "</b></i>"));
    drop(&g);
    g = get(s, "/latin1", false);
    CHECK_EQ(g.status, 200);
    CHECK(strstr(g.ctype, "ISO-8859-1") != NULL);
    CHECK(strchr(g.body, '\xe9') != NULL);
    drop(&g);
    g = get(s, "/badutf8", false);
    CHECK_EQ(g.status, 200);
    CHECK(strstr(g.body, "\xc3\x28") != NULL);
    drop(&g);
    g = get(s, "/binary", false);
    CHECK_EQ(g.status, 200);
    CHECK_STR(g.ctype, "text/html");
    CHECK_EQ(g.len, 4096);
    CHECK(memchr(g.body, '\0', g.len) != NULL);
    drop(&g);
    g = get(s, "/zoo", false);
    CHECK_EQ(g.status, 200);
    CHECK(strstr(g.body, "/redirect/3") && strstr(g.body, "/slow/"));
    drop(&g);
    site_stop(s);
}

TEST(flaky_and_transient_pages_recover)
{
    site_opts o;
    site_opts_default(&o);
    o.transient_rate = 0.5;
    struct site *s = start(&o);
    for (int k = 0; k < 2; k++) {
        struct got g = get(s, "/flaky/x?fail=2", false);
        CHECK_EQ(g.status, 503);
        CHECK_STR(g.retry_after, "0");
        drop(&g);
    }
    struct got g = get(s, "/flaky/x?fail=2", false);
    CHECK_EQ(g.status, 200);
    drop(&g);
    g = get(s, "/flaky/y?code=429&retry-after=3", false);
    CHECK_EQ(g.status, 429);
    CHECK_STR(g.retry_after, "3");
    drop(&g);
    unsigned i = 0;
    while (site_page_status(&o, i) != 503)
        i++;
    char p[SITE_PATH_MAX];
    site_page_path(i, p);
    g = get(s, p, false);
    CHECK_EQ(g.status, 503);
    drop(&g);
    g = get(s, p, false);
    CHECK_EQ(g.status, 200);
    drop(&g);
    site_stop(s);
}

TEST(echo_shows_the_request)
{
    struct site *s = start(NULL);
    struct got g = get(s, "/echo", false);
    CHECK_EQ(g.status, 200);
    CHECK(strstr(g.body, "method: GET\npath: /echo\nhost: 127.0.0.1:") != NULL);
    CHECK(strstr(g.body, "user-agent: \n") != NULL);
    drop(&g);
    site_stop(s);
}

/* ---------------------------------------------------------------- counters */

TEST(counters_count_and_reset)
{
    struct site *s = start(NULL);
    for (int k = 0; k < 3; k++) {
        struct got g = get(s, "/page/3", false);
        drop(&g);
    }
    struct got g = get(s, "/nope", false);
    drop(&g);
    CHECK_EQ(site_hits(s, "/page/3"), 3);
    CHECK_EQ(site_hits(s, "/page/4"), 0);
    CHECK_EQ(site_hits(s, "/nope"), 1);
    CHECK_EQ(site_status_count(s, 200), 3);
    CHECK_EQ(site_status_count(s, 404), 1);
    CHECK_OK(site_wait_idle(s, 10 * test_scale()));
    site_stats c;
    site_counters(s, &c);
    CHECK_EQ(c.requests, 4);
    CHECK_EQ(c.active, 0);
    CHECK_EQ(c.peak, 1);
    CHECK(c.bytes > 0);
    CHECK_EQ(site_peak_concurrency(s, "127.0.0.1"), 1);
    CHECK_EQ(site_peak_concurrency(s, "127.0.0.1:1"), 1); /* the port is ignored */
    CHECK_EQ(site_peak_concurrency(s, "localhost"), 0);
    site_reset_counters(s);
    CHECK_EQ(site_hits(s, "/page/3"), 0);
    CHECK_EQ(site_status_count(s, 200), 0);
    site_counters(s, &c);
    CHECK_EQ(c.requests, 0);
    CHECK_EQ(c.peak, 0);
    CHECK_EQ(site_peak_concurrency(s, "127.0.0.1"), 0);
    /* Many distinct paths grow the table. */
    for (int k = 0; k < 300; k++) {
        char p[32];
        snprintf(p, sizeof p, "/page/%d", k % 200);
        g = get(s, p, false);
        drop(&g);
    }
    CHECK_EQ(site_hits(s, "/page/0"), 2);
    CHECK_EQ(site_hits(s, "/page/150"), 1);
    site_stop(s);
}

struct wait_active {
    const char *host;
    unsigned want;
    bool reached;
    unsigned peak_other;
};

/* Once `want` requests are in progress for the host, checks the peaks: a
 * handshake on the site's own counter, not a sleep. */
static void when_all_active(struct site *s, void *arg)
{
    struct wait_active *w = arg;
    if (w->reached || site_active(s, w->host) < w->want)
        return;
    w->reached = true;
    CHECK_EQ(site_peak_concurrency(s, w->host), w->want);
    w->peak_other = site_peak_concurrency(s, "127.0.0.1");
}

TEST(peak_concurrency_per_host)
{
    struct site *s = start(NULL);
    /* A long delay: the requests stay in progress until site_stop. */
    struct wait_active w = {"localhost", 25, false, 99};
    CURLM *m = curl_multi_init();
    struct got g[25];
    memset(g, 0, sizeof g);
    char url[256], hdr[64];
    snprintf(url, sizeof url, "%spage/1?delay=30", site_base_url(s));
    snprintf(hdr, sizeof hdr, "Host: localhost:%u", site_port(s));
    struct curl_slist *h = curl_slist_append(NULL, hdr);
    for (int k = 0; k < 25; k++) {
        CURL *e = easy(url, &g[k], false);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
        curl_multi_add_handle(m, e);
    }
    int running = 1;
    while (!w.reached) {
        CHECK_EQ(curl_multi_perform(m, &running), CURLM_OK);
        when_all_active(s, &w);
        curl_multi_poll(m, NULL, 0, 20, NULL);
    }
    CHECK_EQ(w.peak_other, 0);
    CHECK_RC(site_wait_idle(s, 0.05), ETIMEDOUT);
    site_stats c;
    site_counters(s, &c);
    CHECK_EQ(c.active, 25);
    CHECK_EQ(c.peak, 25);
    /* Stopping with 25 suspended requests must not hang: they are resumed
     * and answered (or their connections closed). */
    double t0 = now();
    site_stop(s);
    CHECK(now() - t0 < 10);
    while (running) {
        CHECK_EQ(curl_multi_perform(m, &running), CURLM_OK);
        if (running)
            curl_multi_poll(m, NULL, 0, 20, NULL);
    }
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m, &left))) {
        curl_multi_remove_handle(m, msg->easy_handle);
        curl_easy_cleanup(msg->easy_handle);
    }
    for (int k = 0; k < 25; k++)
        drop(&g[k]);
    curl_multi_cleanup(m);
    curl_slist_free_all(h);
}

/* ---------------------------------------------------------------- load */

static unsigned threads_now(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    unsigned n = 0;
    CHECK(f != NULL);
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %u", &n) == 1)
            break;
    fclose(f);
    return n;
}

struct sample {
    unsigned max_threads, max_active;
};

static void sample(struct site *s, void *arg)
{
    struct sample *sm = arg;
    site_stats c;
    site_counters(s, &c);
    if (c.active > sm->max_active)
        sm->max_active = c.active;
    unsigned t = threads_now();
    if (t > sm->max_threads)
        sm->max_threads = t;
}

TEST_T(five_hundred_slow_requests_few_threads, 30)
{
    site_opts o;
    site_opts_default(&o);
    o.latency = 0.2;
    struct site *s = start(&o);
    struct sample sm = {0, 0};
    struct batch b;
    double t0 = now();
    run_batch(s, "/page/1", 500, NULL, 500, sample, &sm, &b);
    double t = now() - t0;
    CHECK_EQ(b.failed, 0);
    site_stats c;
    site_counters(s, &c);
    CHECK_EQ(c.requests, 500);
    CHECK_EQ(c.status[200], 500);
    /* The main thread, MHD's polling thread and the timer: a thread per
     * sleeping request would show hundreds. */
    CHECK(sm.max_threads <= 8); /* slack: sanitizers add a thread or two */
    CHECK(t >= 0.2 - 0.002);
    /* 500 clients at once: never more in progress, and most overlapped. */
    CHECK(c.peak <= 500 && c.peak >= 250);
    printf("  500 requests x 0.2 s latency: %.3f s, peak %u in progress (sampled %u), "
           "%u threads\n",
           t, c.peak, sm.max_active, sm.max_threads);
    drop_batch(&b);
    site_stop(s);
}

TEST_T(two_thousand_slow_requests_at_once, 60)
{
    site_opts o;
    site_opts_default(&o);
    o.latency = 0.5;
    struct site *s = start(&o);
    struct sample sm = {0, 0};
    struct batch b;
    double t0 = now();
    run_batch(s, "/page/4", 2000, NULL, 2000, sample, &sm, &b);
    double t = now() - t0;
    CHECK_EQ(b.failed, 0);
    CHECK_EQ(site_status_count(s, 200), 2000);
    CHECK(sm.max_threads <= 8);
    site_stats c;
    site_counters(s, &c);
    CHECK(c.peak <= 2000 && c.peak >= 1000);
    printf("  2000 requests x 0.5 s latency: %.3f s, peak %u in progress, %u threads\n", t, c.peak,
           sm.max_threads);
    drop_batch(&b);
    site_stop(s);
}

TEST_T(thousand_urls_from_a_hundred_clients, 30)
{
    site_opts o;
    site_opts_default(&o);
    o.latency = 0.1;
    struct site *s = start(&o);
    struct batch b;
    double t0 = now();
    run_batch(s, "/page/2", 1000, NULL, 100, NULL, NULL, &b);
    double t = now() - t0;
    CHECK_EQ(b.failed, 0);
    /* Ten rounds of 0.1 s at best: one-sided. */
    CHECK(t >= 1.0 - 0.01);
    site_stats c;
    site_counters(s, &c);
    /* 100 connections: never more than 100 in progress, and they did overlap. */
    CHECK(c.peak <= 100 && c.peak >= 50);
    printf("  1000 requests x 0.1 s latency over 100 connections: %.3f s (peak %u)\n", t, c.peak);
    drop_batch(&b);
    site_stop(s);
}

TEST_T(thread_pool_serves_slow_requests, 30)
{
    site_opts o;
    site_opts_default(&o);
    o.threads = 2;
    o.latency = 0.1;
    struct site *s = start(&o);
    struct batch b;
    run_batch(s, "/page/3", 200, "localhost", 200, NULL, NULL, &b);
    CHECK_EQ(b.failed, 0);
    CHECK_EQ(site_status_count(s, 200), 200);
    CHECK_OK(site_wait_idle(s, 10 * test_scale()));
    CHECK(site_peak_concurrency(s, "localhost") > 1);
    drop_batch(&b);
    site_stop(s);
}

TEST(stop_with_trickles_in_flight)
{
    struct site *s = start(NULL);
    CURLM *m = curl_multi_init();
    struct got g[10];
    memset(g, 0, sizeof g);
    char url[256];
    snprintf(url, sizeof url, "%sslow/100000?rate=100", site_base_url(s));
    for (int k = 0; k < 10; k++)
        curl_multi_add_handle(m, easy(url, &g[k], false));
    int running = 1;
    /* Handshake: every body has started (and is now waiting to trickle). */
    site_stats c = {0};
    while (c.active < 10 || c.bytes < 10 * 5) {
        CHECK_EQ(curl_multi_perform(m, &running), CURLM_OK);
        site_counters(s, &c);
        curl_multi_poll(m, NULL, 0, 20, NULL);
    }
    site_stop(s);
    while (running) {
        CHECK_EQ(curl_multi_perform(m, &running), CURLM_OK);
        if (running)
            curl_multi_poll(m, NULL, 0, 20, NULL);
    }
    CURLMsg *msg;
    int left, failed = 0;
    while ((msg = curl_multi_info_read(m, &left))) {
        failed += msg->data.result != CURLE_OK;
        curl_multi_remove_handle(m, msg->easy_handle);
        curl_easy_cleanup(msg->easy_handle);
    }
    CHECK_EQ(failed, 10); /* cut short: the bodies were far from complete */
    for (int k = 0; k < 10; k++)
        drop(&g[k]);
    curl_multi_cleanup(m);
}

/* ---------------------------------------------------------------- start, CLI */

TEST(start_rejects_bad_options)
{
    struct site *s = (struct site *)1;
    site_opts o;
    site_opts_default(&o);
    o.pages = 0;
    CHECK_RC(site_start(&s, &o), EINVAL);
    CHECK(s == NULL);
    site_opts_default(&o);
    o.host = "not an address";
    CHECK_RC(site_start(&s, &o), EINVAL);
    site_opts_default(&o);
    o.error_rate = 1.5;
    CHECK_RC(site_start(&s, &o), EINVAL);
    site_opts_default(&o);
    o.latency = -1;
    CHECK_RC(site_start(&s, &o), EINVAL);
    site_opts_default(&o);
    o.links = 65;
    CHECK_RC(site_start(&s, &o), EINVAL);
    /* A port in use. */
    struct site *a = start(NULL);
    site_opts_default(&o);
    o.port = site_port(a);
    CHECK(site_port(a) > 0);
    CHECK(site_start(&s, &o) != 0);
    char want[64];
    snprintf(want, sizeof want, "http://127.0.0.1:%u/", site_port(a));
    CHECK_STR(site_base_url(a), want);
    CHECK_EQ(site_options(a)->pages, 200);
    site_stop(a);
    site_stop(NULL);
}

TEST(ipv6_loopback_when_available)
{
    site_opts o;
    site_opts_default(&o);
    o.host = "::1";
    struct site *s = NULL;
    CHECK_EQ(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
    int rc = site_start(&s, &o);
    if (rc != 0) /* no IPv6 here: nothing to test */
        return;
    CHECK(strncmp(site_base_url(s), "http://[::1]:", 13) == 0);
    struct got g = get(s, "/page/0", false);
    CHECK_EQ(g.status, 200);
    drop(&g);
    site_stop(s);
}

TEST(serve_rejects_bad_arguments)
{
    char *a1[] = {"serve", "--pages", "0", NULL};
    CHECK_EQ(cmd_serve(3, a1), 2);
    char *a2[] = {"serve", "--bogus", NULL};
    CHECK_EQ(cmd_serve(2, a2), 2);
    char *a3[] = {"serve", "--latency", "abc", NULL};
    CHECK_EQ(cmd_serve(3, a3), 2);
    char *a4[] = {"serve", "--error-rate", "2", NULL};
    CHECK_EQ(cmd_serve(3, a4), 2);
    char *a5[] = {"serve", "--port", "70000", NULL};
    CHECK_EQ(cmd_serve(3, a5), 2);
    char *a6[] = {"serve", "extra", NULL};
    CHECK_EQ(cmd_serve(2, a6), 2);
    char *a7[] = {"serve", "--host", "nowhere", NULL};
    CHECK_EQ(cmd_serve(3, a7), 2);
    char *a8[] = {"serve", "--help", NULL};
    CHECK_EQ(cmd_serve(2, a8), 0);
}
