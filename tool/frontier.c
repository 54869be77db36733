/* frontier.c: the breadth-first frontier, de-dup set and per-host
 * politeness of `weft crawl`.
 *
 * DESIGN: see frontier.h. One lock (f->lock) and its condition (f->cond);
 * no other lock is ever taken while holding it. Queued items live in the
 * list of the level they belong to: the current level's items in their
 * host's queue (so a busy or paused host does not block the others), the
 * next level's in one list, moved to the host queues when the current level
 * ends. frontier_next scans the hosts that have work, which is cheap because
 * a crawl has few hosts (only in-scope hosts ever get a queue). */
#include "frontier.h"
#include "urlnorm.h"

#include <weft.h>

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK (64 * 1024)
/* How long a waiting worker sleeps at most before looking at the stop flag
 * again (the flag is set from a signal handler, which cannot notify). */
#define POLL_SLICE 0.1

typedef struct qitem {
    struct qitem *next;
    const char *url, *parent;
    unsigned depth, attempt;
    struct fhost *host;
} qitem;

typedef enum rstate { R_UNKNOWN, R_FETCHING, R_READY } rstate;

struct fhost {
    struct fhost *next;
    char *origin;
    rstate rs;
    robots *rb;
    unsigned active;
    double next_start;  /* monotonic: no request starts before this */
    double delay;       /* between request starts */
    qitem *head, *tail; /* the current level's items */
    size_t n;
};

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    char data[];
} chunk;

typedef struct slot {
    uint64_t hash;
    const char *s;
} slot;

struct frontier {
    frontier_opts o;
    weft_lock *lock;
    weft_cond *cond;
    /* the de-dup set */
    slot *tab;
    size_t tab_cap, tab_n;
    chunk *arena;
    size_t arena_bytes;
    /* the queue */
    struct fhost *hosts;
    size_t nhosts;
    qitem *nxt_head, *nxt_tail; /* level + 1 */
    size_t cur_n, nxt_n;
    qitem *free_items;
    unsigned level;
    size_t in_flight; /* pages and robots.txt being fetched */
    size_t accepted;  /* URLs queued or fetched, for max_pages */
    size_t started;   /* pages handed out */
    bool done;
};

const char *crawl_skip_name(crawl_skip s)
{
    static const char *names[SKIP_N] = {"",          "robots", "depth",    "off-site",
                                        "duplicate", "limit",  "filtered", "scheme"};
    return (unsigned)s < SKIP_N ? names[s] : "?";
}

unsigned long long frontier_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

/* weft_lock_acquire only fails for a cancelled task; the critical sections
 * here are short, so wait regardless (the caller checks cancellation). */
static void lock(frontier *f)
{
    for (;;) {
        int rc = weft_lock_acquire(f->lock, WEFT_FOREVER);
        if (rc == 0)
            return;
        if (rc != ECANCELED) {
            fprintf(stderr, "weft crawl: frontier lock: %s\n", weft_strerror(rc));
            abort();
        }
        if (weft_lock_acquire(f->lock, 0) == 0)
            return;
        sched_yield();
    }
}

static void unlock(frontier *f)
{
    weft_lock_release(f->lock);
}

/* ---------------------------------------------------------- de-dup set */

static const char *arena_put(frontier *f, const char *s)
{
    size_t n = strlen(s) + 1;
    chunk *c = f->arena;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
        c = malloc(sizeof *c + cap);
        if (!c)
            return NULL;
        c->used = 0;
        c->cap = cap;
        c->next = f->arena;
        f->arena = c;
        f->arena_bytes += sizeof *c + cap;
    }
    char *p = c->data + c->used;
    memcpy(p, s, n);
    c->used += n;
    return p;
}

static slot *find_slot(slot *tab, size_t cap, uint64_t h, const char *s)
{
    size_t i = (size_t)h & (cap - 1);
    for (;;) {
        slot *sl = &tab[i];
        if (!sl->s || (sl->hash == h && strcmp(sl->s, s) == 0))
            return sl;
        i = (i + 1) & (cap - 1);
    }
}

