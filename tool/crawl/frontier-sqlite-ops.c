/* frontier-sqlite-ops.c: the verbs of the SQLite frontier and loading a
 * crawl back from its file. Scheduling mirrors frontier-memory.c line for
 * line where it can (advance, pick, the wake-ups); see frontier-sqlite.c
 * for how writes are batched. */
#include "crawl/frontier-sqlite.h"
#include "crawl/records-pack.h"
#include "parse/urlnorm.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fill_item(sfrontier *f, frontier_item *it, frontier_kind kind, crawl_skip skip,
                      sitem *q, struct fhost *h)
{
    sq_out_add(f, q);
    *it = (frontier_item){.kind = kind,
                          .skip = skip,
                          .url = q->url,
                          .parent = q->parent,
                          .depth = q->depth,
                          .attempt = q->attempt,
                          .host = h,
                          .priv = q};
}

static bool pick_host(sfrontier *f, struct fhost *h, unsigned level, frontier_item *it, double now,
                      double *wake)
{
    unsigned k = level % NQ;
    if (h->g.rs == R_FETCHING || !sq_host_head(f, h, level))
        return false;
    if (h->g.rs == R_READY && !robots_allowed(h->rb, urlnorm_path(h->head[k]->url))) {
        sitem *q = sq_cache_pop(h, k);
        h->n[k]--;
        f->w.queued[k]--;
        f->accepted--;
        sq_set_seen_state(f, q->h, q->depth, U_SEEN);
        fill_item(f, it, FRONTIER_SKIP, SKIP_ROBOTS, q, h);
        /* The skip's record (naming its row) ends it, in the same batch. */
        sq_open_item(f, q);
        return true;
    }
    frontier_gate_says gate = frontier_gate_check(&h->g, &f->w, f->o.per_host, now, wake);
    if (gate == GATE_SHUT)
        return false;
    if (gate == GATE_ROBOTS) {
        *it = (frontier_item){.kind = FRONTIER_ROBOTS, .url = h->origin, .host = h};
        return true;
    }
    sitem *q = sq_cache_pop(h, k);
    h->n[k]--;
    f->w.queued[k]--;
    if (f->o.max_pages && f->started >= f->o.max_pages) {
        sq_set_seen_state(f, q->h, q->depth, U_SEEN);
        fill_item(f, it, FRONTIER_SKIP, SKIP_LIMIT, q, h);
        sq_open_item(f, q);
        return true;
    }
    f->started++;
    frontier_gate_start(&h->g, &f->w, level, now);
    sq_set_seen_state(f, q->h, q->depth, U_INFLIGHT);
    q->page = true; /* in the inflight snapshot of each commit */
    fill_item(f, it, FRONTIER_PAGE, SKIP_NONE, q, h);
    return true;
}

static bool pick(sfrontier *f, frontier_item *it, double now, double *wake)
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

static struct fhost *host_by_id(sfrontier *f, long long id)
{
    for (struct fhost *h = f->hosts; h; h = h->next)
        if (h->id == id)
            return h;
    return NULL;
}

/* The next held-back URL (beyond --depth), read from the file. */
static sitem *next_held(sfrontier *f, struct fhost **host)
{
    if (!f->heldq && f->held > 0 && !sq_sync_begin(f)) {
        sq_sync_end(f);
    } else if (!f->heldq && f->held > 0) {
        sqlite3_stmt *s = f->s[S_HELD];
        sqlite3_bind_int64(s, 1, f->held_seq);
        sitem **tail = &f->heldq;
        int rc, rows = 0;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            rows++;
            f->held_seq = sqlite3_column_int64(s, 6);
            sslot *sl = sq_seen_find(f, (uint64_t)sqlite3_column_int64(s, 1));
            if (!sl || (sl->meta & 0xff) != U_HELD)
                continue; /* ended in an earlier run, or moved up */
            /* seq carries the row's host id here (see below) */
            sitem *q = sq_item_make(
                (uint64_t)sqlite3_column_int64(s, 1), sqlite3_column_int64(s, 0),
                (const char *)sqlite3_column_text(s, 2), (const char *)sqlite3_column_text(s, 3),
                (unsigned)sqlite3_column_int(s, 4), 0, sqlite3_column_int64(s, 5));
            if (!q)
                break;
            *tail = q;
            tail = &q->next;
        }
        bool ok = rc == SQLITE_DONE || rc == SQLITE_ROW;
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
        if (!ok)
            sq_fail(f, "cannot read the state file");
        sq_sync_end(f);
        if (!f->heldq && rows == 0)
            f->held = 0; /* the count said more than the file has */
    }
    sitem *q = f->heldq;
    if (q) {
        f->heldq = q->next;
        q->next = NULL;
        f->held--;
        /* seq carried the row's host id (see the S_HELD query) */
        *host = host_by_id(f, q->seq);
    }
    return q;
}

