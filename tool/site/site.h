/* site.h: the embedded synthetic web site that `weft serve` runs and that the
 * tool's tests start in-process: a deterministic page graph plus a zoo of
 * misbehaving paths (errors, resets, redirects, slow, huge, malformed bodies),
 * with counters a test can read to check what a client did.
 *
 * DESIGN: libmicrohttpd with one internal epoll thread (more with
 * site_opts.threads) and suspend/resume: a request that must wait (latency,
 * a trickled body) is suspended and a single timer thread, a min-heap of
 * wake-up times, resumes it when due. So thousands of slow requests cost
 * sockets, not threads. Everything a page contains is a pure function of
 * (site_opts, page number), so tests can compute what a crawler should see
 * without starting the server.
 *
 * URL space (every special path is reachable by its path; a query string
 * never changes which counter a hit goes to: counters key on the path only):
 *
 *   /                      home page: links to /page/0 only.
 *   /page/I                page I, 0 <= I < pages (404 past the end). Links:
 *                          always to I+1 (when it exists), to `links` more
 *                          pages chosen from the seed, to "/", and when
 *                          site_page_links_private(o, I) to /private/I. Link
 *                          forms vary per link (root-relative "/page/J",
 *                          relative "J" and "../page/J", absolute
 *                          "http://HOST/page/J" and protocol-relative
 *                          "//HOST/page/J", HOST = the request's Host
 *                          header), some with a "#fragment";
 *                          plus "#top", mailto: and javascript: links that a
 *                          crawler must not follow. Also links
 *                          <link rel=stylesheet href="/style.css"> and
 *                          <img src="/asset/K.png">, K = I % assets.
 *                          A page can answer an error (error_rate; a 503
 *                          has "Retry-After: 1") or a transient 503 with
 *                          "Retry-After: 0" (transient_rate): see
 *                          site_page_status.
 *   /private/I             0 <= I < pages: under the area robots.txt disallows; links
 *                          to "/" and /page/((I+1) % pages).
 *   /robots.txt            "User-agent: *\nDisallow: /private/\n" plus
 *                          "Crawl-delay: D" when robots_delay > 0; or
 *                          robots_txt verbatim; or 404 if robots_missing.
 *   /style.css /asset/K.png  non-HTML assets (text/css, image/png).
 *   /zoo                   an HTML index linking every path below (nothing
 *                          links /zoo or the paths below: a crawl of "/"
 *                          sees only the graph above).
 *   /status/CODE           answers CODE (200 <= CODE <= 599) with a short body;
 *                          ?retry-after=S adds "Retry-After: S", and with
 *                          &date=1 as an HTTP date S seconds from now.
 *   /reset                 closes the connection without any response.
 *   /redirect/N            N >= 1: a chain of N redirects: /redirect/N ->
 *                          /redirect/N-1 -> ... -> /redirect/1 -> /page/0.
 *                          ?code=301|302|303|307|308 (default 302) is kept
 *                          along the chain. /redirect/0 is a 404.
 *                          /redirect/1?to=TARGET redirects to TARGET, any
 *                          path or URL (a hostile redirect, for tests).
 *   /loop/a  /loop/b       302 to each other, forever.
 *   /bomb/N                N >= 1: a gzip bomb: Content-Encoding: gzip
 *                          (whatever the client accepts) inflating to N MiB
 *                          of zeros (about 1 kB on the wire per MiB),
 *                          compressed as it is read.
 *   /big/N                 200 text/html of exactly N bytes (N <= 1 GiB).
 *   /slow/N                200 text/plain of N bytes trickled at ?rate=R bytes
 *                          per second (default 1000): byte P is sent no
 *                          earlier than P/R seconds after the response starts.
 *   /malformed             broken HTML (unclosed and misnested tags, unquoted
 *                          attributes) that still links /page/1 and /page/2.
 *   /latin1                text/html; charset=ISO-8859-1 with non-ASCII bytes.
 *   /badutf8               claims UTF-8 but holds invalid UTF-8 sequences.
 *   /binary                random bytes (with NULs) served as text/html.
 *   /links                 every link form: followable ones resolve to exactly
 *                          /page/1, /page/2, /page/3, /page/4 (relative,
 *                          root-relative, absolute, protocol-relative, with
 *                          and without fragments, ../ and ./ forms, with
 *                          userinfo "user:secret@", which names no other
 *                          page); the rest
 *                          must not be fetched: mailto:, javascript:, data:,
 *                          tel:, and "#top" and "" which name /links itself.
 *                          (Careful: curl 7.88's curl_url_set resolves
 *                          "javascript:x" as a relative path and "#x" against
 *                          the directory; drop those before resolving.)
 *   /flaky/NAME            the first ?fail=K (default 1) hits of this path
 *                          answer ?code=C (default 503, with Retry-After 0
 *                          or ?retry-after=S), later hits answer 200. Hits
 *                          count from the last site_reset_counters, as do
 *                          the first hits of transient_rate pages.
 *   /echo                  text/plain: method, path, Host, User-Agent lines.
 *   /__stats               every counter as JSON, for tests in another
 *                          process: {"requests", "active", "peak", "resets",
 *                          "status": {code: n}, "hosts": {host: {"active",
 *                          "peak", "min_gap"}}, "paths": {path: {"hits",
 *                          "gaps": [s between the first arrivals]}}}. Not
 *                          counted itself, no latency.
 *   anything else          404.
 *
 * Every request waits latency + jitter * u (u uniform in [0,1)) before it is
 * answered; ?delay=S on any path replaces that wait for one request.
 *
 * Word count: the "words" of a page are the whitespace-separated tokens of the
 * text nodes under <body>, not counting <script>/<style> content or
 * comments; the <title> is separate (site_page_title). No entities appear in
 * counted text, and whitespace separates every two text nodes, so counting
 * tags as word breaks or not gives the same number.
 *
 * Thread safety: every function may be called from any thread; counters are
 * consistent snapshots taken under a lock.
 */