static int grow(frontier *f)
{
    size_t cap = f->tab_cap ? 2 * f->tab_cap : 1024;
    slot *t = calloc(cap, sizeof *t);
    if (!t)
        return ENOMEM;
    for (size_t i = 0; i < f->tab_cap; i++)
        if (f->tab[i].s)
            *find_slot(t, cap, f->tab[i].hash, f->tab[i].s) = f->tab[i];
    free(f->tab);
    f->tab = t;
    f->tab_cap = cap;
    return 0;
}

/* Looks url up; if absent inserts it. *copy gets the set's string. Returns
 * 1 when inserted, 0 when already there, -1 out of memory. */
static int seen_insert(frontier *f, const char *url, const char **copy)
{
    if ((f->tab_n + 1) * 2 > f->tab_cap && grow(f) != 0)
        return -1;
    uint64_t h = frontier_hash(url);
    slot *sl = find_slot(f->tab, f->tab_cap, h, url);
    if (sl->s) {
        *copy = sl->s;
        return 0;
    }
    const char *s = arena_put(f, url);
    if (!s)
        return -1;
    sl->hash = h;
    sl->s = s;
    f->tab_n++;
    *copy = s;
    return 1;
}

/* ---------------------------------------------------------------- hosts */

static struct fhost *host_get(frontier *f, const char *url)
{
    char origin[URLNORM_MAX + 8];
    if (!urlnorm_origin(url, origin, sizeof origin))
        return NULL;
    for (struct fhost *h = f->hosts; h; h = h->next)
        if (strcmp(h->origin, origin) == 0)
            return h;
    struct fhost *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->origin = strdup(origin);
    if (!h->origin) {
        free(h);
        return NULL;
    }
    h->rs = f->o.robots ? R_UNKNOWN : R_READY;
    h->delay = f->o.min_delay;
    h->next = f->hosts;
    f->hosts = h;
    f->nhosts++;
    return h;
}

static qitem *item_new(frontier *f)
{
    qitem *q = f->free_items;
    if (q) {
        f->free_items = q->next;
        return q;
    }
    return malloc(sizeof *q);
}

static void item_release(frontier *f, qitem *q)
{
    q->next = f->free_items;
    f->free_items = q;
}

static void host_push(frontier *f, struct fhost *h, qitem *q, bool front)
{
    q->host = h;
    if (front) {
        q->next = h->head;
        h->head = q;
        if (!h->tail)
            h->tail = q;
    } else {
        q->next = NULL;
        if (h->tail)
            h->tail->next = q;
        else
            h->head = q;
        h->tail = q;
    }
    h->n++;
    f->cur_n++;
}

static qitem *host_pop(frontier *f, struct fhost *h)
{
    qitem *q = h->head;
    h->head = q->next;
    if (!h->head)
        h->tail = NULL;
    h->n--;
    f->cur_n--;
    return q;
}

/* --------------------------------------------------------------- public */

int frontier_new(frontier **out, const frontier_opts *o)
{
    frontier *f = calloc(1, sizeof *f);
    if (!f)
        return ENOMEM;
    f->o = *o;
    int rc;
    if ((rc = weft_lock_new(&f->lock)) != 0 || (rc = weft_cond_new(&f->cond, f->lock)) != 0 ||
        (rc = grow(f)) != 0) {
        frontier_free(f);
        return rc;
    }
    *out = f;
    return 0;
}

static void free_list(qitem *q)
{
    while (q) {
        qitem *n = q->next;
        free(q);
        q = n;
    }
}

void frontier_free(frontier *f)
{
    if (!f)
        return;
    for (struct fhost *h = f->hosts; h;) {
        struct fhost *n = h->next;
        free_list(h->head);
        robots_free(h->rb);
        free(h->origin);
        free(h);
        h = n;
    }
    free_list(f->nxt_head);
    free_list(f->free_items);
    for (chunk *c = f->arena; c;) {
        chunk *n = c->next;
        free(c);
        c = n;
    }
    free(f->tab);
    weft_cond_free(f->cond);
    weft_lock_free(f->lock);
    free(f);
}

