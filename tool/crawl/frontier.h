/* frontier.h: the crawler's to-do list: breadth-first by levels, each URL
 * at most once, polite to every host. One interface, two backends: memory
 * (frontier_new: this process only) and SQLite (frontier_new_sqlite: the
 * crawl lives in a file, survives kill -9 and resumes; see crawl/state.h).
 * The engine sees only the verbs below; each is atomic.
 *
 * Items: every item frontier_next hands out is given back by exactly one
 * verb: frontier_page_done, frontier_retry or frontier_giveback (a page),
 * frontier_robots_done (a robots.txt), frontier_skip_done (a skip). Between
 * frontier_next and that verb, the page's own writes (frontier_add_links,
 * frontier_mark, frontier_claim, frontier_records) name the item, so a
 * durable backend commits them together with the page's end: after a crash
 * a page is either done with all its links and records, or queued again.
 *
 * DESIGN (memory backend): one weft_lock guards everything here, and one weft_cond over it
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
/* The reason named s, or SKIP_N. */
crawl_skip crawl_skip_from_name(const char *s);

/* One record: a page fetched, or a URL not fetched (skip != SKIP_NONE).
 * Strings are valid only during the call that passes it. */
typedef struct crawl_record {
    crawl_skip skip;
    const char *url;    /* as queued (normalised); for SKIP_SCHEME the raw href */
    const char *parent; /* the page that linked it, NULL for the start URL */
    unsigned depth;
    /* pages only: */
    const char *final_url; /* after redirects */
    long status;           /* 0: no HTTP response */
    const char *title;     /* "" when none */
    unsigned long words;
    size_t links;             /* <a href> links on the page */
    size_t links_new;         /* of which to URLs first seen here (queued or skipped) */
    size_t links_seen;        /* of which to URLs seen before (fetched, queued or skipped) */
    const char *content_type; /* "" when none */
    long long bytes;          /* body bytes, decoded (what --max-bytes counts) */
    long long wire_bytes;     /* body bytes on the wire (compressed, when it was) */
    bool truncated;           /* cut at --max-bytes */
    bool parsed;              /* HTML that was parsed */
    unsigned attempts;
    double time;       /* seconds, this page's last attempt */
    double start, end; /* seconds since the crawl (this run of it) started */
    int worker;
    const char *error;  /* NULL when the page is fine */
    unsigned long dups; /* pages: links to seen URLs not written as records of
                         * their own (all but --skipped all), for the summary */
} crawl_record;

typedef struct frontier_opts {
    unsigned max_depth;
    size_t max_pages;  /* 0: no limit */
    unsigned per_host; /* requests in flight per host; 0: no limit */
    double min_delay;  /* seconds between request starts per host */
    bool robots;       /* fetch and obey robots.txt */
    atomic_bool *stop; /* set to end the crawl (may be NULL) */
} frontier_opts;

typedef enum frontier_kind {
    FRONTIER_PAGE,   /* fetch url; then frontier_page_done, _retry or _giveback */
    FRONTIER_ROBOTS, /* fetch url (an origin) + "/robots.txt"; then frontier_robots_done */
    FRONTIER_SKIP,   /* do not fetch url: report it skipped for `skip`; then frontier_skip_done */
} frontier_kind;

struct fhost;

typedef struct frontier_item {
    frontier_kind kind;
    crawl_skip skip;    /* FRONTIER_SKIP: why */
    const char *url;    /* valid until the item is given back */
    const char *parent; /* the page that linked it; NULL for the start */
    unsigned depth;
    unsigned attempt; /* earlier attempts of this URL (retries) */
    struct fhost *host;
    void *priv; /* the backend's */
} frontier_item;

typedef struct frontier frontier;

/* A new memory frontier. Returns 0, ENOMEM. */
int frontier_new(frontier **out, const frontier_opts *o);
/* Frees f (either backend; a SQLite one commits first). NULL is a no-op. */
void frontier_free(frontier *f);

/* Queues a start URL (normalised) at depth 0. Returns 0, EEXIST (already
 * seen: in a resumed crawl, the start URL is), ENOMEM, or EINVAL (no origin);
 * EIO when a durable backend cannot write (frontier_error says why). */
int frontier_seed(frontier *f, const char *url);

/* Blocks until there is something to do and hands it out: 0 with *it
 * filled, ENOENT when the crawl is over (nothing queued, nothing in flight),
 * ECANCELED when stop was set or the calling task was cancelled, EIO when a
 * durable backend failed (it stops handing out work; frontier_error). */