static int sq_next(frontier *base, frontier_item *it)
{
    sfrontier *f = (sfrontier *)base;
    sq_lock(f);
    int rc;
    for (;;) {
        if (!sq_check(f)) {
            rc = EIO;
            break;
        }
        if (frontier_stopped(&f->o)) {
            rc = ECANCELED;
            break;
        }
        if (f->done) {
            rc = ENOENT;
            break;
        }
        if (f->want_commit) {
            /* A due batch drains first: nothing opens until it commits. */
            f->commit_waiters++;
            weft_cond_wait(f->cond, POLL_SLICE);
            f->commit_waiters--;
            continue;
        }
        double now = weft_monotonic(), wake;
        frontier_window_advance(&f->w);
        if (pick(f, it, now, &wake)) {
            rc = f->failed ? EIO : 0;
            break;
        }
        if (f->failed)
            continue;
        if (frontier_window_idle(&f->w)) {
            struct fhost *h = NULL;
            sitem *q = next_held(f, &h);
            if (q) {
                sq_set_seen_state(f, q->h, q->depth, U_SEEN);
                fill_item(f, it, FRONTIER_SKIP, SKIP_DEPTH, q, h);
                sq_open_item(f, q);
                rc = f->failed ? EIO : 0;
                break;
            }
            if (f->failed)
                continue;
            /* The crawl is over: say so in the file, with the last batch. */
            f->done = true;
            if (sq_begin(f)) {
                sq_op(f, S_FINISHED);
                if (sq_op_end(f))
                    sq_maybe_commit(f, true);
            }
            weft_cond_notify_all(f->cond);
            rc = f->failed ? EIO : ENOENT;
            break;
        }
        sq_maybe_commit(f, false);
        while (f->seal_queued) {
            /* Sealed here, and this thread is about to wait rather than
             * unlock: apply it now, so the next batch may seal. */
            f->seal_queued = false;
            sq_sync_begin(f);
            sq_sync_end(f);
            sq_applied(f);
        }
        double t = wake - now;
        if (!(t < POLL_SLICE))
            t = POLL_SLICE;
        if (t < 0)
            t = 0;
        int wrc = weft_cond_wait(f->cond, t);
        if (wrc != 0 && wrc != ETIMEDOUT) {
            rc = ECANCELED;
            break;
        }
    }
    sq_unlock(f);
    return rc;
}

static int sq_seed(frontier *base, const char *url)
{
    sfrontier *f = (sfrontier *)base;
    sq_lock(f);
    int rc = 0;
    uint64_t hh = sq_hash_of(url);
    struct fhost *h = sq_host_get(f, url);
    if (!h) {
        rc = f->failed ? EIO : strstr(url, "://") ? ENOMEM : EINVAL;
        goto out;
    }
    int ins;
    sslot *sl = sq_seen_put(f, hh, sq_meta_of(0, U_QUEUED), &ins);
    if (!sl || !ins) {
        /* A resumed crawl has its seed already. */
        rc = sl ? EEXIST : ENOMEM;
        goto out;
    }
    long long seq = ++f->seq_tail;
    long long id = sq_write_url(f, hh, url, 0, 0, h, U_QUEUED, seq);
    if (!id) {
        rc = EIO;
        goto out;
    }
    sl->id = (uint32_t)id;
    sq_enqueue(f, h, hh, id, url, NULL, 0, seq);
    f->accepted++;
    sq_maybe_commit(f, true);
    weft_cond_notify_all(f->cond);
out:
    sq_unlock(f);
    return rc;
}

/* Moves a queued or held URL (its slot sl) up to depth cd, found by page q.
 * False when it stays where it is (*ok false: the file failed). */
