/* site.c: the embedded synthetic web site (see site.h for the URL space).
 *
 * DESIGN: libmicrohttpd runs the sockets on its own epoll thread(s). A request
 * that must wait is suspended (MHD_suspend_connection) and pushed on a
 * min-heap of wake-up times; one timer thread sleeps on a condition variable
 * until the earliest wake-up and resumes the connections that are due, after
 * which MHD calls the handler (or the body reader, for trickled bodies)
 * again. So a slow request holds a socket and a small struct, never a
 * thread, and the one polling thread stays free to answer everybody else.
 * Pages are rendered on demand from (options, page number) by pure functions
 * that the graph helpers share, so what the server sends and what the tests
 * expect cannot drift apart.
 *
 * Stopping: site_stop sets `stopping` (no new suspensions), the timer thread
 * resumes everything still in the heap and exits, site_stop waits (bounded)
 * until MHD has re-entered every resumed request (nsuspended == 0) and only
 * then calls MHD_stop_daemon, which must not see suspended connections.
 *
 * Locks: `tlock` (heap, stopping) may be held while calling into MHD
 * (MHD_suspend_connection); `clk` (counters) is a leaf: nothing else is
 * locked or called while it is held. MHD's completion callback, which MHD may
 * run under its own locks, takes only `clk`.
 */
#include "site.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define MAX_LINKS     64
#define MAX_REDIRECTS 1000
#define MAX_BIG       ((uint64_t)1 << 30)
#define BODY_BLOCK    16384

/* ------------------------------------------------------------ helpers */

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* splitmix64's finaliser: a good 64-bit mix, enough for a synthetic site. */
static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

/* Distinct tags keep the streams of pseudo-random choices independent. */
enum { H_LINK = 1, H_FORM, H_ERR, H_ERRCODE, H_TRANS, H_WORDS, H_WORD, H_JITTER, H_FRAG };

static uint64_t hash3(uint64_t seed, uint64_t tag, uint64_t a)
{
    return mix(seed ^ mix(tag ^ mix(a)));
}

static double unit(uint64_t h)
{
    return (double)(h >> 11) * 0x1p-53;
}

/* A growable string; on allocation failure it remembers and stops growing. */
struct buf {
    char *p;
    size_t len, cap;
    bool failed;
};

static void bput(struct buf *b, const char *s, size_t n)
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

static void bputs(struct buf *b, const char *s)
{
    bput(b, s, strlen(s));
}

static void bvprintf(struct buf *b, const char *fmt, va_list ap)
{
    char small[512];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n < 0) {
        b->failed = true;
    } else if ((size_t)n < sizeof small) {
        bput(b, small, (size_t)n);
    } else {
        char *big = malloc((size_t)n + 1);
        if (!big)
            b->failed = true;
        else {
            vsnprintf(big, (size_t)n + 1, fmt, ap2);
            bput(b, big, (size_t)n);
            free(big);
        }
    }
    va_end(ap2);
}

__attribute__((format(printf, 2, 3))) static void bprintf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bvprintf(b, fmt, ap);
    va_end(ap);
}

static unsigned count_tokens(const char *s, size_t n)
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
__attribute__((format(printf, 3, 4))) static void btext(struct buf *b, unsigned *w, const char *fmt,
                                                        ...)
{
    size_t at = b->len;
    va_list ap;
    va_start(ap, fmt);
    bvprintf(b, fmt, ap);
    va_end(ap);
    if (!b->failed)
        *w += count_tokens(b->p + at, b->len - at);
}

/* Parses a decimal number in [0, max] that fills the whole string. */
static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
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

static bool parse_seconds(const char *s, double *out)
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
        unsigned t = (unsigned)(hash3(o->seed, H_LINK, ((uint64_t)i << 32) | j) % o->pages);
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
static int page_error(const site_opts *o, unsigned i)
{
    static const int codes[] = {404, 500, 503};
    if (o->error_rate > 0 && unit(hash3(o->seed, H_ERR, i)) < o->error_rate)
        return codes[hash3(o->seed, H_ERRCODE, i) % 3];
    return 0;
}

static bool page_transient(const site_opts *o, unsigned i)
{
    return o->transient_rate > 0 && unit(hash3(o->seed, H_TRANS, i)) < o->transient_rate;
}

int site_page_status(const site_opts *o, unsigned i)
{
    int e = page_error(o, i);
    if (e)
        return e;
    return page_transient(o, i) ? 503 : 200;
}

static const char *const vocabulary[] = {
    "alpha",  "bravo",  "charlie", "delta", "echo",    "foxtrot",  "golf",    "hotel",
    "india",  "juliet", "kilo",    "lima",  "mike",    "november", "oscar",   "papa",
    "quebec", "romeo",  "sierra",  "tango", "uniform", "victor",   "whiskey", "xray",
    "yankee", "zulu",   "thread",  "queue", "future",  "lock",     "event",   "timer",
};

/* Writes the link to page t from page i in one of the forms a crawler must
 * resolve (root-relative, relative, absolute, protocol-relative, ../). */
static void page_href(struct buf *b, const site_opts *o, unsigned i, unsigned t, const char *host)
{
    uint64_t h = hash3(o->seed, H_FORM, ((uint64_t)i << 32) | t);
    switch (h % 5) {
    case 0:
        bprintf(b, "/page/%u", t);
        break;
    case 1:
        bprintf(b, "%u", t);
        break;
    case 2:
        bprintf(b, "http://%s/page/%u", host, t);
        break;
    case 3:
        bprintf(b, "//%s/page/%u", host, t);
        break;
    default:
        bprintf(b, "../page/%u", t);
        break;
    }
    if ((h >> 32) % 4 == 0)
        bprintf(b, "#s%u", (unsigned)(hash3(o->seed, H_FRAG, h) % 9));
}

