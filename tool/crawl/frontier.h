/* frontier.h: the crawler's to-do list: breadth-first by levels, each URL
 * at most once, polite to every host.
 *
 * DESIGN: one weft_lock guards everything here, and one weft_cond over it
 * wakes workers waiting for something to do. Workers call frontier_next to
 * take the next URL (or a robots.txt to fetch, or a URL to report as
 * skipped), fetch it with no lock held, and call frontier_add_links /
 * frontier_page_done / frontier_retry with what they found. Nothing here
 * runs user code or does I/O under the lock.
 *
 * Waking: a worker that reports a page (add_links, page_done, robots_done)
 * is expected to come back to frontier_next, so those calls wake one waiter
 * per new item but one (the caller takes it, on its warm connection) and
 * wake everyone only when a new level enters the window or the crawl ends.
 * Waking all for every URL made each early, one-page level a thundering
 * herd of -j threads on the crawl's critical path. Waiters also look again
 * every 0.1 s, so a caller that does not come back costs latency, never
 * progress.
 *
 * Depth is exact, whatever the timing: a page is fetched at its BFS depth
 * (the length of the shortest link path from the start), so a threaded crawl
 * finds exactly the pages a sequential one does. Without care, a fast
 * depth-2 page could discover a URL at depth 3 before a slow depth-1 page
 * discovers it at depth 2, and with --depth 2 that page would be lost. So
 * items are handed out from a window of two levels: with `cur` the lowest
 * level that has pages queued or in flight, only levels cur and cur+1 are
 * handed out (cur first). A URL at depth k is final once every page of depth
 * <= k-2 is finished, which the window guarantees; until then a URL found
 * again at a smaller depth is moved up (and its first sighting reported as a
 * duplicate, as a sequential crawl would have), and URLs beyond --depth are
 * held back and reported as skipped for depth only at the end. The window
 * lets the tail of one level overlap the start of the next: a strict
 * barrier per level would idle workers at every level's end.
 *
 * De-duplication: every URL ever seen (queued, skipped or fetched) is in an
 * open-addressing hash set of (64-bit hash, pointer) pairs, the strings
 * themselves packed into a bump arena, so a seen URL costs its bytes plus
 * about 40 bytes, and the strings double as the queue's and the records'
 * URLs and parents (they live until frontier_free).
 *
 * Politeness, per origin ("scheme://host:port"): at most per_host requests
 * in flight; request starts spaced by the Crawl-delay (or --delay, the
 * larger); a retry (429/503 with Retry-After, or backoff) pauses the whole
 * host until then. robots.txt is fetched before any other request to its
 * host, by whichever worker gets there first; the host's other URLs wait.
 *
 * Bounded: max_pages caps the pages fetched and the URLs queued, so the
 * queue never outgrows it. */
#ifndef WEFT_TOOL_FRONTIER_H
#define WEFT_TOOL_FRONTIER_H

#include "parse/robots.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* Why a URL was not fetched. */
typedef enum crawl_skip {
    SKIP_NONE = 0,  /* queued (or fetched) */
    SKIP_ROBOTS,    /* robots.txt disallows it */
    SKIP_DEPTH,     /* deeper than --depth */
    SKIP_OFFSITE,   /* another host (see --domain) */
    SKIP_DUPLICATE, /* seen before */
    SKIP_LIMIT,     /* --max-pages reached */
    SKIP_FILTERED,  /* --allow / --deny */
    SKIP_SCHEME,    /* not http(s), or not a valid URL */
    SKIP_TOO_LONG,  /* longer than URLNORM_MAX (8 KiB) */
    SKIP_N
} crawl_skip;

/* "robots", "depth", "off-site", "duplicate", "limit", "filtered", "scheme",
 * "too-long". */
const char *crawl_skip_name(crawl_skip s);

typedef struct frontier_opts {
    unsigned max_depth;
    size_t max_pages;  /* 0: no limit */
    unsigned per_host; /* requests in flight per host; 0: no limit */
    double min_delay;  /* seconds between request starts per host */
    bool robots;       /* fetch and obey robots.txt */
    atomic_bool *stop; /* set to end the crawl (may be NULL) */
} frontier_opts;