static bool lower(sfrontier *f, sslot *sl, unsigned cd, sitem *q, frontier_link *l, bool *ok)
{
    unsigned st = sl->meta & 0xff, od = sl->meta >> 8;
    *ok = true;
    if ((st != U_QUEUED && st != U_HELD) || od <= cd || cd > f->o.max_depth || !sl->id)
        return false;
    uint64_t hh = sl->h;
    long long id = sl->id;
    char origin[URLNORM_MAX + 8];
    struct fhost *h =
        urlnorm_origin(l->url, origin, sizeof origin) ? sq_host_by_origin(f, origin) : NULL;
    if (!h)
        return false;
    /* The earlier sighting's parent, for its duplicate record. */
    if (!sq_sync_begin(f)) {
        sq_sync_end(f);
        *ok = false;
        return false;
    }
    sqlite3_stmt *s = f->s[S_PARENT_OF];
    sqlite3_bind_int64(s, 1, id);
    char *dup_parent = NULL;
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
        dup_parent = strdup((const char *)sqlite3_column_text(s, 0));
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    sq_sync_end(f);
    long long seq = f->seq_tail + 1;
    bool staged = sq_begin(f);
    if (staged) {
        sq_op(f, S_LOWER);
        sq_arg_int(f, 1, cd);
        sq_arg_int(f, 2, q->id);
        sq_arg_int(f, 3, seq);
        sq_arg_int(f, 4, id);
        staged = sq_op_end(f);
    }
    if (!staged) {
        free(dup_parent);
        *ok = false;
        return false;
    }
    f->seq_tail = seq;
    if (st == U_QUEUED) {
        unsigned ok2 = od % NQ;
        for (sitem *c = h->head[ok2]; c; c = c->next)
            if (c->id == id)
                c->dead = true;
        h->n[ok2]--;
        f->w.queued[ok2]--;
    } else {
        f->held--;
        f->accepted++;
    }
    sq_enqueue(f, h, hh, id, l->url, q->url, cd, seq);
    sl->meta = sq_meta_of(cd, U_QUEUED);
    l->lowered = true;
    l->dup_parent = dup_parent;
    l->dup_depth = od;
    return true;
}

static int sq_add_links(frontier *base, frontier_item *it, frontier_link *links, size_t n)
{
    sfrontier *f = (sfrontier *)base;
    sitem *q = it->priv;
    unsigned cd = it->depth + 1;
    unsigned queued = 0;
    int rc = 0;
    sq_lock(f);
    if (!sq_open_item(f, q))
        rc = EIO;
    for (size_t i = 0; i < n; i++) {
        frontier_link *l = &links[i];
        l->lowered = false;
        l->dup_parent = NULL;
        if (rc != 0) {
            l->result = SKIP_LIMIT;
            continue;
        }
        uint64_t hh = sq_hash_of(l->url);
        int ins;
        sslot *sl = sq_seen_put(f, hh, sq_meta_of(cd, U_SEEN), &ins);
        if (!sl) {
            rc = ENOMEM;
            l->result = SKIP_LIMIT;
            continue;
        }
        if (!ins) {
            l->result = SKIP_DUPLICATE;
            bool ok;
            if (lower(f, sl, cd, q, l, &ok)) {
                l->result = SKIP_NONE;
                queued++;
            } else if (!ok) {
                rc = EIO;
            }
            continue;
        }
        crawl_skip why = l->pre;
        struct fhost *h = NULL;
        if (why == SKIP_NONE && !(h = sq_host_get(f, l->url)))
            why = f->failed ? SKIP_LIMIT : SKIP_SCHEME;
        unsigned state = U_SEEN;
        if (why == SKIP_NONE) {
            if (cd > f->o.max_depth)
                state = U_HELD;
            else if (f->o.max_pages && f->accepted >= f->o.max_pages)
                why = SKIP_LIMIT;
            else if (h->g.rs == R_READY && !robots_allowed(h->rb, urlnorm_path(l->url)))
                why = SKIP_ROBOTS;
            else
                state = U_QUEUED;
        }
        /* host_get may have grown the set: find the slot again. */
        sl = sq_seen_find(f, hh);
        sl->meta = sq_meta_of(cd, state);
        long long seq = state == U_SEEN ? 0 : ++f->seq_tail;
        long long id =
            sq_write_url(f, hh, l->url, q ? q->id : 0, cd, state == U_SEEN ? NULL : h, state, seq);
        if (!id) {
            rc = EIO;
            l->result = SKIP_LIMIT;
            continue;
        }
        sl->id = (uint32_t)id;
        l->result = why;
        if (state == U_HELD) {
            f->held++;
        } else if (state == U_QUEUED) {
            sq_enqueue(f, h, hh, id, l->url, it->url, cd, seq);
            f->accepted++;
            queued++;
        }
    }
    if (queued > 1)
        weft_cond_notify(f->cond, queued - 1);
    sq_unlock(f);
    return rc;
}

