/* site/site-impl.h: what the embedded site's three files share (private to
 * tool/site/): the page renderer and its helpers (graph.c), the server's
 * state and counters (server.c), and the router (routes.c). See site.h for
 * the URL space and server.c for the design and lock order. */
#ifndef WEFT_TOOL_SITE_IMPL_H
#define WEFT_TOOL_SITE_IMPL_H

#include "site/site.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAX_LINKS     64
#define MAX_REDIRECTS 1000
#define MAX_BIG       ((uint64_t)1 << 30)
#define BODY_BLOCK    16384

/* ---- graph.c: helpers and the page renderer ---- */

double site_now(void);
/* splitmix64's finaliser: a good 64-bit mix, enough for a synthetic site. */
uint64_t site_mix(uint64_t x);
/* Distinct tags keep the streams of pseudo-random choices independent. */
enum { H_LINK = 1, H_FORM, H_ERR, H_ERRCODE, H_TRANS, H_WORDS, H_WORD, H_JITTER, H_FRAG };
uint64_t site_hash3(uint64_t seed, uint64_t tag, uint64_t a);
/* A uniform double in [0, 1) from a hash. */
double site_unit(uint64_t h);

/* A growable string; on allocation failure it remembers and stops growing. */
struct sbuf {
    char *p;
    size_t len, cap;
    bool failed;
};
void sbuf_put(struct sbuf *b, const char *s, size_t n);
void sbuf_puts(struct sbuf *b, const char *s);
void sbuf_vprintf(struct sbuf *b, const char *fmt, va_list ap);
__attribute__((format(printf, 2, 3))) void sbuf_printf(struct sbuf *b, const char *fmt, ...);

/* Whitespace-separated tokens in s[0..n). */
unsigned site_count_tokens(const char *s, size_t n);
/* A decimal number in [0, max] that fills the whole string. */
bool site_parse_u64(const char *s, uint64_t max, uint64_t *out);
/* Seconds in [0, 1e6] that fill the whole string. */
bool site_parse_seconds(const char *s, double *out);

/* The error status /page/I always answers (0: none), and whether its first
 * hit answers a transient 503. */
int site_page_error(const site_opts *o, unsigned i);
bool site_page_transient(const site_opts *o, unsigned i);
/* Renders /page/i as a client with this Host header would see it; *words
 * gets the word count. */
void site_render_page(struct sbuf *b, const site_opts *o, unsigned i, const char *host,
                      unsigned *words);

/* ---- server.c: the server's state ---- */

struct hostc {
    struct hostc *next;
    unsigned active, peak;
    double last;    /* arrival of the host's last request; 0: none yet */
    double min_gap; /* smallest gap between two arrivals; < 0: fewer than 2 */
    char name[64];
};

/* Arrival times kept per path: enough for "the gap between the first and
 * the second request of this path" (a retry after Retry-After). */
#define SITE_HIT_TIMES 4

struct hit {
    char *path;
    unsigned long count;
    double times[SITE_HIT_TIMES]; /* arrivals of the first hits since the reset */
};

struct wake {
    double at;
    struct req *r;
};

struct site {
    site_opts o;
    char *host_copy, *robots_copy, *dir_root;
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
    bool stats;  /* GET /__stats: not counted, no latency */
    /* a trickled or generated body */
    uint64_t total;
    double rate, t0;
    size_t burst;
};

/* Aborts with the error text: for pthread calls that cannot fail here. */
void site_die_on(int rc, const char *what);
/* Counts an answer (status -1: body bytes only; reset: a closed connection). */
void site_count_answer(struct site *s, int status, uint64_t bytes, bool reset);
/* Suspends r until `at` (monotonic seconds). false: it could not be
 * suspended (stopping, or no memory): answer now. */
bool site_suspend_until(struct req *r, double at);
/* Called when MHD re-enters a request: it is no longer suspended. */
void site_unsuspended(struct req *r);

/* ---- gzip.c ---- */

/* Whether the site compresses (site_opts.gzip) and r accepts gzip. */
bool site_gzip_wanted(struct req *r);
/* Whether r sends Accept-Encoding: gzip. */
bool site_gzip_accepted(struct req *r);
/* Replaces b's bytes by their gzip encoding. Returns 0, or -1 (b unchanged
 * but for a failed allocation, which leaves b->failed alone). */
int site_gzip_buf(struct sbuf *b);
/* Answers /bomb/N: N MiB of zeros, gzip-encoded whatever was asked for. */
enum MHD_Result site_serve_bomb(struct req *r, uint64_t mib);

/* ---- dir.c: --dir ---- */

/* Where url leads under root (a realpath): 200 with the file's real path in
 * real, 301 (a directory named without its trailing slash), or 404 (no such
 * file; or a path with . or .. segments), 403 (out of the tree through a
 * symlink, not a regular file, too big). */
int site_dir_status(const char *root, const char *url, char *real, size_t realsz);
/* Answers url from the site's directory. */
enum MHD_Result site_serve_dir(struct req *r, const char *url);

/* Writes every counter as one JSON object (the /__stats answer). */
void site_stats_json(struct site *s, struct sbuf *b);

/* ---- routes.c ---- */

/* Answers /__stats: every counter as JSON. */
enum MHD_Result site_serve_stats(struct req *r);
/* A redirect to location. */
enum MHD_Result site_answer_redirect(struct req *r, int status, const char *location);
/* A short HTML answer with this status. */
enum MHD_Result site_answer_status(struct req *r, int status);
/* Answers b (taken) as a 200 of this type, gzip-encoded for clients that
 * accept it when compressible. */
enum MHD_Result site_answer_file(struct req *r, const char *type, struct sbuf *b,
                                 bool compressible);

/* Answers r (after its latency) according to the URL space of site.h. */
enum MHD_Result site_route(struct req *r, const char *url, const char *method);

#endif