/* Renders /page/i as a client with this Host header would see it; *words
 * gets the word count. */
static void render_page(struct buf *b, const site_opts *o, unsigned i, const char *host,
                        unsigned *words)
{
    unsigned w = 0;
    bprintf(b,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
            "<title>Page %u</title>\n"
            "<link rel=\"stylesheet\" href=\"/style.css\">\n"
            "<style>p { margin: 1em; } /* not words */</style>\n"
            "<script>var hidden = \"these words are not counted\";</script>\n"
            "</head>\n<body id=\"top\">\n<h1>",
            i);
    btext(b, &w, "Page %u", i);
    bputs(b, "</h1>\n<p>");
    unsigned n = 40 + (unsigned)(hash3(o->seed, H_WORDS, i) % 160);
    for (unsigned k = 0; k < n; k++) {
        uint64_t h = hash3(o->seed, H_WORD, ((uint64_t)i << 32) | k);
        btext(b, &w, "%s%s", k ? " " : "", vocabulary[h % 32]);
        if (k % 12 == 11)
            bputs(b, "\n");
    }
    bputs(b, "</p>\n<!-- a comment: these words are not counted either -->\n<ul>\n");
    unsigned links[MAX_LINKS + 1];
    size_t nl = site_page_links(o, i, links, MAX_LINKS + 1);
    for (size_t k = 0; k < nl; k++) {
        bputs(b, "<li><a href=\"");
        page_href(b, o, i, links[k], host);
        bputs(b, "\">");
        btext(b, &w, "page %u", links[k]);
        bputs(b, "</a></li>\n");
    }
    bputs(b, "<li><a href=\"/\">");
    btext(b, &w, "home");
    bputs(b, "</a></li>\n");
    if (site_page_links_private(o, i)) {
        bprintf(b, "<li><a href=\"/private/%u\">", i);
        btext(b, &w, "private %u", i);
        bputs(b, "</a></li>\n");
    }
    bputs(b, "<li><a href=\"#top\">");
    btext(b, &w, "top");
    bputs(b, "</a></li>\n<li><a href=\"mailto:webmaster@example.invalid\">");
    btext(b, &w, "mail");
    bputs(b, "</a></li>\n<li><a href=\"javascript:void(0)\">");
    btext(b, &w, "script");
    bprintf(b, "</a></li>\n</ul>\n<img src=\"/asset/%u.png\" alt=\"asset\">\n</body></html>\n",
            i % o->assets);
    *words = w;
}