static frontier_claim_result sq_claim(frontier *base, frontier_item *it, const char *url)
{
    sfrontier *f = (sfrontier *)base;
    sitem *q = it->priv;
    char origin[URLNORM_MAX + 8];
    if (!urlnorm_origin(url, origin, sizeof origin))
        return CLAIM_BAD;
    frontier_claim_result r = CLAIM_UNKNOWN_HOST;
    sq_lock(f);
    struct fhost *h = sq_host_by_origin(f, origin);
    if (h && h->g.rs == R_READY) {
        uint64_t hh = sq_hash_of(url);
        size_t len = strlen(url);
        claim *c = malloc(sizeof *c + len + 1);
        int ins = -1;
        if (c && q && !sq_seen_put(f, hh, sq_meta_of(it->depth, U_SEEN), &ins))
            ins = -1;
        if (ins < 0) {
            r = CLAIM_BAD;
        } else if (ins == 0) {
            r = CLAIM_SEEN;
        } else {
            /* Written with the page (sq_open_item), so a page never
             * finished leaves its hops unclaimed in the file. */
            c->h = hh;
            memcpy(c->url, url, len + 1);
            c->next = q->claims;
            q->claims = c;
            c = NULL;
            r = robots_allowed(h->rb, urlnorm_path(url)) ? CLAIM_OK : CLAIM_ROBOTS;
        }
        free(c);
    }
    sq_unlock(f);
    return r;
}

static bool sq_mark(frontier *base, frontier_item *it, const char *s)
{
    sfrontier *f = (sfrontier *)base;
    sitem *q = it->priv;
    uint64_t hh = sq_hash_of(s);
    bool fresh = false;
    sq_lock(f);
    if (sq_open_item(f, q)) {
        int ins = 0;
        sslot *sl = sq_seen_put(f, hh, sq_meta_of(it->depth + 1, U_SEEN), &ins);
        long long id = 0;
        if (sl && ins)
            id = sq_write_url(f, hh, s, q ? q->id : 0, it->depth + 1, NULL, U_SEEN, 0);
        fresh = id != 0;
        if (fresh && (sl = sq_seen_find(f, hh)))
            sl->id = (uint32_t)id;
    }
    sq_unlock(f);
    return fresh;
}

static int sq_records(frontier *base, frontier_item *it, const crawl_record *recs, size_t n)
{
    sfrontier *f = (sfrontier *)base;
    int rc = 0;
    /* Packed before the lock: only the inserts are serialised. */
    char **packed = calloc(n ? n : 1, sizeof *packed);
    size_t *lens = calloc(n ? n : 1, sizeof *lens);
    if (!packed || !lens) {
        free(packed);
        free(lens);
        return ENOMEM;
    }
    for (size_t i = 0; i < n && rc == 0; i++)
        if (!(packed[i] = record_pack(&recs[i], &lens[i])))
            rc = ENOMEM;
    sitem *q = it->priv;
    sq_lock(f);
    if (rc == 0 && !sq_open_item(f, q))
        rc = EIO;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const crawl_record *r = &recs[i];
        sq_op(f, S_INS_REC);
        sq_arg_int(f, 1, r->skip);
        /* The item's own record names its row: that ends it in the file. */
        if (q && !q->recorded && r->url && strcmp(r->url, q->url) == 0 &&
            (r->skip == SKIP_NONE) == (it->kind == FRONTIER_PAGE)) {
            sq_arg_int(f, 2, q->id);
            q->recorded = true;
        }
        sq_arg_blob(f, 3, packed[i], lens[i]);
        if (!sq_op_end(f))
            rc = EIO;
    }
    sq_unlock(f);
    for (size_t i = 0; i < n; i++)
        free(packed[i]);
    free(packed);
    free(lens);
    return rc;
}

