/* site/graph.c: the embedded site's page graph, as pure functions of
 * (site_opts, page number): what each page links to, its status, words and
 * title, the expected BFS crawl, and the renderer the server sends pages
 * with, so what the server sends and what the tests expect cannot drift
 * apart. */
#include "site/site-impl.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------ helpers */

double site_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

uint64_t site_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

uint64_t site_hash3(uint64_t seed, uint64_t tag, uint64_t a)
{
    return site_mix(seed ^ site_mix(tag ^ site_mix(a)));
}

double site_unit(uint64_t h)
{
    return (double)(h >> 11) * 0x1p-53;
}

void sbuf_put(struct sbuf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void sbuf_puts(struct sbuf *b, const char *s)
{
    sbuf_put(b, s, strlen(s));
}

void sbuf_vprintf(struct sbuf *b, const char *fmt, va_list ap)
{
    char small[512];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n < 0) {
        b->failed = true;
    } else if ((size_t)n < sizeof small) {
        sbuf_put(b, small, (size_t)n);
    } else {
        char *big = malloc((size_t)n + 1);
        if (!big)
            b->failed = true;
        else {
            vsnprintf(big, (size_t)n + 1, fmt, ap2);
            sbuf_put(b, big, (size_t)n);
            free(big);
        }
    }
    va_end(ap2);
}

__attribute__((format(printf, 2, 3))) void sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sbuf_vprintf(b, fmt, ap);
    va_end(ap);
}

unsigned site_count_tokens(const char *s, size_t n)
{
    unsigned words = 0;
    bool in = false;
    for (size_t i = 0; i < n; i++) {
        bool space = s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r';
        if (!space && !in)
            words++;
        in = !space;
    }
    return words;
}

/* Appends visible text and adds its words to *w: the one place page text is
 * written, so site_page_words cannot disagree with the page. */
__attribute__((format(printf, 3, 4))) static void btext(struct sbuf *b, unsigned *w,
                                                        const char *fmt, ...)
{
    size_t at = b->len;
    va_list ap;
    va_start(ap, fmt);
    sbuf_vprintf(b, fmt, ap);
    va_end(ap);
    if (!b->failed)
        *w += site_count_tokens(b->p + at, b->len - at);
}

/* Parses a decimal number in [0, max] that fills the whole string. */
bool site_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (!s || !*s)
        return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool site_parse_seconds(const char *s, double *out)
{
    if (!s || !*s)
        return false;
    char *end;
    double v = strtod(s, &end);
    if (*end || !(v >= 0) || v > 1e6)
        return false;
    *out = v;
    return true;
}

/* ------------------------------------------------------------ the graph */

void site_opts_default(site_opts *o)
{
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->pages = 200;
    o->seed = 1;
    o->links = 3;
    o->private_every = 10;
    o->assets = 8;
    o->connection_limit = 10000;
    o->threads = 1;
}

void site_page_path(unsigned i, char *buf)
{
    snprintf(buf, SITE_PATH_MAX, "/page/%u", i);
}

void site_page_title(unsigned i, char *buf)
{
    snprintf(buf, SITE_PATH_MAX, "Page %u", i);
}

size_t site_page_links(const site_opts *o, unsigned i, unsigned *out, size_t cap)
{
    unsigned all[MAX_LINKS + 1];
    size_t n = 0;
    if ((uint64_t)i + 1 < o->pages)
        all[n++] = i + 1;
    unsigned links = o->links > MAX_LINKS ? MAX_LINKS : o->links;
    for (unsigned j = 0; j < links; j++) {
        unsigned t = (unsigned)(site_hash3(o->seed, H_LINK, ((uint64_t)i << 32) | j) % o->pages);
        bool dup = t == i;
        for (size_t k = 0; k < n && !dup; k++)
            dup = all[k] == t;
        if (!dup)
            all[n++] = t;
    }
    for (size_t k = 0; k < n && k < cap; k++)
        out[k] = all[k];
    return n;
}

bool site_page_links_private(const site_opts *o, unsigned i)
{
    return o->private_every && i % o->private_every == o->private_every / 2;
}

/* The permanent error of page i, or 0. */
int site_page_error(const site_opts *o, unsigned i)
{
    static const int codes[] = {404, 500, 503};
    if (o->error_rate > 0 && site_unit(site_hash3(o->seed, H_ERR, i)) < o->error_rate)
        return codes[site_hash3(o->seed, H_ERRCODE, i) % 3];
    return 0;
}

bool site_page_transient(const site_opts *o, unsigned i)
{
    return o->transient_rate > 0 && site_unit(site_hash3(o->seed, H_TRANS, i)) < o->transient_rate;
}

int site_page_status(const site_opts *o, unsigned i)
{
    int e = site_page_error(o, i);
    if (e)
        return e;
    return site_page_transient(o, i) ? 503 : 200;
}

static const char *const vocabulary[] = {
    "alpha",  "bravo",  "charlie", "delta", "echo",    "foxtrot",  "golf",    "hotel",
    "india",  "juliet", "kilo",    "lima",  "mike",    "november", "oscar",   "papa",
    "quebec", "romeo",  "sierra",  "tango", "uniform", "victor",   "whiskey", "xray",
    "yankee", "zulu",   "thread",  "queue", "future",  "lock",     "event",   "timer",
};

/* Writes the link to page t from page i in one of the forms a crawler must
 * resolve (root-relative, relative, absolute, protocol-relative, ../). */