unsigned site_page_words(const site_opts *o, unsigned i)
{
    struct buf b = {0};
    unsigned w = 0;
    render_page(&b, o, i, "127.0.0.1", &w);
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
            nd->status = page_error(o, i) ? page_error(o, i) : 200;
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

/* ------------------------------------------------------------ the server */

struct hostc {
    struct hostc *next;
    unsigned active, peak;
    char name[64];
};

struct hit {
    char *path;
    unsigned long count;
};

struct wake {
    double at;
    struct req *r;
};

struct site {
    site_opts o;
    char *host_copy, *robots_copy;
    struct MHD_Daemon *d;
    unsigned port;
    char base[96];
    _Atomic uint64_t reqseq;

    pthread_mutex_t tlock;
    pthread_cond_t tcond;
    pthread_t timer;
    struct wake *heap;
    size_t nheap, capheap;
    atomic_bool stopping;
    atomic_long nsuspended;

    pthread_mutex_t clk;
    pthread_cond_t idle; /* signalled when c.active drops to 0 */
    site_stats c;
    struct hit *hits;
    size_t nhits, caphits;
    struct hostc *hosts;
};

struct req {
    struct site *s;
    struct MHD_Connection *conn;
    struct hostc *host;
    unsigned long hit_no; /* this request is the hit_no-th of its path */
    atomic_bool suspended;
    bool counted;
    bool waited; /* the latency is behind this request */
    /* a trickled or generated body */
    uint64_t total;
    double rate, t0;
    size_t burst;
};

static void die_on(int rc, const char *what)
{
    if (rc) {
        fprintf(stderr, "site: %s: %s\n", what, strerror(rc));
        abort();
    }
}

/* ---- counters (under clk) ---- */

static size_t hit_slot(struct site *s, const char *path)
{
    uint64_t h = 1469598103934665603u;
    for (const char *p = path; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211u;
    size_t k = (size_t)h & (s->caphits - 1);
    while (s->hits[k].path && strcmp(s->hits[k].path, path) != 0)
        k = (k + 1) & (s->caphits - 1);
    return k;
}

/* Counts one hit of path and returns its number (0 when out of memory). */
static unsigned long count_hit(struct site *s, const char *path)
{
    if (2 * (s->nhits + 1) > s->caphits) {
        size_t cap = s->caphits ? 2 * s->caphits : 256;
        struct hit *old = s->hits;
        size_t oldcap = s->caphits;
        struct hit *nh = calloc(cap, sizeof *nh);
        if (!nh)
            return 0;
        s->hits = nh;
        s->caphits = cap;
        for (size_t k = 0; k < oldcap; k++)
            if (old[k].path)
                s->hits[hit_slot(s, old[k].path)] = old[k];
        free(old);
    }
    size_t k = hit_slot(s, path);
    if (!s->hits[k].path) {
        s->hits[k].path = strdup(path);
        if (!s->hits[k].path)
            return 0;
        s->nhits++;
    }
    return ++s->hits[k].count;
}

/* The Host header without its port: "[::1]:80" -> "[::1]", "a:1" -> "a". */
static void host_key(const char *host, char *out, size_t cap)
{
    size_t n;
    if (!host)
        host = "";
    if (host[0] == '[') {
        const char *e = strchr(host, ']');
        n = e ? (size_t)(e - host) + 1 : strlen(host);
    } else {
        const char *e = strchr(host, ':');
        n = e ? (size_t)(e - host) : strlen(host);
    }
    if (n >= cap)
        n = cap - 1;
    memcpy(out, host, n);
    out[n] = '\0';
}

static struct hostc *find_host(struct site *s, const char *key, bool create)
{
    for (struct hostc *h = s->hosts; h; h = h->next)
        if (strcmp(h->name, key) == 0)
            return h;
    if (!create)
        return NULL;
    struct hostc *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    snprintf(h->name, sizeof h->name, "%s", key);
    h->next = s->hosts;
    s->hosts = h;
    return h;
}

static void count_begin(struct site *s, struct req *r, const char *path, const char *host)
{
    char key[64];
    host_key(host, key, sizeof key);
    die_on(pthread_mutex_lock(&s->clk), "lock");
    s->c.requests++;
    r->hit_no = count_hit(s, path);
    if (++s->c.active > s->c.peak)
        s->c.peak = s->c.active;
    r->host = find_host(s, key, true);
    if (r->host && ++r->host->active > r->host->peak)
        r->host->peak = r->host->active;
    r->counted = true;
    die_on(pthread_mutex_unlock(&s->clk), "unlock");
}

static void count_end(struct site *s, struct req *r)
{
    if (!r->counted)
        return;
    die_on(pthread_mutex_lock(&s->clk), "lock");
    if (--s->c.active == 0)
        die_on(pthread_cond_broadcast(&s->idle), "broadcast");
    if (r->host)
        r->host->active--;
    die_on(pthread_mutex_unlock(&s->clk), "unlock");
}

static void count_answer(struct site *s, int status, uint64_t bytes, bool reset)
{
    die_on(pthread_mutex_lock(&s->clk), "lock");
    if (reset)
        s->c.resets++;
    else if (status >= 0 && status < 600)
        s->c.status[status]++;
    s->c.bytes += bytes;
    die_on(pthread_mutex_unlock(&s->clk), "unlock");
}

unsigned long site_hits(struct site *s, const char *path)
{
    unsigned long n = 0;
    die_on(pthread_mutex_lock(&s->clk), "lock");
    if (s->caphits) {
        size_t k = hit_slot(s, path);
        if (s->hits[k].path)
            n = s->hits[k].count;
    }
    die_on(pthread_mutex_unlock(&s->clk), "unlock");
    return n;
}

unsigned long site_status_count(struct site *s, int status)
{
    unsigned long n = 0;
    die_on(pthread_mutex_lock(&s->clk), "lock");
    if (status >= 0 && status < 600)
        n = s->c.status[status];
    die_on(pthread_mutex_unlock(&s->clk), "unlock");
    return n;
}

void site_counters(struct site *s, site_stats *out)
{
    die_on(pthread_mutex_lock(&s->clk), "lock");
    *out = s->c;
    die_on(pthread_mutex_unlock(&s->clk), "unlock");
}

static unsigned host_stat(struct site *s, const char *host, bool peak)
{
    char key[64];
    host_key(host, key, sizeof key);
    unsigned v = 0;
    die_on(pthread_mutex_lock(&s->clk), "lock");
    struct hostc *h = find_host(s, key, false);
    if (h)
        v = peak ? h->peak : h->active;
    die_on(pthread_mutex_unlock(&s->clk), "unlock");
    return v;
}

unsigned site_active(struct site *s, const char *host)
{
    return host_stat(s, host, false);
}

unsigned site_peak_concurrency(struct site *s, const char *host)
{
    return host_stat(s, host, true);
}

int site_wait_idle(struct site *s, double timeout)
{
    double at = now_mono() + (timeout > 0 ? timeout : 0);
    struct timespec ts;
    ts.tv_sec = (time_t)at;
    ts.tv_nsec = (long)((at - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L)
        ts.tv_nsec = 999999999L;
    int rc = 0;
    die_on(pthread_mutex_lock(&s->clk), "lock");
    while (s->c.active > 0 && rc == 0) {
        rc = pthread_cond_timedwait(&s->idle, &s->clk, &ts);
        if (rc && rc != ETIMEDOUT)
            die_on(rc, "timedwait");
    }
    rc = s->c.active > 0 ? ETIMEDOUT : 0;
    die_on(pthread_mutex_unlock(&s->clk), "unlock");
    return rc;
}

void site_reset_counters(struct site *s)
{
    die_on(pthread_mutex_lock(&s->clk), "lock");
    unsigned active = s->c.active;
    memset(&s->c, 0, sizeof s->c);
    s->c.active = s->c.peak = active;
    for (size_t k = 0; k < s->caphits; k++)
        s->hits[k].count = 0;
    for (struct hostc *h = s->hosts; h; h = h->next)
        h->peak = h->active;
    die_on(pthread_mutex_unlock(&s->clk), "unlock");
}

/* ---- the timer: a min-heap of suspended requests (under tlock) ---- */

static void heap_swap(struct site *s, size_t a, size_t b)
{
    struct wake t = s->heap[a];
    s->heap[a] = s->heap[b];
    s->heap[b] = t;
}

static bool heap_push(struct site *s, double at, struct req *r)
{
    if (s->nheap == s->capheap) {
        size_t cap = s->capheap ? 2 * s->capheap : 256;
        struct wake *h = realloc(s->heap, cap * sizeof *h);
        if (!h)
            return false;
        s->heap = h;
        s->capheap = cap;
    }
    size_t k = s->nheap++;
    s->heap[k] = (struct wake){at, r};
    while (k > 0 && s->heap[(k - 1) / 2].at > s->heap[k].at) {
        heap_swap(s, k, (k - 1) / 2);
        k = (k - 1) / 2;
    }
    return true;
}

static struct req *heap_pop(struct site *s)
{
    struct req *r = s->heap[0].r;
    s->heap[0] = s->heap[--s->nheap];
    size_t k = 0;
    for (;;) {
        size_t l = 2 * k + 1, m = k;
        if (l < s->nheap && s->heap[l].at < s->heap[m].at)
            m = l;
        if (l + 1 < s->nheap && s->heap[l + 1].at < s->heap[m].at)
            m = l + 1;
        if (m == k)
            break;
        heap_swap(s, k, m);
        k = m;
    }
    return r;
}

/* Suspends r's connection until `at` (monotonic seconds). Must be called from
 * the access handler or the body reader. False (nothing suspended) when the
 * site is stopping or out of memory: the caller answers at once instead. */
static bool suspend_until(struct req *r, double at)
{
    struct site *s = r->s;
    bool ok = false;
    die_on(pthread_mutex_lock(&s->tlock), "lock");
    if (!atomic_load(&s->stopping) && heap_push(s, at, r)) {
        atomic_store(&r->suspended, true);
        atomic_fetch_add(&s->nsuspended, 1);
        /* Suspended before the timer can see it, under tlock: the timer never
         * resumes a connection that is not suspended yet. */
        MHD_suspend_connection(r->conn);
        if (s->heap[0].r == r)
            die_on(pthread_cond_signal(&s->tcond), "signal");
        ok = true;
    }
    die_on(pthread_mutex_unlock(&s->tlock), "unlock");
    return ok;
}

/* Called when MHD re-enters a request: it is no longer suspended. */
static void unsuspended(struct req *r)
{
    if (atomic_exchange(&r->suspended, false))
        atomic_fetch_sub(&r->s->nsuspended, 1);
}

static void *timer_main(void *arg)
{
    struct site *s = arg;
    struct req *due[256];
    die_on(pthread_mutex_lock(&s->tlock), "lock");
    for (;;) {
        bool stopping = atomic_load(&s->stopping);
        if (stopping && s->nheap == 0)
            break;
        size_t n = 0;
        double now = now_mono();
        while (s->nheap && n < 256 && (stopping || s->heap[0].at <= now))
            due[n++] = heap_pop(s);
        if (n) {
            /* Resuming only takes MHD's own lock; done with tlock released so
             * handlers suspending meanwhile are not held up. */
            die_on(pthread_mutex_unlock(&s->tlock), "unlock");
            for (size_t k = 0; k < n; k++)
                MHD_resume_connection(due[k]->conn);
            die_on(pthread_mutex_lock(&s->tlock), "lock");
            continue;
        }
        if (s->nheap == 0) {
            die_on(pthread_cond_wait(&s->tcond, &s->tlock), "wait");
        } else {
            double at = s->heap[0].at;
            struct timespec ts;
            ts.tv_sec = (time_t)at;
            ts.tv_nsec = (long)((at - (double)ts.tv_sec) * 1e9);
            if (ts.tv_nsec >= 1000000000L)
                ts.tv_nsec = 999999999L;
            int rc = pthread_cond_timedwait(&s->tcond, &s->tlock, &ts);
            if (rc != ETIMEDOUT)
                die_on(rc, "timedwait");
        }
    }
    die_on(pthread_mutex_unlock(&s->tlock), "unlock");
    return NULL;
}

/* ---- answers ---- */

static enum MHD_Result queue(struct req *r, int status, struct MHD_Response *resp, uint64_t bytes)
{
    if (!resp)
        return MHD_NO;
    enum MHD_Result rc = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    if (rc == MHD_YES)
        count_answer(r->s, status, bytes, false);
    return rc;
}

static struct MHD_Response *from_buf(struct buf *b, const char *ctype)
{
    if (b->failed) {
        free(b->p);
        return NULL;
    }
    struct MHD_Response *resp;
    if (!b->p)
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    else
        resp = MHD_create_response_from_buffer(b->len, b->p, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(b->p);
        return NULL;
    }
    if (ctype)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    return resp;
}

static enum MHD_Result answer_buf(struct req *r, int status, const char *ctype, struct buf *b)
{
    size_t len = b->len;
    return queue(r, status, from_buf(b, ctype), len);
}

static enum MHD_Result answer_text(struct req *r, int status, const char *ctype, const char *text,
                                   size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_PERSISTENT);
    if (resp && ctype)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    return queue(r, status, resp, len);
}

static enum MHD_Result answer_status(struct req *r, int status, const char *retry_after)
{
    struct buf b = {0};
    if (status != 204 && status != 304)
        bprintf(&b,
                "<!DOCTYPE html>\n<html><head><title>%d</title></head>"
                "<body><p>status %d</p></body></html>\n",
                status, status);
    struct MHD_Response *resp = from_buf(&b, "text/html; charset=utf-8");
    if (resp && retry_after)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, retry_after);
    return queue(r, status, resp, b.len);
}

static enum MHD_Result not_found(struct req *r)
{
    return answer_status(r, 404, NULL);
}

static enum MHD_Result redirect(struct req *r, int status, const char *location)
{
    struct buf b = {0};
    bprintf(&b, "<html><body><a href=\"%s\">moved</a></body></html>\n", location);
    struct MHD_Response *resp = from_buf(&b, "text/html; charset=utf-8");
    if (resp)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, location);
    return queue(r, status, resp, b.len);
}

