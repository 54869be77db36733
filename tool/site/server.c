/* site/server.c: the embedded synthetic web site (see site.h for the URL space).
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
#include "site/site-impl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

void site_die_on(int rc, const char *what)
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

/* Counts one hit of path at time now and returns its number (0 when out
 * of memory). */
static unsigned long count_hit(struct site *s, const char *path, double now)
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
    unsigned long n = ++s->hits[k].count;
    if (n <= SITE_HIT_TIMES)
        s->hits[k].times[n - 1] = now;
    return n;
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
    h->min_gap = -1;
    h->next = s->hosts;
    s->hosts = h;
    return h;
}

static void count_begin(struct site *s, struct req *r, const char *path, const char *host)
{
    char key[64];
    host_key(host, key, sizeof key);
    double now = site_now();
    site_die_on(pthread_mutex_lock(&s->clk), "lock");
    s->c.requests++;
    r->hit_no = count_hit(s, path, now);
    if (++s->c.active > s->c.peak)
        s->c.peak = s->c.active;
    r->host = find_host(s, key, true);
    if (r->host && ++r->host->active > r->host->peak)
        r->host->peak = r->host->active;
    if (r->host) {
        if (r->host->last > 0 && (r->host->min_gap < 0 || now - r->host->last < r->host->min_gap))
            r->host->min_gap = now - r->host->last;
        r->host->last = now;
    }
    r->counted = true;
    site_die_on(pthread_mutex_unlock(&s->clk), "unlock");
}

static void count_end(struct site *s, struct req *r)
{
    if (!r->counted)
        return;
    site_die_on(pthread_mutex_lock(&s->clk), "lock");
    if (--s->c.active == 0)
        site_die_on(pthread_cond_broadcast(&s->idle), "broadcast");
    if (r->host)
        r->host->active--;
    site_die_on(pthread_mutex_unlock(&s->clk), "unlock");
}

void site_count_answer(struct site *s, int status, uint64_t bytes, bool reset)
{
    site_die_on(pthread_mutex_lock(&s->clk), "lock");
    if (reset)
        s->c.resets++;
    else if (status >= 0 && status < 600)
        s->c.status[status]++;
    s->c.bytes += bytes;
    site_die_on(pthread_mutex_unlock(&s->clk), "unlock");
}

unsigned long site_hits(struct site *s, const char *path)
{
    unsigned long n = 0;
    site_die_on(pthread_mutex_lock(&s->clk), "lock");
    if (s->caphits) {
        size_t k = hit_slot(s, path);
        if (s->hits[k].path)
            n = s->hits[k].count;
    }
    site_die_on(pthread_mutex_unlock(&s->clk), "unlock");
    return n;
}

unsigned long site_status_count(struct site *s, int status)
{
    unsigned long n = 0;
    site_die_on(pthread_mutex_lock(&s->clk), "lock");
    if (status >= 0 && status < 600)
        n = s->c.status[status];
    site_die_on(pthread_mutex_unlock(&s->clk), "unlock");
    return n;
}

void site_counters(struct site *s, site_stats *out)
{
    site_die_on(pthread_mutex_lock(&s->clk), "lock");
    *out = s->c;
    site_die_on(pthread_mutex_unlock(&s->clk), "unlock");
}

