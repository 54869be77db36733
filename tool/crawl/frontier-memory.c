/* frontier-memory.c: the memory backend of the frontier: the breadth-first
 * queue, de-dup set and per-host politeness of one process's crawl.
 *
 * DESIGN: see frontier.h. One lock (f->lock) and its condition (f->cond);
 * no other lock is ever taken while holding it. Queued items wait in their
 * host's queue for their level (so a busy or paused host does not hold up
 * the others); live items span at most three levels (cur, cur+1, and cur+2
 * found by cur+1 pages), so each host has three queues indexed by depth % 3.
 * frontier_next scans the hosts that have work, which is cheap because a
 * crawl has few hosts (only in-scope hosts ever get a queue). An item moved
 * up a level is not unlinked: the old one is marked dead and dropped when it
 * reaches the head of its queue; the de-dup set's slot points at the live
 * item while it waits. */
#include "crawl/frontier-impl.h"
#include "parse/urlnorm.h"

#include <weft.h>

#include <errno.h>
#include <math.h>
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
    bool dead;     /* replaced by a copy at a smaller depth */
    bool deferred; /* beyond max_depth: in the held-back list */
} qitem;

#define NQ FRONTIER_NQ

struct fhost {
    struct fhost *next;
    char *origin;
    frontier_gate g; /* robots.txt state, in flight, spacing */
    robots *rb;
    qitem *head[NQ], *tail[NQ]; /* by depth % NQ, dead items included */
    size_t n[NQ];
};

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    char data[];
} chunk;

typedef struct slot {
    uint64_t hash;
    const char *s;
    qitem *q; /* the live item while it waits (queued or held back), else NULL */
} slot;

typedef struct mfrontier {
    frontier base; /* first: the interface's view */
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
    qitem *free_items;
    frontier_window w;       /* the depth window's counters */
    qitem *held, *held_tail; /* beyond max_depth, reported at the end */
    size_t accepted;         /* URLs queued or fetched, for max_pages */
    size_t started;          /* pages handed out */
    bool done;
} mfrontier;

/* ---------------------------------------------------------- de-dup set */

static const char *arena_put(mfrontier *f, const char *s)
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

static int grow(mfrontier *f)
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

/* Looks url up; if absent inserts it. *sl gets its slot (valid until the
 * next insert). Returns 1 when inserted, 0 when already there, -1 out of
 * memory. */
static int seen_insert(mfrontier *f, const char *url, slot **sl)
{
    if ((f->tab_n + 1) * 2 > f->tab_cap && grow(f) != 0)
        return -1;
    uint64_t h = frontier_hash(url);
    slot *e = find_slot(f->tab, f->tab_cap, h, url);
    *sl = e;
    if (e->s)
        return 0;
    const char *s = arena_put(f, url);
    if (!s)
        return -1;
    e->hash = h;
    e->s = s;
    e->q = NULL;
    f->tab_n++;
    return 1;
}

/* The item for url has left the queue: its slot no longer points at it. */
static void seen_detach(mfrontier *f, const char *url)
{
    slot *e = find_slot(f->tab, f->tab_cap, frontier_hash(url), url);
    if (e->s)
        e->q = NULL;
}

/* ---------------------------------------------------------------- hosts */

static struct fhost *host_get(mfrontier *f, const char *url)
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
    frontier_gate_init(&h->g, f->o.robots, f->o.min_delay);
    h->next = f->hosts;
    f->hosts = h;
    f->nhosts++;
    return h;
}

static qitem *item_new(mfrontier *f)
{
    qitem *q = f->free_items;
    if (q) {
        f->free_items = q->next;
        return q;
    }
    return malloc(sizeof *q);
}

static void item_release(mfrontier *f, qitem *q)
{
    q->next = f->free_items;
    f->free_items = q;
}

static void host_push(mfrontier *f, struct fhost *h, qitem *q, bool front)
{
    unsigned k = q->depth % NQ;
    q->host = h;
    if (front) {
        q->next = h->head[k];
        h->head[k] = q;
        if (!h->tail[k])
            h->tail[k] = q;
    } else {
        q->next = NULL;
        if (h->tail[k])
            h->tail[k]->next = q;
        else
            h->head[k] = q;
        h->tail[k] = q;
    }
    h->n[k]++;
    f->w.queued[k]++;
}

/* Pops the head of h's queue k (dead or alive; the caller counts). */
static qitem *host_pop(struct fhost *h, unsigned k)
{
    qitem *q = h->head[k];
    h->head[k] = q->next;
    if (!h->head[k])
        h->tail[k] = NULL;
    h->n[k]--;
    return q;
}

/* Drops dead items from the head of h's queue k; returns the live head or
 * NULL. */