static const char *arg(struct req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

static const char *req_host(struct req *r)
{
    const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    return h && *h ? h : r->s->base + strlen("http://");
}

/* The Host for absolute links: the request's, so a client stays on the host
 * name it chose (127.0.0.1 and localhost count as two hosts). */
static void link_host(struct req *r, char *out, size_t cap)
{
    const char *h = req_host(r);
    size_t n = strcspn(h, "/\"<> ");
    if (n >= cap)
        n = cap - 1;
    memcpy(out, h, n);
    out[n] = '\0';
}

/* Bodies generated by position: /big and /slow. */
static void fill_pattern(uint64_t pos, char *buf, size_t n)
{
    static const char head[] = "<!DOCTYPE html><html><body><p>";
    static const char cycle[] = "filler text ";
    const uint64_t hn = sizeof head - 1, cn = sizeof cycle - 1;
    while (n && pos < hn) {
        *buf++ = head[pos++];
        n--;
    }
    /* Whole copies of the cycle: /big/N may be a gigabyte. */
    while (n) {
        size_t off = (size_t)((pos - hn) % cn), k = cn - off < n ? cn - off : n;
        memcpy(buf, cycle + off, k);
        buf += k;
        pos += k;
        n -= k;
    }
}

static ssize_t big_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct req *r = cls;
    if (atomic_load(&r->s->stopping))
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (pos >= r->total)
        return MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = r->total - pos < max ? (size_t)(r->total - pos) : max;
    fill_pattern(pos, buf, n);
    return (ssize_t)n;
}