static void page_href(struct sbuf *b, const site_opts *o, unsigned i, unsigned t, const char *host)
{
    uint64_t h = site_hash3(o->seed, H_FORM, ((uint64_t)i << 32) | t);
    switch (h % 5) {
    case 0:
        sbuf_printf(b, "/page/%u", t);
        break;
    case 1:
        sbuf_printf(b, "%u", t);
        break;
    case 2:
        sbuf_printf(b, "http://%s/page/%u", host, t);
        break;
    case 3:
        sbuf_printf(b, "//%s/page/%u", host, t);
        break;
    default:
        sbuf_printf(b, "../page/%u", t);
        break;
    }
    if ((h >> 32) % 4 == 0)
        sbuf_printf(b, "#s%u", (unsigned)(site_hash3(o->seed, H_FRAG, h) % 9));
}

/* Renders /page/i as a client with this Host header would see it; *words
 * gets the word count. */
void site_render_page(struct sbuf *b, const site_opts *o, unsigned i, const char *host,
                      unsigned *words)
{
    unsigned w = 0;
    sbuf_printf(b,
                "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                "<title>Page %u</title>\n"
                "<link rel=\"stylesheet\" href=\"/style.css\">\n"
                "<style>p { margin: 1em; } /* not words */</style>\n"
                "<script>var hidden = \"these words are not counted\";</script>\n"
                "</head>\n<body id=\"top\">\n<h1>",
                i);
    btext(b, &w, "Page %u", i);
    sbuf_puts(b, "</h1>\n<p>");
    unsigned n = 40 + (unsigned)(site_hash3(o->seed, H_WORDS, i) % 160);
    for (unsigned k = 0; k < n; k++) {
        uint64_t h = site_hash3(o->seed, H_WORD, ((uint64_t)i << 32) | k);
        btext(b, &w, "%s%s", k ? " " : "", vocabulary[h % 32]);
        if (k % 12 == 11)
            sbuf_puts(b, "\n");
    }
    sbuf_puts(b, "</p>\n<!-- a comment: these words are not counted either -->\n<ul>\n");
    unsigned links[MAX_LINKS + 1];
    size_t nl = site_page_links(o, i, links, MAX_LINKS + 1);
    for (size_t k = 0; k < nl; k++) {
        sbuf_puts(b, "<li><a href=\"");
        page_href(b, o, i, links[k], host);
        sbuf_puts(b, "\">");
        btext(b, &w, "page %u", links[k]);
        sbuf_puts(b, "</a></li>\n");
    }
    sbuf_puts(b, "<li><a href=\"/\">");
    btext(b, &w, "home");
    sbuf_puts(b, "</a></li>\n");
    if (site_page_links_private(o, i)) {
        sbuf_printf(b, "<li><a href=\"/private/%u\">", i);
        btext(b, &w, "private %u", i);
        sbuf_puts(b, "</a></li>\n");
    }
    sbuf_puts(b, "<li><a href=\"#top\">");
    btext(b, &w, "top");
    sbuf_puts(b, "</a></li>\n<li><a href=\"mailto:webmaster@example.invalid\">");
    btext(b, &w, "mail");
    sbuf_puts(b, "</a></li>\n<li><a href=\"javascript:void(0)\">");
    btext(b, &w, "script");
    sbuf_printf(b, "</a></li>\n</ul>\n<img src=\"/asset/%u.png\" alt=\"asset\">\n</body></html>\n",
                i % o->assets);
    *words = w;
}

unsigned site_page_words(const site_opts *o, unsigned i)
{
    struct sbuf b = {0};
    unsigned w = 0;
    site_render_page(&b, o, i, "127.0.0.1", &w);
    free(b.p);
    return w;
}

int site_expected(const site_opts *o, unsigned max_depth, bool honour_robots, site_node **out,
                  size_t *n)
{
    /* Node ids: 0 is "/", 1 + i is /page/i, 1 + pages + i is /private/i. */
    size_t total = 1 + 2 * (size_t)o->pages;
    unsigned *depth = malloc(total * sizeof *depth);
    unsigned *queue = malloc(total * sizeof *queue);
    site_node *nodes = malloc(total * sizeof *nodes);
    if (!depth || !queue || !nodes) {
        free(depth);
        free(queue);
        free(nodes);
        return ENOMEM;
    }
    for (size_t k = 0; k < total; k++)
        depth[k] = UINT32_MAX;
    size_t head = 0, tail = 0;
    depth[0] = 0;
    queue[tail++] = 0;
    while (head < tail) {
        unsigned id = queue[head++];
        site_node *nd = &nodes[head - 1];
        nd->depth = depth[id];
        nd->status = 200;
        unsigned next[MAX_LINKS + 4];
        size_t nn = 0;
        if (id == 0) {
            snprintf(nd->path, SITE_PATH_MAX, "/");
            next[nn++] = 1;
        } else if (id <= o->pages) {
            unsigned i = id - 1;
            site_page_path(i, nd->path);
            nd->status = site_page_error(o, i) ? site_page_error(o, i) : 200;
            if (nd->status == 200) {
                unsigned links[MAX_LINKS + 1];
                size_t nl = site_page_links(o, i, links, MAX_LINKS + 1);
                for (size_t k = 0; k < nl; k++)
                    next[nn++] = 1 + links[k];
                next[nn++] = 0;
                if (site_page_links_private(o, i) && !honour_robots)
                    next[nn++] = 1 + o->pages + i;
            }
        } else {
            unsigned i = id - 1 - o->pages;
            snprintf(nd->path, SITE_PATH_MAX, "/private/%u", i);
            next[nn++] = 0;
            next[nn++] = 1 + (i + 1) % o->pages;
        }
        if (depth[id] >= max_depth)
            continue;
        for (size_t k = 0; k < nn; k++) {
            if (depth[next[k]] != UINT32_MAX)
                continue;
            depth[next[k]] = depth[id] + 1;
            queue[tail++] = next[k];
        }
    }
    free(depth);
    free(queue);
    *out = nodes;
    *n = head;
    return 0;
}