static void sq_page_done(frontier *base, frontier_item *it)
{
    sfrontier *f = (sfrontier *)base;
    sitem *q = it->priv;
    sq_lock(f);
    unsigned old_cur = f->w.cur;
    frontier_gate_end(&it->host->g, &f->w, it->depth);
    sq_set_seen_state(f, q->h, q->depth, U_DONE);
    if (sq_open_item(f, q))
        sq_ended(f, q);
    sq_close_item(f, q, true);
    sq_out_remove(f, q);
    frontier_window_wake(&f->w, f->cond, old_cur, true, f->o.per_host);
    sq_unlock(f);
    sq_item_free(q);
    it->priv = NULL;
}

/* Back to the head of its host's queue (retry: one attempt more). */
static void requeue(sfrontier *f, frontier_item *it, unsigned attempt, double delay)
{
    sitem *q = it->priv;
    struct fhost *h = it->host;
    unsigned k = it->depth % NQ;
    long long seq = --f->seq_head;
    q->page = false;
    if (sq_begin(f)) {
        if (attempt != q->attempt) {
            /* A retry: its attempts and its place at the head are kept. */
            sq_op(f, S_REQUEUE);
            sq_arg_int(f, 1, attempt);
            sq_arg_int(f, 2, seq);
            sq_arg_int(f, 3, q->id);
            sq_op_end(f);
        }
    }
    /* Its hops were never written: forget them. */
    sq_item_free_claims(q);
    sq_out_remove(f, q);
    q->attempt = attempt;
    q->seq = seq;
    q->dead = false;
    sq_cache_push(h, k, q, true);
    h->n[k]++;
    f->w.queued[k]++;
    f->started--;
    sq_set_seen_state(f, q->h, q->depth, U_QUEUED);
    if (delay > 0) {
        frontier_gate_pause(&h->g, weft_monotonic() + delay);
        if (sq_begin(f)) {
            sq_op(f, S_HOST_PAUSE);
            sq_arg_double(f, 1, sq_wall_now() + delay);
            sq_arg_int(f, 2, h->id);
            sq_op_end(f);
        }
    }
    frontier_gate_end(&h->g, &f->w, it->depth);
    sq_close_item(f, q, false);
    it->priv = NULL;
    weft_cond_notify_all(f->cond);
}

static void sq_retry(frontier *base, frontier_item *it, double delay)
{
    sfrontier *f = (sfrontier *)base;
    sq_lock(f);
    requeue(f, it, it->attempt + 1, delay);
    sq_unlock(f);
}

static void sq_giveback(frontier *base, frontier_item *it)
{
    sfrontier *f = (sfrontier *)base;
    sq_lock(f);
    requeue(f, it, it->attempt, 0);
    sq_unlock(f);
}

static void sq_skip_done(frontier *base, frontier_item *it)
{
    sfrontier *f = (sfrontier *)base;
    sitem *q = it->priv;
    sq_lock(f);
    if (q && !q->recorded && sq_open_item(f, q)) {
        sq_op(f, S_DONE);
        sq_arg_int(f, 1, q->id);
        sq_op_end(f);
    }
    sq_close_item(f, q, false);
    sq_out_remove(f, q);
    sq_unlock(f);
    sq_item_free(q);
    it->priv = NULL;
}

static void sq_robots_done(frontier *base, frontier_item *it, robots *rb, long status,
                           const char *body, size_t len)
{
    sfrontier *f = (sfrontier *)base;
    sq_lock(f);
    struct fhost *h = it->host;
    h->rb = rb;
    if (sq_begin(f)) {
        sq_op(f, S_HOST_ROBOTS);
        sq_arg_int(f, 1, status);
        sq_arg_blob(f, 2, body ? body : "", body ? len : 0);
        sq_arg_int(f, 3, h->id);
        sq_op_end(f);
    }
    frontier_gate_robots_done(&h->g, &f->w, robots_crawl_delay(rb));
    unsigned old_cur = f->w.cur;
    size_t n = h->n[f->w.cur % NQ] + h->n[(f->w.cur + 1) % NQ];
    if (n > 1)
        weft_cond_notify(f->cond, n - 1 > 4096 ? 4096u : (unsigned)(n - 1));
    sq_maybe_commit(f, false);
    frontier_window_wake(&f->w, f->cond, old_cur, false, f->o.per_host);
    sq_unlock(f);
}

static void sq_stats(frontier *base, frontier_stats *out)
{
    sfrontier *f = (sfrontier *)base;
    sq_lock(f);
    out->seen = f->nseen;
    out->queued = f->w.queued[0] + f->w.queued[1] + f->w.queued[2];
    out->fetched = f->started;
    out->level = f->w.cur;
    out->hosts = f->nhosts;
    out->arena_bytes = sq_seen_bytes(f);
    sq_unlock(f);
}