static ssize_t slow_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct req *r = cls;
    unsuspended(r);
    if (atomic_load(&r->s->stopping))
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (pos >= r->total)
        return MHD_CONTENT_READER_END_OF_STREAM;
    double now = now_mono();
    if (r->t0 == 0)
        r->t0 = now;
    double due = r->t0 + (double)pos / r->rate;
    if (now < due) {
        if (suspend_until(r, due))
            return 0;
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t n = r->burst;
    if (n > max)
        n = max;
    if (n > r->total - pos)
        n = (size_t)(r->total - pos);
    fill_pattern(pos, buf, n);
    count_answer(r->s, -1, n, false);
    return (ssize_t)n;
}

static enum MHD_Result serve_page(struct req *r, unsigned i)
{
    const site_opts *o = &r->s->o;
    int e = page_error(o, i);
    if (e)
        return answer_status(r, e, e == 503 ? "1" : NULL);
    if (page_transient(o, i) && r->hit_no <= 1)
        return answer_status(r, 503, "0");
    char host[256];
    link_host(r, host, sizeof host);
    struct buf b = {0};
    unsigned w;
    render_page(&b, o, i, host, &w);
    return answer_buf(r, 200, "text/html; charset=utf-8", &b);
}

static enum MHD_Result serve_home(struct req *r)
{
    struct buf b = {0};
    bputs(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
              "<title>weft test site</title></head>\n<body>\n<h1>weft test site</h1>\n"
              "<p>A synthetic site for crawler tests.</p>\n"
              "<p><a href=\"/page/0\">start</a></p>\n</body></html>\n");
    return answer_buf(r, 200, "text/html; charset=utf-8", &b);
}

static enum MHD_Result serve_private(struct req *r, unsigned i)
{
    struct buf b = {0};
    bprintf(&b,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<title>Private %u</title></head>\n<body>\n<h1>Private %u</h1>\n"
            "<p>Robots should not be here.</p>\n<p><a href=\"/\">home</a> "
            "<a href=\"/page/%u\">next</a></p>\n</body></html>\n",
            i, i, (i + 1) % r->s->o.pages);
    return answer_buf(r, 200, "text/html; charset=utf-8", &b);
}

static enum MHD_Result serve_robots(struct req *r)
{
    const site_opts *o = &r->s->o;
    if (o->robots_missing)
        return not_found(r);
    struct buf b = {0};
    if (o->robots_txt) {
        bputs(&b, o->robots_txt);
    } else {
        bputs(&b, "User-agent: *\nDisallow: /private/\n");
        if (o->robots_delay > 0)
            bprintf(&b, "Crawl-delay: %g\n", o->robots_delay);
    }
    return answer_buf(r, 200, "text/plain; charset=utf-8", &b);
}

static enum MHD_Result serve_asset(struct req *r, const char *rest)
{
    /* An 8-byte PNG signature and an IHDR-like tail: enough to be "binary". */
    static const char png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";
    char num[24];
    size_t n = strcspn(rest, ".");
    uint64_t k;
    if (n == 0 || n >= sizeof num || strcmp(rest + n, ".png") != 0)
        return not_found(r);
    memcpy(num, rest, n);
    num[n] = '\0';
    if (!parse_u64(num, UINT32_MAX, &k) || k >= r->s->o.assets)
        return not_found(r);
    return answer_text(r, 200, "image/png", png, sizeof png - 1);
}

static enum MHD_Result serve_zoo(struct req *r)
{
    static const char *const paths[] = {"/status/404",
                                        "/status/500",
                                        "/status/503?retry-after=2",
                                        "/status/429?retry-after=1",
                                        "/status/503?retry-after=2&amp;date=1",
                                        "/reset",
                                        "/redirect/3",
                                        "/loop/a",
                                        "/big/100000",
                                        "/slow/1000?rate=2000",
                                        "/malformed",
                                        "/latin1",
                                        "/badutf8",
                                        "/binary",
                                        "/links",
                                        "/flaky/zoo?fail=1",
                                        "/echo",
                                        "/robots.txt",
                                        "/style.css",
                                        "/asset/0.png",
                                        "/private/5"};
    struct buf b = {0};
    bputs(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>zoo</title></head>"
              "\n<body>\n<h1>The zoo</h1>\n<ul>\n");
    for (size_t k = 0; k < sizeof paths / sizeof paths[0]; k++)
        bprintf(&b, "<li><a href=\"%s\">%s</a></li>\n", paths[k], paths[k]);
    bputs(&b, "</ul>\n</body></html>\n");
    return answer_buf(r, 200, "text/html; charset=utf-8", &b);
}