#ifndef WEFT_TOOL_SITE_H
#define WEFT_TOOL_SITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct site_opts {
    const char *host;          /* bind address, numeric; default "127.0.0.1" */
    unsigned port;             /* 0 (default): an ephemeral port */
    unsigned pages;            /* pages in the graph; default 200, >= 1 */
    uint64_t seed;             /* the graph, word counts and error pages; default 1 */
    unsigned links;            /* seeded links per page besides I+1; default 3 */
    double latency;            /* seconds every request waits; default 0 */
    double jitter;             /* plus up to this many seconds, random; default 0 */
    double error_rate;         /* fraction of /page/I that always fail; default 0 */
    double transient_rate;     /* fraction whose first hit answers 503; default 0 */
    double robots_delay;       /* Crawl-delay in robots.txt; <= 0 (default): none */
    bool robots_missing;       /* robots.txt answers 404 */
    const char *robots_txt;    /* a robots.txt body to serve instead of the default */
    unsigned private_every;    /* /page/I links /private/I when I % this == this / 2;
                                * default 10, 0 = never */
    unsigned assets;           /* distinct /asset/K.png; default 8, >= 1 */
    unsigned connection_limit; /* default 10000 (capped by RLIMIT_NOFILE) */
    unsigned threads;          /* polling threads; default 1 */
    bool log_errors;           /* libmicrohttpd's error log on stderr; default off */
    bool gzip;                 /* gzip-encode generated answers for clients that
                                * send Accept-Encoding: gzip; default off */
    const char *dir;           /* serve this directory's files instead of the
                                * synthetic site (text gzip-encoded when
                                * accepted); NULL (default): the synthetic site */
} site_opts;

/* Longest path a page-graph helper writes, with its NUL. */
#define SITE_PATH_MAX 32

/* A node of the expected crawl: a page path, its BFS depth from "/" and the
 * status a client sees (after retrying a transient 503). */
typedef struct site_node {
    char path[SITE_PATH_MAX];
    unsigned depth;
    int status;
} site_node;

typedef struct site_stats {
    unsigned long requests;    /* requests received since the last reset */
    unsigned long resets;      /* of which answered by closing the connection */
    unsigned long bytes;       /* body bytes queued (for trickled bodies: sent) */
    unsigned active;           /* requests in progress now, all hosts */
    unsigned peak;             /* most requests in progress at once, all hosts */
    unsigned long status[600]; /* answers by status code */
} site_stats;