int frontier_next(frontier *f, frontier_item *it);

/* A link found on a page: in: url (normalised), pre (SKIP_NONE, or the
 * reason the caller already has: off-site, filtered); out: result (SKIP_NONE:
 * the frontier has it, queued or held back for depth), and when `lowered`,
 * an earlier sighting of the same URL at a greater depth that this one
 * replaces: the caller reports that one (dup_parent, malloc'd: the caller
 * frees it; dup_depth) as a duplicate. url stays the caller's. */
typedef struct frontier_link {
    const char *url;
    crawl_skip pre;
    crawl_skip result;
    bool lowered;
    char *dup_parent;
    unsigned dup_depth;
} frontier_link;

/* Adds the links of page `it` (so the links are at depth it->depth + 1).
 * Each link ends as SKIP_NONE (queued, or held back to be handed out as a
 * SKIP_DEPTH item at the end) or the reason it was not: pre if given, else
 * duplicate, limit, robots. Returns 0 or ENOMEM / EIO (links not yet
 * processed get SKIP_LIMIT). */
int frontier_add_links(frontier *f, frontier_item *it, frontier_link *links, size_t n);

/* A redirect's target (url, normalised), before the crawler requests it as
 * the next hop of page `it`. */
typedef enum frontier_claim_result {
    CLAIM_OK,           /* new, and robots.txt allows it: now marked seen */
    CLAIM_SEEN,         /* seen before (queued, fetched or skipped) */
    CLAIM_ROBOTS,       /* its host's robots.txt disallows it (now marked seen) */
    CLAIM_UNKNOWN_HOST, /* its host's robots.txt is not known yet: not claimed;
                         * queue it as a link so the rules come first */
    CLAIM_BAD,          /* no origin, or out of memory */
} frontier_claim_result;

frontier_claim_result frontier_claim(frontier *f, frontier_item *it, const char *url);

/* Marks s (any string: a raw href of page `it` the crawler cannot follow)
 * seen. Returns true when it was new, so it is reported once. False also
 * when out of memory. */
bool frontier_mark(frontier *f, frontier_item *it, const char *s);

/* Keeps the records of item `it` (its page record and the records of its
 * links not fetched; or a skip item's record). The memory backend keeps
 * nothing; SQLite stores them with the page. Returns 0, ENOMEM or EIO. */
int frontier_records(frontier *f, frontier_item *it, const crawl_record *recs, size_t n);

/* The page of it is done (whatever the outcome): frees its host slot. */
void frontier_page_done(frontier *f, frontier_item *it);

/* The page of it will be tried again after `delay` seconds: it goes back to
 * the head of its host's queue and the host pauses until then. */
void frontier_retry(frontier *f, frontier_item *it, double delay);

/* The page of it was not fetched after all (the crawl is stopping): it is
 * neither done nor failed. Memory: as page_done. SQLite: queued again, so
 * the next run fetches it. */
void frontier_giveback(frontier *f, frontier_item *it);

/* The skip item it is reported. */
void frontier_skip_done(frontier *f, frontier_item *it);

/* The robots.txt fetch for it->host is done: installs rb (owned by the
 * frontier from now on; NULL: no rules) and frees the host's slot. status,
 * body and len are the response it came from (status 0: no response), which
 * a durable backend keeps to rebuild the rules when the crawl resumes. */
void frontier_robots_done(frontier *f, frontier_item *it, robots *rb, long status, const char *body,
                          size_t len);

typedef struct frontier_stats {
    size_t seen;    /* URLs in the de-dup set */
    size_t queued;  /* waiting now */
    size_t fetched; /* pages handed out */
    unsigned level; /* lowest depth with pages queued or in flight */
    size_t hosts;
    size_t arena_bytes; /* memory of the de-dup set: strings plus table */
} frontier_stats;

void frontier_stats_get(frontier *f, frontier_stats *out);

/* A durable backend's failure (disk full, I/O error), as a sentence, or
 * NULL when there was none. Valid until frontier_free. */
const char *frontier_error(frontier *f);

/* Once no thread uses f any more (the crawl is over or stopped): writes
 * what a durable backend still holds (the open batch) and waits until it
 * is in the file, so that frontier_error reports a failure of that last
 * write too. Returns 0, or EIO (frontier_error says why). Blocks on the
 * file; does nothing for the memory and Redis backends. */
int frontier_sync(frontier *f);

/* The FNV-1a 64-bit hash the set uses (for order-independent checksums). */
unsigned long long frontier_hash(const char *s);

#endif