static enum MHD_Result serve_status(struct req *r, const char *rest)
{
    uint64_t code, secs;
    if (!parse_u64(rest, 599, &code) || code < 200)
        return not_found(r);
    const char *ra = arg(r, "retry-after");
    char value[64];
    if (ra && parse_u64(ra, 100000000, &secs)) {
        const char *date = arg(r, "date");
        if (date && strcmp(date, "1") == 0) {
            time_t t = time(NULL) + (time_t)secs;
            struct tm tm;
            gmtime_r(&t, &tm);
            static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
            static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
            snprintf(value, sizeof value, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
                     tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                     tm.tm_sec);
        } else {
            snprintf(value, sizeof value, "%" PRIu64, secs);
        }
        return answer_status(r, (int)code, value);
    }
    return answer_status(r, (int)code, NULL);
}

static enum MHD_Result serve_redirect(struct req *r, const char *rest)
{
    uint64_t n, code = 302;
    const char *c = arg(r, "code");
    if (!parse_u64(rest, MAX_REDIRECTS, &n) || n == 0)
        return not_found(r);
    if (c && (!parse_u64(c, 308, &code) ||
              (code != 301 && code != 302 && code != 303 && code != 307 && code != 308)))
        return not_found(r);
    char loc[64];
    if (n == 1)
        snprintf(loc, sizeof loc, "/page/0");
    else if (c)
        snprintf(loc, sizeof loc, "/redirect/%" PRIu64 "?code=%" PRIu64, n - 1, code);
    else
        snprintf(loc, sizeof loc, "/redirect/%" PRIu64, n - 1);
    return redirect(r, (int)code, loc);
}

static enum MHD_Result serve_generated(struct req *r, const char *rest, bool slow)
{
    uint64_t n;
    if (!parse_u64(rest, MAX_BIG, &n))
        return not_found(r);
    r->total = n;
    struct MHD_Response *resp;
    if (slow) {
        double rate = 1000;
        const char *a = arg(r, "rate");
        if (a && (!parse_seconds(a, &rate) || rate < 1))
            return not_found(r);
        r->rate = rate;
        /* About twenty bursts a second: smooth enough, cheap enough. */
        r->burst = (size_t)(rate / 20) ? (size_t)(rate / 20) : 1;
        if (r->burst > BODY_BLOCK)
            r->burst = BODY_BLOCK;
        resp = MHD_create_response_from_callback(n, BODY_BLOCK, slow_reader, r, NULL);
        if (resp)
            MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
        return queue(r, 200, resp, 0);
    }
    resp = MHD_create_response_from_callback(n, BODY_BLOCK, big_reader, r, NULL);
    if (resp)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html");
    return queue(r, 200, resp, n);
}

static enum MHD_Result serve_links(struct req *r)
{
    char h[256];
    link_host(r, h, sizeof h);
    struct buf b = {0};
    bprintf(&b,
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>links</title></head>\n"
            "<body id=\"top\">\n<ul>\n"
            "<li><a href=\"page/1\">relative</a></li>\n"
            "<li><a href=\"/page/2\">root-relative</a></li>\n"
            "<li><a href=\"http://%s/page/3\">absolute</a></li>\n"
            "<li><a href=\"//%s/page/4\">protocol-relative</a></li>\n"
            "<li><a href=\"./page/1#frag\">dot with fragment</a></li>\n"
            "<li><a href=\"page/../page/2\">dot-dot</a></li>\n"
            "<li><a href=\"/page/3#x\">root-relative with fragment</a></li>\n"
            "<li><a href=\"HTTP://%s/page/4\">upper-case scheme</a></li>\n"
            "<li><a href=\"#top\">fragment only</a></li>\n"
            "<li><a href=\"\">empty</a></li>\n"
            "<li><a href=\"mailto:webmaster@example.invalid\">mailto</a></li>\n"
            "<li><a href=\"javascript:alert(1)\">javascript</a></li>\n"
            "<li><a href=\"data:text/html,hello\">data</a></li>\n"
            "<li><a href=\"tel:+15550100\">tel</a></li>\n"
            "<li><a>no href</a></li>\n"
            "</ul>\n</body></html>\n",
            h, h, h);
    return answer_buf(r, 200, "text/html; charset=utf-8", &b);
}

static enum MHD_Result serve_flaky(struct req *r)
{
    uint64_t fail = 1, code = 503;
    const char *a = arg(r, "fail"), *c = arg(r, "code"), *ra = arg(r, "retry-after");
    if ((a && !parse_u64(a, 1000000, &fail)) || (c && (!parse_u64(c, 599, &code) || code < 200)))
        return not_found(r);
    if (r->hit_no <= fail)
        return answer_status(r, (int)code, ra ? ra : "0");
    struct buf b = {0};
    bprintf(&b, "<html><body><p>ok after %" PRIu64 " failures</p></body></html>\n", fail);
    return answer_buf(r, 200, "text/html; charset=utf-8", &b);
}

static enum MHD_Result serve_echo(struct req *r, const char *url, const char *method)
{
    const char *ua = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "User-Agent");
    const char *host = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Host");
    struct buf b = {0};
    bprintf(&b, "method: %s\npath: %s\nhost: %s\nuser-agent: %s\n", method, url, host ? host : "",
            ua ? ua : "");
    return answer_buf(r, 200, "text/plain; charset=utf-8", &b);
}