typedef enum frontier_kind {
    FRONTIER_PAGE,   /* fetch url; then frontier_page_done or frontier_retry */
    FRONTIER_ROBOTS, /* fetch url (a robots.txt); then frontier_robots_done */
    FRONTIER_SKIP,   /* do not fetch url: report it skipped for `skip` */
} frontier_kind;

struct fhost;

typedef struct frontier_item {
    frontier_kind kind;
    crawl_skip skip;    /* FRONTIER_SKIP: why */
    const char *url;    /* valid until frontier_free */
    const char *parent; /* the page that linked it; NULL for the start */
    unsigned depth;
    unsigned attempt; /* earlier attempts of this URL (retries) */
    struct fhost *host;
} frontier_item;

typedef struct frontier frontier;

/* Returns 0, ENOMEM. */
int frontier_new(frontier **out, const frontier_opts *o);
void frontier_free(frontier *f);

/* Queues a start URL (normalised) at depth 0. Returns 0, EEXIST (already
 * seen), ENOMEM, or EINVAL (no origin). */
int frontier_seed(frontier *f, const char *url);

/* Blocks until there is something to do and hands it out: 0 with *it
 * filled, ENOENT when the crawl is over (nothing queued, nothing in flight),
 * ECANCELED when stop was set or the calling task was cancelled. */
int frontier_next(frontier *f, frontier_item *it);

/* A link found on a page: in: url (normalised), pre (SKIP_NONE, or the
 * reason the caller already has: off-site, filtered); out: result (SKIP_NONE:
 * the frontier has it, queued or held back for depth), url replaced by the
 * frontier's own copy, and when `lowered`, an earlier sighting of the same
 * URL at a greater depth that this one replaces: the caller reports that
 * one (dup_parent, dup_depth) as a duplicate. */
typedef struct frontier_link {
    const char *url;
    crawl_skip pre;
    crawl_skip result;
    bool lowered;
    const char *dup_parent;
    unsigned dup_depth;
} frontier_link;

/* Adds the links of a page at depth `depth` (so the links are at depth + 1),
 * under one lock acquisition. Each link ends as SKIP_NONE (queued, or held
 * back to be handed out as a SKIP_DEPTH item at the end) or the reason it
 * was not: pre if given, else duplicate, limit, robots.
 * Returns 0 or ENOMEM (links not yet processed get SKIP_LIMIT). */
int frontier_add_links(frontier *f, frontier_link *links, size_t n, const char *parent,
                       unsigned depth);

/* A redirect's target (url, normalised), before the crawler requests it as
 * the next hop of the item it is fetching. */
typedef enum frontier_claim_result {
    CLAIM_OK,           /* new, and robots.txt allows it: now marked seen */
    CLAIM_SEEN,         /* seen before (queued, fetched or skipped) */
    CLAIM_ROBOTS,       /* its host's robots.txt disallows it (now marked seen) */
    CLAIM_UNKNOWN_HOST, /* its host's robots.txt is not known yet: not claimed;
                         * queue it as a link so the rules come first */
    CLAIM_BAD,          /* no origin, or out of memory */
} frontier_claim_result;

frontier_claim_result frontier_claim(frontier *f, const char *url);

/* Marks s (any string: a raw href the crawler cannot follow) seen. Returns
 * true when it was new, so it is reported once. False also when out of
 * memory. */
bool frontier_mark(frontier *f, const char *s);

/* The page of it is done (whatever the outcome): frees its host slot. */
void frontier_page_done(frontier *f, const frontier_item *it);

/* The page of it will be tried again after `delay` seconds: it goes back to
 * the head of its host's queue and the host pauses until then. */
void frontier_retry(frontier *f, const frontier_item *it, double delay);

/* The robots.txt fetch for it->host is done: installs rb (owned by the
 * frontier from now on; NULL: no rules) and frees the host's slot. */
void frontier_robots_done(frontier *f, const frontier_item *it, robots *rb);

typedef struct frontier_stats {
    size_t seen;    /* URLs in the de-dup set */
    size_t queued;  /* waiting now */
    size_t fetched; /* pages handed out */
    unsigned level; /* lowest depth with pages queued or in flight */
    size_t hosts;
    size_t arena_bytes; /* memory of the de-dup set: strings plus table */
} frontier_stats;

void frontier_stats_get(frontier *f, frontier_stats *out);

/* The FNV-1a 64-bit hash the set uses (for order-independent checksums). */
unsigned long long frontier_hash(const char *s);

#endif