struct site;

/* Fills *o with the defaults above. */
void site_opts_default(site_opts *o);

/* ---- the page graph: pure functions of the options, no server needed ---- */

/* Writes "/page/I" into buf (SITE_PATH_MAX bytes). */
void site_page_path(unsigned i, char *buf);

/* Writes the title of page I ("Page I") into buf (SITE_PATH_MAX bytes). */
void site_page_title(unsigned i, char *buf);

/* The page numbers /page/I links to, in document order, without duplicates
 * or I itself (the links to "/" and /private/I are not included). Writes up
 * to cap of them to out and returns how many there are. */
size_t site_page_links(const site_opts *o, unsigned i, unsigned *out, size_t cap);

/* Whether /page/I links to /private/I. */
bool site_page_links_private(const site_opts *o, unsigned i);

/* The status /page/I answers its first request with: 200, an error_rate
 * error (404, 500 or 503; always the same for a page), or 503 for a
 * transient_rate page (later requests then answer 200). */
int site_page_status(const site_opts *o, unsigned i);

/* The number of words (see the top of the file) of /page/I. */
unsigned site_page_words(const site_opts *o, unsigned i);

/* The pages a breadth-first crawl from "/" reaches within max_depth link
 * hops (depth 0 is "/" itself): "/", /page/I and /private/I nodes in BFS
 * order, each once at its smallest depth. A page that answers an error is
 * reached but its links are not followed; a transient page counts as 200.
 * With honour_robots the default robots.txt rules apply (no /private/
 * node). On success *out is a malloc'd array of *n nodes (free() it).
 * Returns 0 or ENOMEM. */
int site_expected(const site_opts *o, unsigned max_depth, bool honour_robots, site_node **out,
                  size_t *n);

/* ---- the server ---- */

/* Starts the site (raising RLIMIT_NOFILE to its hard limit first). NULL o
 * means the defaults. Returns 0, EINVAL for bad options, ENOMEM, or the errno
 * of the failed bind/thread creation (EADDRINUSE, EAGAIN...). */
int site_start(struct site **out, const site_opts *o);

/* Stops answering, resumes every waiting request so it ends, stops the
 * daemon and frees the site. In-flight clients see their connections close. */
void site_stop(struct site *s);

/* "http://127.0.0.1:PORT/" (with the bound port), valid until site_stop. */
const char *site_base_url(const struct site *s);
unsigned site_port(const struct site *s);

/* The options the site runs with (defaults filled in). */
const site_opts *site_options(const struct site *s);

/* Requests for this path (no query string) since the last reset. */
unsigned long site_hits(struct site *s, const char *path);

/* Answers with this status since the last reset. */
unsigned long site_status_count(struct site *s, int status);

/* A snapshot of every counter. (The type cannot share the function's name.) */
void site_counters(struct site *s, site_stats *out);

/* Requests in progress now / most at once since the last reset whose Host
 * header names host ("127.0.0.1", "localhost"; any ":port" is ignored on
 * both sides). 0 for a host never seen. */
unsigned site_active(struct site *s, const char *host);
unsigned site_peak_concurrency(struct site *s, const char *host);

/* Seconds between the arrivals of the k-th and (k+1)-th requests of path
 * (from 0, since the last reset; k + 1 < 4), or -1 when there were not
 * that many. A client's retry after Retry-After shows here. */
double site_hit_gap(struct site *s, const char *path, unsigned k);

/* The smallest gap between two request arrivals whose Host names host,
 * since the last reset; -1 before two. A client's --delay or --rate shows
 * here. */
double site_min_gap(struct site *s, const char *host);

/* Waits until no request is in progress (MHD counts a request until it has
 * sent the last byte and run its completion, a moment after the client has
 * the whole answer). Returns 0, or ETIMEDOUT after timeout seconds. */
int site_wait_idle(struct site *s, double timeout);

/* Zeroes every counter (hits, statuses, peaks; a peak restarts from the
 * requests in progress now). */
void site_reset_counters(struct site *s);

#endif