static int sq_sync(frontier *base)
{
    sfrontier *f = (sfrontier *)base;
    sq_lock(f);
    /* No page is open once the workers are gone; if one were, its writes
     * would stay out rather than commit half a page. */
    if (f->txn && f->open_items == 0)
        sq_maybe_commit(f, true);
    sq_unlock(f); /* applies the sealed batch, waiting for the file */
    sq_lock(f);
    int rc = f->failed ? EIO : 0;
    sq_unlock(f);
    return rc;
}

static const char *sq_error(frontier *base)
{
    sfrontier *f = (sfrontier *)base;
    return f->failed ? f->err : NULL;
}

static void sq_free(frontier *base)
{
    sfrontier *f = (sfrontier *)base;
    if (f->txn)
        sq_commit(f);
    if (f->dblock && f->qlock)
        sq_flush_all(f);
    oplog_discard(f);
    for (int i = 0; i < S_N; i++)
        sqlite3_finalize(f->s[i]);
    for (struct fhost *h = f->hosts; h;) {
        struct fhost *n = h->next;
        for (int k = 0; k < NQ; k++)
            while (h->head[k])
                sq_item_free(sq_cache_pop(h, k));
        robots_free(h->rb);
        free(h->origin);
        free(h);
        h = n;
    }
    while (f->out) {
        sitem *q = f->out;
        f->out = q->next;
        sq_item_free(q);
    }
    while (f->heldq) {
        sitem *q = f->heldq;
        f->heldq = q->next;
        sq_item_free(q);
    }
    sq_seen_free(f);
    weft_cond_free(f->cond);
    weft_lock_free(f->lock);
    weft_lock_free(f->qlock);
    weft_lock_free(f->dblock);
    free(f);
}

static const frontier_ops sq_ops = {
    .free = sq_free,
    .seed = sq_seed,
    .next = sq_next,
    .add_links = sq_add_links,
    .claim = sq_claim,
    .mark = sq_mark,
    .records = sq_records,
    .page_done = sq_page_done,
    .retry = sq_retry,
    .giveback = sq_giveback,
    .skip_done = sq_skip_done,
    .robots_done = sq_robots_done,
    .stats = sq_stats,
    .error = sq_error,
    .sync = sq_sync,
};

/* ------------------------------------------------------------- loading */

/* Everything a run needs from the file: in-flight URLs queued again,
 * hosts with their robots.txt and pauses, the seen set, the queue counts. */
/* Marks the slots of the rows a query (h, skip) names as ended. */
static int load_ended(sfrontier *f, const char *sql)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(f->db, sql, -1, &s, NULL) != SQLITE_OK)
        return EIO;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        sslot *sl = sq_seen_find(f, (uint64_t)sqlite3_column_int64(s, 0));
        if (!sl)
            continue;
        bool page = sqlite3_column_int(s, 1) == 0;
        sl->meta = sq_meta_of(sl->meta >> 8, page ? U_DONE : U_SEEN);
        f->started += page;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : EIO;
}