static unsigned host_stat(struct site *s, const char *host, bool peak)
{
    char key[64];
    host_key(host, key, sizeof key);
    unsigned v = 0;
    site_die_on(pthread_mutex_lock(&s->clk), "lock");
    struct hostc *h = find_host(s, key, false);
    if (h)
        v = peak ? h->peak : h->active;
    site_die_on(pthread_mutex_unlock(&s->clk), "unlock");
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

double site_hit_gap(struct site *s, const char *path, unsigned k)
{
    double gap = -1;
    if (k + 1 >= SITE_HIT_TIMES)
        return -1;
    site_die_on(pthread_mutex_lock(&s->clk), "lock");
    if (s->caphits) {
        struct hit *h = &s->hits[hit_slot(s, path)];
        if (h->path && h->count > k + 1)
            gap = h->times[k + 1] - h->times[k];
    }
    site_die_on(pthread_mutex_unlock(&s->clk), "unlock");
    return gap;
}

double site_min_gap(struct site *s, const char *host)
{
    char key[64];
    host_key(host, key, sizeof key);
    site_die_on(pthread_mutex_lock(&s->clk), "lock");
    struct hostc *h = find_host(s, key, false);
    double g = h ? h->min_gap : -1;
    site_die_on(pthread_mutex_unlock(&s->clk), "unlock");
    return g;
}

static void json_str(struct sbuf *b, const char *s)
{
    sbuf_puts(b, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            sbuf_printf(b, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            sbuf_printf(b, "\\u%04x", c);
        else
            sbuf_put(b, s, 1);
    }
    sbuf_puts(b, "\"");
}

void site_stats_json(struct site *s, struct sbuf *b)
{
    site_die_on(pthread_mutex_lock(&s->clk), "lock");
    sbuf_printf(b, "{\"requests\":%lu,\"active\":%u,\"peak\":%u,\"resets\":%lu,\"status\":{",
                s->c.requests, s->c.active, s->c.peak, s->c.resets);
    bool first = true;
    for (int st = 0; st < 600; st++)
        if (s->c.status[st]) {
            sbuf_printf(b, "%s\"%d\":%lu", first ? "" : ",", st, s->c.status[st]);
            first = false;
        }
    sbuf_puts(b, "},\"hosts\":{");
    first = true;
    for (struct hostc *h = s->hosts; h; h = h->next) {
        sbuf_puts(b, first ? "" : ",");
        json_str(b, h->name);
        sbuf_printf(b, ":{\"active\":%u,\"peak\":%u,\"min_gap\":%.6f}", h->active, h->peak,
                    h->min_gap);
        first = false;
    }
    sbuf_puts(b, "},\"paths\":{");
    first = true;
    for (size_t k = 0; k < s->caphits; k++) {
        struct hit *h = &s->hits[k];
        if (!h->path || h->count == 0)
            continue;
        sbuf_puts(b, first ? "" : ",");
        json_str(b, h->path);
        sbuf_printf(b, ":{\"hits\":%lu,\"gaps\":[", h->count);
        for (unsigned long i = 1; i < h->count && i < SITE_HIT_TIMES; i++)
            sbuf_printf(b, "%s%.6f", i > 1 ? "," : "", h->times[i] - h->times[i - 1]);
        sbuf_puts(b, "]}");
        first = false;
    }
    sbuf_puts(b, "}}\n");
    site_die_on(pthread_mutex_unlock(&s->clk), "unlock");
}

int site_wait_idle(struct site *s, double timeout)
{
    double at = site_now() + (timeout > 0 ? timeout : 0);
    struct timespec ts;
    ts.tv_sec = (time_t)at;
    ts.tv_nsec = (long)((at - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L)
        ts.tv_nsec = 999999999L;
    int rc = 0;
    site_die_on(pthread_mutex_lock(&s->clk), "lock");
    while (s->c.active > 0 && rc == 0) {
        rc = pthread_cond_timedwait(&s->idle, &s->clk, &ts);
        if (rc && rc != ETIMEDOUT)
            site_die_on(rc, "timedwait");
    }
    rc = s->c.active > 0 ? ETIMEDOUT : 0;
    site_die_on(pthread_mutex_unlock(&s->clk), "unlock");
    return rc;
}

void site_reset_counters(struct site *s)
{
    site_die_on(pthread_mutex_lock(&s->clk), "lock");
    unsigned active = s->c.active;
    memset(&s->c, 0, sizeof s->c);
    s->c.active = s->c.peak = active;
    for (size_t k = 0; k < s->caphits; k++)
        s->hits[k].count = 0;
    for (struct hostc *h = s->hosts; h; h = h->next) {
        h->peak = h->active;
        h->last = 0;
        h->min_gap = -1;
    }
    site_die_on(pthread_mutex_unlock(&s->clk), "unlock");
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
bool site_suspend_until(struct req *r, double at)
{
    struct site *s = r->s;
    bool ok = false;
    site_die_on(pthread_mutex_lock(&s->tlock), "lock");
    if (!atomic_load(&s->stopping) && heap_push(s, at, r)) {
        atomic_store(&r->suspended, true);
        atomic_fetch_add(&s->nsuspended, 1);
        /* Suspended before the timer can see it, under tlock: the timer never
         * resumes a connection that is not suspended yet. */
        MHD_suspend_connection(r->conn);
        if (s->heap[0].r == r)
            site_die_on(pthread_cond_signal(&s->tcond), "signal");
        ok = true;
    }
    site_die_on(pthread_mutex_unlock(&s->tlock), "unlock");
    return ok;
}

void site_unsuspended(struct req *r)
{
    if (atomic_exchange(&r->suspended, false))
        atomic_fetch_sub(&r->s->nsuspended, 1);
}

static void *timer_main(void *arg)
{
    struct site *s = arg;
    struct req *due[256];
    site_die_on(pthread_mutex_lock(&s->tlock), "lock");
    for (;;) {
        bool stopping = atomic_load(&s->stopping);
        if (stopping && s->nheap == 0)
            break;
        size_t n = 0;
        double now = site_now();
        while (s->nheap && n < 256 && (stopping || s->heap[0].at <= now))
            due[n++] = heap_pop(s);
        if (n) {
            /* Resuming only takes MHD's own lock; done with tlock released so
             * handlers suspending meanwhile are not held up. */
            site_die_on(pthread_mutex_unlock(&s->tlock), "unlock");
            for (size_t k = 0; k < n; k++)
                MHD_resume_connection(due[k]->conn);
            site_die_on(pthread_mutex_lock(&s->tlock), "lock");
            continue;
        }
        if (s->nheap == 0) {
            site_die_on(pthread_cond_wait(&s->tcond, &s->tlock), "wait");
        } else {
            double at = s->heap[0].at;
            struct timespec ts;
            ts.tv_sec = (time_t)at;
            ts.tv_nsec = (long)((at - (double)ts.tv_sec) * 1e9);
            if (ts.tv_nsec >= 1000000000L)
                ts.tv_nsec = 999999999L;
            int rc = pthread_cond_timedwait(&s->tcond, &s->tlock, &ts);
            if (rc != ETIMEDOUT)
                site_die_on(rc, "timedwait");
        }
    }
    site_die_on(pthread_mutex_unlock(&s->tlock), "unlock");
    return NULL;
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
        /* /__stats reads the counters without moving them, at once. */
        r->stats = strcmp(url, "/__stats") == 0;
        if (!r->stats)
            count_begin(s, r, url,
                        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST));
        /* Nothing is answered (or suspended) on this first call: MHD closes
         * the connection after an answer queued before the request was read
         * to its end, and clients' keep-alive must work. */
        return MHD_YES;
    }
    site_unsuspended(r);
    if (*upload_data_size) {
        *upload_data_size = 0; /* request bodies are read and ignored */
        return MHD_YES;
    }
    if (r->stats)
        return site_serve_stats(r);
    if (!r->waited) {
        r->waited = true;
        double wait = s->o.latency;
        if (s->o.jitter > 0)
            wait += s->o.jitter *
                    site_unit(site_hash3(s->o.seed, H_JITTER, atomic_fetch_add(&s->reqseq, 1)));
        const char *d = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "delay");
        double dv;
        if (d && site_parse_seconds(d, &dv))
            wait = dv;
        /* MHD calls again once resumed; if it cannot suspend, answer now. */
        if (wait > 0 && site_suspend_until(r, site_now() + wait))
            return MHD_YES;
    }
    return site_route(r, url, method);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    struct req *r = *con_cls;
    if (!r)
        return;
    site_unsuspended(r);
    count_end(r->s, r);
    free(r);
    *con_cls = NULL;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* MHD's unescaping, but "%00" stays as it is: decoded, a NUL would cut the
 * path short ("/a.txt%00.html" would serve /a.txt). */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++) {
        int hi, lo;
        if (r[0] == '%' && (hi = hexval(r[1])) >= 0 && (lo = hexval(r[2])) >= 0 && (hi | lo)) {
            *w++ = (char)(hi * 16 + lo);
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
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
    if (o.dir) {
        s->dir_root = realpath(o.dir, NULL);
        struct stat st;
        if (!s->dir_root || stat(s->dir_root, &st) != 0 || !S_ISDIR(st.st_mode)) {
            int e = s->dir_root ? ENOTDIR : errno;
            free(s->dir_root);
            free(s->host_copy);
            free(s->robots_copy);
            free(s);
            return e;
        }
    }
    if (!s->host_copy || (o.robots_txt && !s->robots_copy)) {
        free(s->host_copy);
        free(s->robots_copy);
        free(s->dir_root);
        free(s);
        return ENOMEM;
    }
    s->o.host = s->host_copy;
    s->o.robots_txt = s->robots_copy;
    s->o.dir = s->dir_root;
    atomic_init(&s->stopping, false);
    atomic_init(&s->nsuspended, 0);
    atomic_init(&s->reqseq, 0);

    pthread_condattr_t ca;
    site_die_on(pthread_mutex_init(&s->tlock, NULL), "mutex_init");
    site_die_on(pthread_mutex_init(&s->clk, NULL), "mutex_init");
    site_die_on(pthread_condattr_init(&ca), "condattr_init");
    site_die_on(pthread_condattr_setclock(&ca, CLOCK_MONOTONIC), "condattr_setclock");
    site_die_on(pthread_cond_init(&s->tcond, &ca), "cond_init");
    site_die_on(pthread_cond_init(&s->idle, &ca), "cond_init");
    pthread_condattr_destroy(&ca);

    int rc = pthread_create(&s->timer, NULL, timer_main, s);
    if (rc) {
        pthread_cond_destroy(&s->idle);
        pthread_cond_destroy(&s->tcond);
        pthread_mutex_destroy(&s->tlock);
        pthread_mutex_destroy(&s->clk);
        free(s->host_copy);
        free(s->robots_copy);
        free(s->dir_root);
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
        MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
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
    site_die_on(pthread_mutex_lock(&s->tlock), "lock");
    atomic_store(&s->stopping, true);
    site_die_on(pthread_cond_signal(&s->tcond), "signal");
    site_die_on(pthread_mutex_unlock(&s->tlock), "unlock");
    site_die_on(pthread_join(s->timer, NULL), "join");
    if (s->d) {
        /* MHD must not be stopped with suspended connections, and resuming
         * is asynchronous: wait (a bounded while) until MHD has re-entered
         * every resumed request. No new suspension can start: stopping. */
        double give_up = site_now() + 10;
        while (atomic_load(&s->nsuspended) > 0 && site_now() < give_up) {
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
    free(s->dir_root);
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