static const char malformed_html[] =
    "<html><head><title>Malformed<body>\n"
    "<p>unclosed <b><i>misnested</b></i> text\n"
    "<a href=/page/1>unquoted</a> <div><table><tr><td>cell</div></table>\n"
    "<a href='/page/2'>no end tag\n"
    "<p>stray < and > and & here <br/></br> <img src=x alt=\"a\"b>\n"
    "<p title=\"unterminated>the rest\n";

static const char latin1_html[] =
    "<!DOCTYPE html>\n<html><head><meta http-equiv=\"Content-Type\" "
    "content=\"text/html; charset=ISO-8859-1\"><title>Caf\xe9</title></head>\n"
    "<body><p>Caf\xe9 cr\xe8me br\xfbl\xe9"
    "e na\xefve \xa9 \xbd</p>\n"
    "<a href=\"/page/1\">suivant</a></body></html>\n";

static const char badutf8_html[] = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                                   "<title>bad \xff utf-8</title></head>\n"
                                   "<body><p>bad \xff\xfe bytes \xc3\x28 and \xe2\x82 cut \xc0\xaf"
                                   " overlong \xed\xa0\x80 surrogate</p>\n"
                                   "<a href=\"/page/2\">next</a></body></html>\n";

static enum MHD_Result serve_binary(struct req *r)
{
    struct buf b = {0};
    char chunk[4096];
    for (size_t k = 0; k < sizeof chunk; k++)
        chunk[k] = (char)(mix(k) & 0xff);
    chunk[10] = '\0';
    bput(&b, chunk, sizeof chunk);
    return answer_buf(r, 200, "text/html", &b);
}

static bool prefix(const char *s, const char *p, const char **rest)
{
    size_t n = strlen(p);
    if (strncmp(s, p, n) != 0)
        return false;
    *rest = s + n;
    return true;
}

static enum MHD_Result route(struct req *r, const char *url, const char *method)
{
    struct site *s = r->s;
    const char *rest;
    uint64_t n;
    if (strcmp(url, "/") == 0)
        return serve_home(r);
    if (prefix(url, "/page/", &rest))
        return parse_u64(rest, UINT32_MAX, &n) && n < s->o.pages ? serve_page(r, (unsigned)n)
                                                                 : not_found(r);
    if (prefix(url, "/private/", &rest))
        return parse_u64(rest, UINT32_MAX, &n) && n < s->o.pages ? serve_private(r, (unsigned)n)
                                                                 : not_found(r);
    if (strcmp(url, "/robots.txt") == 0)
        return serve_robots(r);
    if (strcmp(url, "/style.css") == 0) {
        static const char css[] = "body { font-family: serif; }\np { margin: 1em; }\n";
        return answer_text(r, 200, "text/css", css, sizeof css - 1);
    }
    if (prefix(url, "/asset/", &rest))
        return serve_asset(r, rest);
    if (strcmp(url, "/zoo") == 0)
        return serve_zoo(r);
    if (prefix(url, "/status/", &rest))
        return serve_status(r, rest);
    if (strcmp(url, "/reset") == 0) {
        count_answer(s, 0, 0, true);
        return MHD_NO; /* MHD closes the connection without answering */
    }
    if (prefix(url, "/redirect/", &rest))
        return serve_redirect(r, rest);
    if (strcmp(url, "/loop/a") == 0)
        return redirect(r, 302, "/loop/b");
    if (strcmp(url, "/loop/b") == 0)
        return redirect(r, 302, "/loop/a");
    if (prefix(url, "/big/", &rest))
        return serve_generated(r, rest, false);
    if (prefix(url, "/slow/", &rest))
        return serve_generated(r, rest, true);
    if (strcmp(url, "/malformed") == 0)
        return answer_text(r, 200, "text/html", malformed_html, sizeof malformed_html - 1);
    if (strcmp(url, "/latin1") == 0)
        return answer_text(r, 200, "text/html; charset=ISO-8859-1", latin1_html,
                           sizeof latin1_html - 1);
    if (strcmp(url, "/badutf8") == 0)
        return answer_text(r, 200, "text/html; charset=utf-8", badutf8_html,
                           sizeof badutf8_html - 1);
    if (strcmp(url, "/binary") == 0)
        return serve_binary(r);
    if (strcmp(url, "/links") == 0)
        return serve_links(r);
    if (prefix(url, "/flaky/", &rest) && *rest)
        return serve_flaky(r);
    if (strcmp(url, "/echo") == 0)
        return serve_echo(r, url, method);
    return not_found(r);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    struct site *s = cls;
    struct req *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        r->s = s;
        r->conn = conn;
        *con_cls = r;
        count_begin(s, r, url,
                    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST));
        /* Nothing is answered (or suspended) on this first call: MHD closes
         * the connection after an answer queued before the request was read
         * to its end, and clients' keep-alive must work. */
        return MHD_YES;
    }
    unsuspended(r);
    if (*upload_data_size) {
        *upload_data_size = 0; /* request bodies are read and ignored */
        return MHD_YES;
    }
    if (!r->waited) {
        r->waited = true;
        double wait = s->o.latency;
        if (s->o.jitter > 0)
            wait += s->o.jitter * unit(hash3(s->o.seed, H_JITTER, atomic_fetch_add(&s->reqseq, 1)));
        const char *d = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "delay");
        double dv;
        if (d && parse_seconds(d, &dv))
            wait = dv;
        /* MHD calls again once resumed; if it cannot suspend, answer now. */
        if (wait > 0 && suspend_until(r, now_mono() + wait))
            return MHD_YES;
    }
    return route(r, url, method);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct req *r = *con_cls;
    if (!r)
        return;
    unsuspended(r);
    count_end(r->s, r);
    free(r);
    *con_cls = NULL;
}

/* Slow clients by the thousand need descriptors: take all we may. */
static rlim_t raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur;
}