int frontier_seed(frontier *f, const char *url)
{
    lock(f);
    int rc = 0;
    const char *s;
    struct fhost *h = host_get(f, url);
    qitem *q = item_new(f);
    if (!h || !q) {
        if (q)
            item_release(f, q);
        rc = h ? ENOMEM : (strstr(url, "://") ? ENOMEM : EINVAL);
        goto out;
    }
    int ins = seen_insert(f, url, &s);
    if (ins <= 0) {
        item_release(f, q);
        rc = ins == 0 ? EEXIST : ENOMEM;
        goto out;
    }
    q->url = s;
    q->parent = NULL;
    q->depth = 0;
    q->attempt = 0;
    host_push(f, h, q, false);
    f->accepted++;
    weft_cond_notify_all(f->cond);
out:
    unlock(f);
    return rc;
}

static bool stopped(frontier *f)
{
    return (f->o.stop && atomic_load(f->o.stop)) || weft_cancelled();
}

/* Starts the next level when the current one is finished. Called with the
 * lock held; returns false when there is no next level. */
static bool next_level(frontier *f)
{
    if (!f->nxt_head)
        return false;
    qitem *q = f->nxt_head;
    f->nxt_head = f->nxt_tail = NULL;
    f->nxt_n = 0;
    while (q) {
        qitem *n = q->next;
        host_push(f, q->host, q, false);
        q = n;
    }
    f->level++;
    return true;
}

/* Tries to hand out one item; returns true when *it is filled. *wake gets
 * the earliest time a paused host becomes ready (INFINITY if none). */
static bool pick(frontier *f, frontier_item *it, double now, double *wake)
{
    *wake = INFINITY;
    for (struct fhost *h = f->hosts; h; h = h->next) {
        if (h->n == 0 || h->rs == R_FETCHING)
            continue;
        if (h->rs == R_READY && h->head && !robots_allowed(h->rb, urlnorm_path(h->head->url))) {
            /* Skips cost no request: hand them out at once. */
            qitem *q = host_pop(f, h);
            *it = (frontier_item){.kind = FRONTIER_SKIP,
                                  .skip = SKIP_ROBOTS,
                                  .url = q->url,
                                  .parent = q->parent,
                                  .depth = q->depth,
                                  .host = h};
            f->accepted--;
            item_release(f, q);
            return true;
        }
        if (f->o.per_host && h->active >= f->o.per_host)
            continue;
        if (now < h->next_start) {
            if (h->next_start < *wake)
                *wake = h->next_start;
            continue;
        }
        if (h->rs == R_UNKNOWN) {
            h->rs = R_FETCHING;
            h->active++;
            f->in_flight++;
            /* The URL of robots.txt is the host's first item's origin plus
             * "/robots.txt"; the worker builds it from host->origin. */
            *it = (frontier_item){.kind = FRONTIER_ROBOTS, .url = h->origin, .host = h};
            return true;
        }
        qitem *q = host_pop(f, h);
        if (f->o.max_pages && f->started >= f->o.max_pages) {
            *it = (frontier_item){.kind = FRONTIER_SKIP,
                                  .skip = SKIP_LIMIT,
                                  .url = q->url,
                                  .parent = q->parent,
                                  .depth = q->depth,
                                  .host = h};
            item_release(f, q);
            return true;
        }
        f->started++;
        h->active++;
        f->in_flight++;
        h->next_start = now + h->delay;
        *it = (frontier_item){.kind = FRONTIER_PAGE,
                              .url = q->url,
                              .parent = q->parent,
                              .depth = q->depth,
                              .attempt = q->attempt,
                              .host = h};
        item_release(f, q);
        return true;
    }
    return false;
}

int frontier_next(frontier *f, frontier_item *it)
{
    lock(f);
    int rc;
    for (;;) {
        if (stopped(f)) {
            rc = ECANCELED;
            break;
        }
        if (f->done) {
            rc = ENOENT;
            break;
        }
        double now = weft_monotonic(), wake;
        if (pick(f, it, now, &wake)) {
            rc = 0;
            break;
        }
        if (f->cur_n == 0 && f->in_flight == 0) {
            if (next_level(f))
                continue;
            f->done = true;
            weft_cond_notify_all(f->cond);
            rc = ENOENT;
            break;
        }
        double t = wake - now;
        if (!(t < POLL_SLICE))
            t = POLL_SLICE;
        if (t < 0)
            t = 0;
        int wrc = weft_cond_wait(f->cond, t);
        if (wrc != 0 && wrc != ETIMEDOUT) {
            /* ECANCELED: the lock is held again; report it. */
            rc = ECANCELED;
            break;
        }
    }
    unlock(f);
    return rc;
}