static qitem *host_head(mfrontier *f, struct fhost *h, unsigned k)
{
    while (h->head[k] && h->head[k]->dead)
        item_release(f, host_pop(h, k));
    return h->head[k];
}

/* A new live item for url at depth, queued at its host's tail. */
static qitem *enqueue(mfrontier *f, struct fhost *h, const char *url, const char *parent,
                      unsigned depth)
{
    qitem *q = item_new(f);
    if (!q)
        return NULL;
    *q = (qitem){.url = url, .parent = parent, .depth = depth};
    host_push(f, h, q, false);
    return q;
}

/* --------------------------------------------------------------- public */

static const frontier_ops mem_ops;
static void mem_free(frontier *base);

int frontier_new(frontier **out, const frontier_opts *o)
{
    mfrontier *f = calloc(1, sizeof *f);
    if (!f)
        return ENOMEM;
    f->base.ops = &mem_ops;
    f->o = *o;
    int rc;
    if ((rc = weft_lock_new(&f->lock)) != 0 || (rc = weft_cond_new(&f->cond, f->lock)) != 0 ||
        (rc = grow(f)) != 0) {
        mem_free(&f->base);
        return rc;
    }
    *out = &f->base;
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

static void mem_free(frontier *base)
{
    mfrontier *f = (mfrontier *)base;
    if (!f)
        return;
    for (struct fhost *h = f->hosts; h;) {
        struct fhost *n = h->next;
        for (int k = 0; k < NQ; k++)
            free_list(h->head[k]);
        robots_free(h->rb);
        free(h->origin);
        free(h);
        h = n;
    }
    free_list(f->held);
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

static int mem_seed(frontier *base, const char *url)
{
    mfrontier *f = (mfrontier *)base;
    frontier_lock(f->lock);
    int rc = 0;
    slot *sl;
    struct fhost *h = host_get(f, url);
    if (!h) {
        rc = strstr(url, "://") ? ENOMEM : EINVAL;
        goto out;
    }
    int ins = seen_insert(f, url, &sl);
    if (ins <= 0) {
        rc = ins == 0 ? EEXIST : ENOMEM;
        goto out;
    }
    /* Seeds start at depth 0; cur stays at 0. */
    qitem *q = enqueue(f, h, sl->s, NULL, 0);
    if (!q) {
        rc = ENOMEM;
        goto out;
    }
    sl->q = q;
    f->accepted++;
    weft_cond_notify_all(f->cond);
out:
    weft_lock_release(f->lock);
    return rc;
}

/* Tries to hand out one item of level `level` from host h. */
static bool pick_host(mfrontier *f, struct fhost *h, unsigned level, frontier_item *it, double now,
                      double *wake)
{
    unsigned k = level % NQ;
    if (h->g.rs == R_FETCHING || !host_head(f, h, k))
        return false;
    if (h->g.rs == R_READY && !robots_allowed(h->rb, urlnorm_path(h->head[k]->url))) {
        /* Skips cost no request: hand them out at once. */
        qitem *q = host_pop(h, k);
        f->w.queued[k]--;
        seen_detach(f, q->url);
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
    frontier_gate_says gate = frontier_gate_check(&h->g, &f->w, f->o.per_host, now, wake);
    if (gate == GATE_SHUT)
        return false;
    if (gate == GATE_ROBOTS) {
        /* The worker fetches h->origin + "/robots.txt". */
        *it = (frontier_item){.kind = FRONTIER_ROBOTS, .url = h->origin, .host = h};
        return true;
    }
    qitem *q = host_pop(h, k);
    f->w.queued[k]--;
    seen_detach(f, q->url);
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
    frontier_gate_start(&h->g, &f->w, level, now);
    *it = (frontier_item){.kind = FRONTIER_PAGE,
                          .url = q->url,
                          .parent = q->parent,
                          .depth = q->depth,
                          .attempt = q->attempt,
                          .host = h};
    item_release(f, q);
    return true;
}

/* Tries to hand out one item: level cur first, then cur+1 (the window, see
 * frontier.h). *wake gets the earliest time a paused host becomes ready
 * (INFINITY if none). */
static bool pick(mfrontier *f, frontier_item *it, double now, double *wake)
{
    *wake = INFINITY;
    for (unsigned level = f->w.cur; level <= f->w.cur + 1; level++) {
        if (f->w.queued[level % NQ] == 0)
            continue;
        for (struct fhost *h = f->hosts; h; h = h->next)
            if (pick_host(f, h, level, it, now, wake))
                return true;
    }
    return false;
}

static int mem_next(frontier *base, frontier_item *it)
{
    mfrontier *f = (mfrontier *)base;
    frontier_lock(f->lock);
    int rc;
    for (;;) {
        if (frontier_stopped(&f->o)) {
            rc = ECANCELED;
            break;
        }
        if (f->done) {
            rc = ENOENT;
            break;
        }
        double now = weft_monotonic(), wake;
        frontier_window_advance(&f->w);
        if (pick(f, it, now, &wake)) {
            rc = 0;
            break;
        }
        if (frontier_window_idle(&f->w)) {
            /* Nothing can lower a held-back URL's depth any more: report
             * them, then the crawl is over. */
            qitem *q = f->held;
            while (q && q->dead) {
                f->held = q->next;
                item_release(f, q);
                q = f->held;
            }
            if (q) {
                f->held = q->next;
                if (!f->held)
                    f->held_tail = NULL;
                seen_detach(f, q->url);
                *it = (frontier_item){.kind = FRONTIER_SKIP,
                                      .skip = SKIP_DEPTH,
                                      .url = q->url,
                                      .parent = q->parent,
                                      .depth = q->depth,
                                      .host = q->host};
                item_release(f, q);
                rc = 0;
                break;
            }
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
    weft_lock_release(f->lock);
    return rc;
}

static int mem_add_links(frontier *base, frontier_item *it, frontier_link *links, size_t n)
{
    mfrontier *f = (mfrontier *)base;
    const char *parent = it->url;
    int rc = 0;
    unsigned cd = it->depth + 1;
    unsigned queued = 0;
    frontier_lock(f->lock);
    for (size_t i = 0; i < n; i++) {
        frontier_link *l = &links[i];
        l->lowered = false;
        if (rc != 0) {
            l->result = SKIP_LIMIT;
            continue;
        }
        slot *sl;
        int ins = seen_insert(f, l->url, &sl);
        if (ins < 0) {
            rc = ENOMEM;
            l->result = SKIP_LIMIT;
            continue;
        }
        if (ins == 0) {
            qitem *old = sl->q;
            l->result = SKIP_DUPLICATE;
            if (!old || old->dead || old->depth <= cd || cd > f->o.max_depth)
                continue;
            /* Seen first at a greater depth, still waiting: this sighting
             * is its real depth. The old one becomes the duplicate. */
            qitem *q = enqueue(f, old->host, sl->s, parent, cd);
            if (!q)
                continue; /* keep the old one: a wrong depth beats a lost page */
            old->dead = true;
            if (old->deferred)
                f->accepted++;
            else
                f->w.queued[old->depth % NQ]--;
            sl->q = q;
            l->result = SKIP_NONE;
            l->lowered = true;
            l->dup_parent = old->parent ? strdup(old->parent) : NULL;
            l->dup_depth = old->depth;
            queued++;
            continue;
        }
        if (l->pre != SKIP_NONE) {
            l->result = l->pre;
            continue;
        }
        struct fhost *h = host_get(f, sl->s);
        if (!h) {
            l->result = SKIP_SCHEME;
            continue;
        }
        if (cd > f->o.max_depth) {
            /* Held back: a slower page may still find it at a smaller depth. */
            qitem *q = item_new(f);
            if (!q) {
                rc = ENOMEM;
                l->result = SKIP_DEPTH;
                continue;
            }
            *q = (qitem){.url = sl->s, .parent = parent, .depth = cd, .host = h, .deferred = true};
            if (f->held_tail)
                f->held_tail->next = q;
            else
                f->held = q;
            f->held_tail = q;
            sl->q = q;
            l->result = SKIP_NONE;
            continue;
        }
        if (f->o.max_pages && f->accepted >= f->o.max_pages) {
            l->result = SKIP_LIMIT;
            continue;
        }
        if (h->g.rs == R_READY && !robots_allowed(h->rb, urlnorm_path(sl->s))) {
            l->result = SKIP_ROBOTS;
            continue;
        }
        qitem *q = enqueue(f, h, sl->s, parent, cd);
        if (!q) {
            rc = ENOMEM;
            l->result = SKIP_LIMIT;
            continue;
        }
        sl->q = q;
        f->accepted++;
        l->result = SKIP_NONE;
        queued++;
    }
    /* Idle workers can start on these now, while this one reports: one
     * each, but for the item the caller takes itself when it comes back to
     * frontier_next (on its warm connection, without a wake-up). Waking all
     * of them for one new URL is what made every early, one-page level a
     * thundering herd. */
    if (queued > 1)
        weft_cond_notify(f->cond, queued - 1);
    weft_lock_release(f->lock);
    return rc;
}

static frontier_claim_result mem_claim(frontier *base, frontier_item *it, const char *url)
{
    mfrontier *f = (mfrontier *)base;
    char origin[URLNORM_MAX + 8];
    if (!urlnorm_origin(url, origin, sizeof origin))
        return CLAIM_BAD;
    frontier_claim_result r = CLAIM_UNKNOWN_HOST;
    frontier_lock(f->lock);
    struct fhost *h = NULL;
    for (struct fhost *e = f->hosts; e; e = e->next)
        if (strcmp(e->origin, origin) == 0)
            h = e;
    /* A host whose robots.txt is not in yet: the caller queues the URL as a
     * link instead, so the rules are fetched before it is requested. */
    if (h && h->g.rs == R_READY) {
        slot *sl;
        int ins = seen_insert(f, url, &sl);
        if (ins < 0)
            r = CLAIM_BAD;
        else if (ins == 0)
            r = CLAIM_SEEN;
        else
            r = robots_allowed(h->rb, urlnorm_path(url)) ? CLAIM_OK : CLAIM_ROBOTS;
    }
    weft_lock_release(f->lock);
    return r;
}

static bool mem_mark(frontier *base, frontier_item *it, const char *s)
{
    mfrontier *f = (mfrontier *)base;
    slot *sl;
    frontier_lock(f->lock);
    int ins = seen_insert(f, s, &sl);
    weft_lock_release(f->lock);
    return ins == 1;
}

static void mem_page_done(frontier *base, frontier_item *it)
{
    mfrontier *f = (mfrontier *)base;
    frontier_lock(f->lock);
    unsigned old_cur = f->w.cur;
    frontier_gate_end(&it->host->g, &f->w, it->depth);
    frontier_window_wake(&f->w, f->cond, old_cur, true, f->o.per_host);
    weft_lock_release(f->lock);
}

static void mem_retry(frontier *base, frontier_item *it, double delay)
{
    mfrontier *f = (mfrontier *)base;
    frontier_lock(f->lock);
    struct fhost *h = it->host;
    qitem *q = item_new(f);
    if (q) {
        /* Its depth is final (it was handed out): no slot points at it. */
        *q = (qitem){
            .url = it->url, .parent = it->parent, .depth = it->depth, .attempt = it->attempt + 1};
        host_push(f, h, q, true);
        f->started--;
    }
    /* Without memory for the item the page is dropped: its record was the
     * caller's to make, and the crawl goes on. */
    frontier_gate_pause(&h->g, weft_monotonic() + delay);
    frontier_gate_end(&h->g, &f->w, it->depth);
    weft_cond_notify_all(f->cond);
    weft_lock_release(f->lock);
}

static void mem_robots_done(frontier *base, frontier_item *it, robots *rb, long status,
                            const char *body, size_t len)
{
    mfrontier *f = (mfrontier *)base;
    (void)status, (void)body, (void)len; /* nothing to keep: the rules die with the process */
    frontier_lock(f->lock);
    struct fhost *h = it->host;
    h->rb = rb;
    frontier_gate_robots_done(&h->g, &f->w, robots_crawl_delay(rb));
    /* The host's queue is open now: one worker per waiting item of the
     * window but the caller's. */
    unsigned old_cur = f->w.cur;
    size_t n = h->n[f->w.cur % NQ] + h->n[(f->w.cur + 1) % NQ];
    if (n > 1)
        weft_cond_notify(f->cond, n - 1 > 4096 ? 4096u : (unsigned)(n - 1));
    frontier_window_wake(&f->w, f->cond, old_cur, false, f->o.per_host);
    weft_lock_release(f->lock);
}

static void mem_stats(frontier *base, frontier_stats *out)
{
    mfrontier *f = (mfrontier *)base;
    frontier_lock(f->lock);
    out->seen = f->tab_n;
    out->queued = f->w.queued[0] + f->w.queued[1] + f->w.queued[2];
    out->fetched = f->started;
    out->level = f->w.cur;
    out->hosts = f->nhosts;
    out->arena_bytes = f->arena_bytes + f->tab_cap * sizeof(slot);
    weft_lock_release(f->lock);
}

static int mem_records(frontier *base, frontier_item *it, const crawl_record *recs, size_t n)
{
    (void)base, (void)it, (void)recs, (void)n; /* the caller prints them; nothing keeps them */
    return 0;
}

/* Stopping: the page is neither done nor failed, and nothing outlives the
 * process to fetch it later. */
static void mem_giveback(frontier *base, frontier_item *it)
{
    mem_page_done(base, it);
}

static void mem_skip_done(frontier *base, frontier_item *it)
{
    (void)base, (void)it;
}

static const char *mem_error(frontier *base)
{
    (void)base;
    return NULL;
}

static const frontier_ops mem_ops = {
    .free = mem_free,
    .seed = mem_seed,
    .next = mem_next,
    .add_links = mem_add_links,
    .claim = mem_claim,
    .mark = mem_mark,
    .records = mem_records,
    .page_done = mem_page_done,
    .retry = mem_retry,
    .giveback = mem_giveback,
    .skip_done = mem_skip_done,
    .robots_done = mem_robots_done,
    .stats = mem_stats,
    .error = mem_error,
};