static bool bad_rate(double v)
{
    return !(v >= 0 && v <= 1);
}

static bool bad_seconds(double v)
{
    return !(v >= 0 && v <= 1e6);
}

static int check_opts(const site_opts *o)
{
    if (!o->host || o->port > 65535 || o->pages < 1 || o->links > MAX_LINKS || o->assets < 1 ||
        o->threads < 1 || o->threads > 64 || o->connection_limit < 1 || bad_rate(o->error_rate) ||
        bad_rate(o->transient_rate) || bad_seconds(o->latency) || bad_seconds(o->jitter) ||
        isnan(o->robots_delay))
        return EINVAL;
    return 0;
}

int site_start(struct site **out, const site_opts *opts)
{
    site_opts o;
    if (opts)
        o = *opts;
    else
        site_opts_default(&o);
    *out = NULL;
    if (check_opts(&o))
        return EINVAL;

    union {
        struct sockaddr sa;
        struct sockaddr_in v4;
        struct sockaddr_in6 v6;
    } addr;
    memset(&addr, 0, sizeof addr);
    bool v6 = false;
    if (inet_pton(AF_INET, o.host, &addr.v4.sin_addr) == 1) {
        addr.v4.sin_family = AF_INET;
        addr.v4.sin_port = htons((uint16_t)o.port);
    } else if (inet_pton(AF_INET6, o.host, &addr.v6.sin6_addr) == 1) {
        addr.v6.sin6_family = AF_INET6;
        addr.v6.sin6_port = htons((uint16_t)o.port);
        v6 = true;
    } else {
        return EINVAL;
    }

    rlim_t nofile = raise_nofile();
    unsigned limit = o.connection_limit;
    if (nofile > 128 && limit > nofile - 64)
        limit = (unsigned)(nofile - 64);

    struct site *s = calloc(1, sizeof *s);
    if (!s)
        return ENOMEM;
    s->o = o;
    s->host_copy = strdup(o.host);
    s->robots_copy = o.robots_txt ? strdup(o.robots_txt) : NULL;
    if (!s->host_copy || (o.robots_txt && !s->robots_copy)) {
        free(s->host_copy);
        free(s->robots_copy);
        free(s);
        return ENOMEM;
    }
    s->o.host = s->host_copy;
    s->o.robots_txt = s->robots_copy;
    atomic_init(&s->stopping, false);
    atomic_init(&s->nsuspended, 0);
    atomic_init(&s->reqseq, 0);

    pthread_condattr_t ca;
    die_on(pthread_mutex_init(&s->tlock, NULL), "mutex_init");
    die_on(pthread_mutex_init(&s->clk, NULL), "mutex_init");
    die_on(pthread_condattr_init(&ca), "condattr_init");
    die_on(pthread_condattr_setclock(&ca, CLOCK_MONOTONIC), "condattr_setclock");
    die_on(pthread_cond_init(&s->tcond, &ca), "cond_init");
    die_on(pthread_cond_init(&s->idle, &ca), "cond_init");
    pthread_condattr_destroy(&ca);

    int rc = pthread_create(&s->timer, NULL, timer_main, s);
    if (rc) {
        pthread_cond_destroy(&s->idle);
        pthread_cond_destroy(&s->tcond);
        pthread_mutex_destroy(&s->tlock);
        pthread_mutex_destroy(&s->clk);
        free(s->host_copy);
        free(s->robots_copy);
        free(s);
        return rc;
    }

    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME;
    if (v6)
        flags |= MHD_USE_IPv6;
    if (o.log_errors)
        flags |= MHD_USE_ERROR_LOG;
    errno = 0;
    s->d = MHD_start_daemon(
        flags, (uint16_t)o.port, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR, &addr.sa,
        MHD_OPTION_CONNECTION_LIMIT, limit, MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096u,
        MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_CONNECTION_TIMEOUT, 120u,
        o.threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, o.threads, MHD_OPTION_END);
    if (!s->d) {
        rc = errno ? errno : EIO;
        site_stop(s);
        return rc;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : o.port;
    snprintf(s->base, sizeof s->base, v6 ? "http://[%s]:%u/" : "http://%s:%u/", o.host, s->port);
    *out = s;
    return 0;
}

void site_stop(struct site *s)
{
    if (!s)
        return;
    die_on(pthread_mutex_lock(&s->tlock), "lock");
    atomic_store(&s->stopping, true);
    die_on(pthread_cond_signal(&s->tcond), "signal");
    die_on(pthread_mutex_unlock(&s->tlock), "unlock");
    die_on(pthread_join(s->timer, NULL), "join");
    if (s->d) {
        /* MHD must not be stopped with suspended connections, and resuming
         * is asynchronous: wait (a bounded while) until MHD has re-entered
         * every resumed request. No new suspension can start: stopping. */
        double give_up = now_mono() + 10;
        while (atomic_load(&s->nsuspended) > 0 && now_mono() < give_up) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
        MHD_stop_daemon(s->d);
    }
    pthread_cond_destroy(&s->idle);
    pthread_cond_destroy(&s->tcond);
    pthread_mutex_destroy(&s->tlock);
    pthread_mutex_destroy(&s->clk);
    for (size_t k = 0; k < s->caphits; k++)
        free(s->hits[k].path);
    free(s->hits);
    while (s->hosts) {
        struct hostc *h = s->hosts;
        s->hosts = h->next;
        free(h);
    }
    free(s->heap);
    free(s->host_copy);
    free(s->robots_copy);
    free(s);
}

const char *site_base_url(const struct site *s)
{
    return s->base;
}

unsigned site_port(const struct site *s)
{
    return s->port;
}

const site_opts *site_options(const struct site *s)
{
    return &s->o;
}