int frontier_add_links(frontier *f, frontier_link *links, size_t n, const char *parent,
                       unsigned depth)
{
    int rc = 0;
    lock(f);
    for (size_t i = 0; i < n; i++) {
        frontier_link *l = &links[i];
        if (rc != 0) {
            l->result = SKIP_LIMIT;
            continue;
        }
        const char *s;
        int ins = seen_insert(f, l->url, &s);
        if (ins < 0) {
            rc = ENOMEM;
            l->result = SKIP_LIMIT;
            continue;
        }
        l->url = s;
        if (ins == 0) {
            l->result = SKIP_DUPLICATE;
            continue;
        }
        if (l->pre != SKIP_NONE) {
            l->result = l->pre;
            continue;
        }
        if (depth + 1 > f->o.max_depth) {
            l->result = SKIP_DEPTH;
            continue;
        }
        if (f->o.max_pages && f->accepted >= f->o.max_pages) {
            l->result = SKIP_LIMIT;
            continue;
        }
        struct fhost *h = host_get(f, s);
        if (!h) {
            l->result = SKIP_SCHEME;
            continue;
        }
        if (h->rs == R_READY && !robots_allowed(h->rb, urlnorm_path(s))) {
            l->result = SKIP_ROBOTS;
            continue;
        }
        qitem *q = item_new(f);
        if (!q) {
            rc = ENOMEM;
            l->result = SKIP_LIMIT;
            continue;
        }
        q->url = s;
        q->parent = parent;
        q->depth = depth + 1;
        q->attempt = 0;
        q->host = h;
        q->next = NULL;
        if (f->nxt_tail)
            f->nxt_tail->next = q;
        else
            f->nxt_head = q;
        f->nxt_tail = q;
        f->nxt_n++;
        f->accepted++;
        l->result = SKIP_NONE;
    }
    unlock(f);
    return rc;
}

bool frontier_claim(frontier *f, const char *url)
{
    const char *s;
    lock(f);
    int ins = seen_insert(f, url, &s);
    unlock(f);
    return ins == 1;
}

void frontier_page_done(frontier *f, const frontier_item *it)
{
    lock(f);
    it->host->active--;
    f->in_flight--;
    weft_cond_notify_all(f->cond);
    unlock(f);
}

void frontier_retry(frontier *f, const frontier_item *it, double delay)
{
    lock(f);
    struct fhost *h = it->host;
    qitem *q = item_new(f);
    if (q) {
        q->url = it->url;
        q->parent = it->parent;
        q->depth = it->depth;
        q->attempt = it->attempt + 1;
        host_push(f, h, q, true);
        f->started--;
    }
    /* Without memory for the item the page is dropped: its record was the
     * caller's to make, and the crawl goes on. */
    double until = weft_monotonic() + delay;
    if (until > h->next_start)
        h->next_start = until;
    h->active--;
    f->in_flight--;
    weft_cond_notify_all(f->cond);
    unlock(f);
}

void frontier_robots_done(frontier *f, const frontier_item *it, robots *rb)
{
    lock(f);
    struct fhost *h = it->host;
    h->rb = rb;
    h->rs = R_READY;
    double d = robots_crawl_delay(rb);
    if (d > h->delay) {
        h->delay = d;
        /* The robots.txt request counts as the host's first. */
        h->next_start = weft_monotonic() + d;
    }
    h->active--;
    f->in_flight--;
    weft_cond_notify_all(f->cond);
    unlock(f);
}

void frontier_stats_get(frontier *f, frontier_stats *out)
{
    lock(f);
    out->seen = f->tab_n;
    out->queued = f->cur_n + f->nxt_n;
    out->fetched = f->started;
    out->level = f->level;
    out->hosts = f->nhosts;
    out->arena_bytes = f->arena_bytes + f->tab_cap * sizeof(slot);
    unlock(f);
}