static int load(sfrontier *f)
{
    sqlite3 *db = f->db;
    /* What was in flight is simply queued: it never ended. */
    if (sqlite3_exec(db, "DELETE FROM inflight", NULL, NULL, NULL) != SQLITE_OK)
        return EIO;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, "SELECT id, origin, robots_status, robots, pause_until FROM host",
                           -1, &s, NULL) != SQLITE_OK)
        return EIO;
    double wall = sq_wall_now(), mono = weft_monotonic();
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct fhost *h =
            sq_host_add(f, sqlite3_column_int64(s, 0), (const char *)sqlite3_column_text(s, 1));
        if (!h)
            break;
        if (h->id > f->next_host_id)
            f->next_host_id = h->id;
        if (sqlite3_column_type(s, 2) != SQLITE_NULL) {
            const char *body = sqlite3_column_blob(s, 3);
            robots *rb = NULL;
            robots_from_response(sqlite3_column_int64(s, 2), body ? body : "",
                                 (size_t)sqlite3_column_bytes(s, 3), f->product, &rb);
            h->rb = rb;
            h->g.rs = R_READY;
            if (robots_crawl_delay(rb) > h->g.delay)
                h->g.delay = robots_crawl_delay(rb);
        }
        double pause = sqlite3_column_double(s, 4) - wall;
        if (pause > 0)
            frontier_gate_pause(&h->g, mono + pause);
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return rc == SQLITE_ROW ? ENOMEM : EIO;
    /* The seen set, from every row. */
    if (sqlite3_prepare_v2(db, "SELECT id, h, depth, state, seq FROM url", -1, &s, NULL) !=
        SQLITE_OK)
        return EIO;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        long long id = sqlite3_column_int64(s, 0);
        uint64_t hh = (uint64_t)sqlite3_column_int64(s, 1);
        unsigned depth = (unsigned)sqlite3_column_int64(s, 2);
        unsigned st = (unsigned)sqlite3_column_int(s, 3);
        long long seq = sqlite3_column_int64(s, 4);
        int ins;
        sslot *sl = sq_seen_put(f, hh, sq_meta_of(depth, st), &ins);
        if (!sl)
            break;
        sl->id = (uint32_t)id;
        if (id > f->next_id)
            f->next_id = id;
        if (seq > f->seq_tail)
            f->seq_tail = seq;
        if (seq < f->seq_head)
            f->seq_head = seq;
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        return rc == SQLITE_ROW ? ENOMEM : EIO;
    /* Which of them ended: a record names them, or done has them. */
    if ((rc = load_ended(f, "SELECT u.h, r.skip FROM record r JOIN url u ON u.id = r.url_id "
                            "WHERE r.url_id IS NOT NULL")) != 0 ||
        (rc = load_ended(f, "SELECT u.h, 0 FROM done d JOIN url u ON u.id = d.id")) != 0)
        return rc;
    /* The queue and the held-back URLs: the rows that did not end. */
    if (sqlite3_prepare_v2(db, "SELECT h, depth, host FROM url WHERE state IN (0, 3)", -1, &s,
                           NULL) != SQLITE_OK)
        return EIO;
    f->w.cur = UINT32_MAX;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        sslot *sl = sq_seen_find(f, (uint64_t)sqlite3_column_int64(s, 0));
        unsigned st = sl ? sl->meta & 0xff : U_SEEN;
        unsigned depth = (unsigned)sqlite3_column_int64(s, 1);
        if (st == U_HELD) {
            f->held++;
            continue;
        }
        struct fhost *h = host_by_id(f, sqlite3_column_int64(s, 2));
        if (st != U_QUEUED || !h)
            continue;
        unsigned k = depth % NQ;
        h->n[k]++;
        h->all[k] = false;
        h->last_seq[k] = INT64_MIN;
        f->w.queued[k]++;
        f->accepted++;
        if (depth < f->w.cur)
            f->w.cur = depth;
    }
    sqlite3_finalize(s);
    if (f->w.cur == UINT32_MAX)
        f->w.cur = 0;
    f->accepted += f->started;
    f->held_seq = INT64_MIN;
    return rc == SQLITE_DONE ? 0 : EIO;
}

int frontier_new_sqlite(frontier **out, const frontier_opts *o, crawl_state *st,
                        const char *product)
{
    sfrontier *f = calloc(1, sizeof *f);
    if (!f)
        return ENOMEM;
    f->base.ops = &sq_ops;
    f->o = *o;
    f->st = st;
    f->db = st->db;
    snprintf(f->product, sizeof f->product, "%s", product ? product : "weft");
    int rc;
    /* Three classes for the deadlock detector: lock, then dblock, then qlock. */
    if ((rc = weft_lock_new_named(&f->lock, "frontier-sqlite")) != 0 ||
        (rc = weft_cond_new(&f->cond, f->lock)) != 0 ||
        (rc = weft_lock_new_named(&f->dblock, "frontier-sqlite file")) != 0 ||
        (rc = weft_lock_new_named(&f->qlock, "frontier-sqlite queue")) != 0)
        goto fail;
    for (int i = 0; i < S_N; i++)
        if (sqlite3_prepare_v3(f->db, sq_sqls[i], -1, SQLITE_PREPARE_PERSISTENT, &f->s[i], NULL) !=
            SQLITE_OK) {
            rc = EIO;
            goto fail;
        }
    if ((rc = load(f)) != 0)
        goto fail;
    *out = &f->base;
    return 0;
fail:
    sq_free(&f->base);
    return rc;
}
