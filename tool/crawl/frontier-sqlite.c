/* frontier-sqlite.c: the SQLite backend of the frontier (`--state FILE`):
 * the same scheduling as the memory backend (two-level window, per-host
 * cap, delay, Retry-After pause, held-back depth skips, max-pages), with the
 * queue, the seen set, the in-flight set, per-host state and every record
 * in the file.
 *
 * DESIGN: memory holds only what scheduling needs at once: per host and
 * level the first CACHE_MAX queued items (the rest stay in the file and are
 * read back in queue order when the cache runs dry), and the seen set as
 * fixed-size entries (a 64-bit hash and 32 bits of depth and state, 12
 * bytes a slot), so a crawl that has queued a million URLs stays small. The
 * hash is the url table's key; two URLs with the same 64-bit FNV-1a hash
 * would be taken for one (at a million URLs, a chance of about 3e-8).
 *
 * Writes go into one open transaction that commits every STATE_BATCH_PAGES
 * pages or STATE_BATCH_SECONDS (group commit). A page is "open" from its
 * first write (links, marks, records, or a skip handed out) to its end
 * (page done, retry, give-back, skip done); a batch commits only when no
 * page is open, and while one is due no page may open, so a page's links,
 * records and state always land in the same transaction. A redirect hop
 * claimed while the page is still being fetched is kept with the item and
 * written when the page opens: if the page is never finished, its hops were
 * never claimed in the file either.
 *
 * Writes are staged under the frontier lock and applied to the file, in
 * order, outside it (the op log, below): one connection, one writer at a
 * time (dblock), and the frontier lock is held for memcpys, not for
 * SQLite. Reads (the queue's refill, held URLs) apply the log first. The
 * thread that seals a batch applies it (waiting for the file) before it
 * goes on, and no batch seals while another is unapplied: at any instant
 * at most two batches are not in the file. */
#include "crawl/frontier-sqlite.h"
#include "parse/urlnorm.h"

#include <weft.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const sq_sqls[S_N] = {
    "INSERT INTO url(id, h, url, parent, depth, host, state, attempt, seq) "
    "VALUES(?, ?, ?, ?, ?, ?, ?, 0, ?)",
    "INSERT OR IGNORE INTO inflight(id) VALUES(?)",
    "INSERT OR IGNORE INTO done(id) VALUES(?)",
    "UPDATE url SET state = 0, attempt = ?, seq = ? WHERE id = ?",
    "UPDATE url SET depth = ?, parent = ?, state = 0, seq = ? WHERE id = ?",
    "INSERT INTO record(skip, url_id, rec) VALUES(?, ?, ?)",
    "INSERT INTO host(id, origin) VALUES(?, ?)",
    "UPDATE host SET robots_status = ?, robots = ? WHERE id = ?",
    "UPDATE host SET pause_until = ? WHERE id = ?",
    "SELECT u.id, u.h, u.url, p.url, u.attempt, u.seq FROM url u "
    "LEFT JOIN url p ON p.id = u.parent "
    "WHERE u.state = 0 AND u.host = ? AND u.depth = ? AND u.seq > ? ORDER BY u.seq LIMIT ?",
    "SELECT u.id, u.h, u.url, p.url, u.depth, u.host, u.seq FROM url u "
    "LEFT JOIN url p ON p.id = u.parent WHERE u.state = 3 AND u.seq > ? ORDER BY u.seq LIMIT 64",
    "SELECT p.url FROM url u JOIN url p ON p.id = u.parent WHERE u.id = ?",
    "DELETE FROM inflight",
    "INSERT OR REPLACE INTO meta(k, v) VALUES('finished', '1')",
};

/* ------------------------------------------------------------ plumbing */

bool sq_check(sfrontier *f)
{
    /* A write that failed since the lock was last held. */
    if (!f->failed && atomic_load_explicit(&f->dbfailed, memory_order_acquire)) {
        f->failed = true;
        memcpy(f->err, f->dberr, sizeof f->err);
        weft_cond_notify_all(f->cond);
    }
    return !f->failed;
}

void sq_lock(sfrontier *f)
{
    frontier_lock(f->lock);
    sq_check(f);
}

/* Moves the staged writes to the queue (under lock). Returns the number of
 * statements queued, 0 when there were none. */
static size_t log_push(sfrontier *f)
{
    oplog *b = f->cur;
    if (!b || b->len == 0)
        return 0;
    f->cur = NULL;
    frontier_lock(f->qlock);
    if (f->qtail)
        f->qtail->next = b;
    else
        f->qhead = b;
    f->qtail = b;
    f->qops += b->nops;
    size_t n = f->qops;
    weft_lock_release(f->qlock);
    return n;
}

static void sq_flush(sfrontier *f, bool wait);

void sq_unlock(sfrontier *f)
{
    for (;;) {
        bool sealed = f->seal_queued;
        f->seal_queued = false;
        size_t queued = log_push(f);
        weft_lock_release(f->lock);
        if (queued || sealed)
            sq_flush(f, sealed || queued > LOG_HIGH);
        if (!sealed)
            return;
        /* The sealed batch is in the file now (this flush waited for the
         * file and applied the queue, seal included): the next may seal,
         * and if it does, this thread applies it too. */
        frontier_lock(f->lock);
        sq_applied(f);
    }
}

void sq_applied(sfrontier *f)
{
    if (!f->applying)
        return;
    f->applying = false;
    /* A batch that came due meanwhile seals now, if no page is open. */
    if (f->want_commit)
        sq_maybe_commit(f, f->commit_forced);
}

double sq_wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The file failed (under dblock): roll the open transaction back, keep the
 * reason, and drop every write after it. */
static void db_fail(sfrontier *f, const char *what)
{
    if (atomic_load_explicit(&f->dbfailed, memory_order_relaxed))
        return;
    snprintf(f->dberr, sizeof f->dberr, "%s: %s", what, sqlite3_errmsg(f->db));
    if (f->db_txn && !sqlite3_get_autocommit(f->db))
        sqlite3_exec(f->db, "ROLLBACK", NULL, NULL, NULL);
    f->db_txn = false;
    atomic_store_explicit(&f->dbfailed, true, memory_order_release);
}

/* The crawl cannot go on (under lock and dblock, after a read): keep the
 * file at its last commit, say why, and stop handing out work. */
void sq_fail(sfrontier *f, const char *what)
{
    if (f->failed)
        return;
    db_fail(f, what);
    f->failed = true;
    memcpy(f->err, f->dberr, sizeof f->err);
    weft_cond_notify_all(f->cond);
}

/* Out of memory while staging (under lock): nothing staged can be trusted
 * to reach the file, so the file stays at its last commit. */
static void stage_fail(sfrontier *f)
{
    if (f->failed)
        return;
    f->failed = true;
    snprintf(f->err, sizeof f->err, "cannot write the state file: out of memory");
    /* (dberr is the applier's, under dblock: f->err says it already.) */
    atomic_store_explicit(&f->dbfailed, true, memory_order_release);
    weft_cond_notify_all(f->cond);
}

bool sq_begin(sfrontier *f)
{
    if (f->failed)
        return false;
    if (!f->txn) {
        f->txn = true;
        f->txn_t0 = weft_monotonic();
        f->txn_pages = 0;
    }
    return true;
}

/* ------------------------------------------------------------- op log */

/* Staged writes are bytes in f->cur: a statement is
 *   'S', its index, its argument count, then per argument its index, a
 *   type ('i' 8 bytes, 'd' 8 bytes, 't' or 'b' 4 bytes of length and the
 *   bytes);
 * a commit is 'C'. Only the thread holding the frontier lock writes them,
 * so staging costs a memcpy under that lock, and SQLite runs outside it:
 * the thread that releases the lock applies the queue (or leaves it to the
 * thread already applying it). Order is the staging order, so a batch's
 * writes and its commit reach the file as they would have directly. */

static void put(sfrontier *f, const void *p, size_t n)
{
    if (f->log_nomem)
        return;
    oplog *b = f->cur;
    if (!b) {
        if (!(b = calloc(1, sizeof *b))) {
            f->log_nomem = true;
            return;
        }
        f->cur = b;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 512;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *np = realloc(b->p, cap);
        if (!np) {
            f->log_nomem = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

void sq_op(sfrontier *f, int i)
{
    unsigned char h[3] = {'S', (unsigned char)i, 0};
    put(f, h, sizeof h);
    if (f->cur)
        f->op_at = f->cur->len - 1;
}

static void arg_head(sfrontier *f, int idx, char type)
{
    unsigned char h[2] = {(unsigned char)idx, (unsigned char)type};
    put(f, h, sizeof h);
    if (!f->log_nomem)
        f->cur->p[f->op_at]++;
}

void sq_arg_int(sfrontier *f, int idx, long long v)
{
    arg_head(f, idx, 'i');
    put(f, &v, sizeof v);
}

void sq_arg_double(sfrontier *f, int idx, double v)
{
    arg_head(f, idx, 'd');
    put(f, &v, sizeof v);
}

void sq_arg_blob(sfrontier *f, int idx, const void *p, size_t n)
{
    uint32_t len = (uint32_t)n;
    arg_head(f, idx, 'b');
    put(f, &len, sizeof len);
    put(f, p, n);
}

void sq_arg_text(sfrontier *f, int idx, const char *s)
{
    if (!s)
        return;
    size_t n = strlen(s);
    uint32_t len = (uint32_t)n;
    arg_head(f, idx, 't');
    put(f, &len, sizeof len);
    put(f, s, n);
}

bool sq_op_end(sfrontier *f)
{
    if (f->log_nomem)
        stage_fail(f);
    else
        f->cur->nops++;
    return !f->failed;
}

/* Applies one block of staged writes (under dblock). */
static void apply(sfrontier *f, const oplog *b)
{
    if (atomic_load_explicit(&f->dbfailed, memory_order_relaxed)) {
        /* Failed while staging: the open batch never commits. */
        if (f->db_txn && !sqlite3_get_autocommit(f->db))
            sqlite3_exec(f->db, "ROLLBACK", NULL, NULL, NULL);
        f->db_txn = false;
        return;
    }
    size_t at = 0;
    while (at < b->len && !atomic_load_explicit(&f->dbfailed, memory_order_relaxed)) {
        unsigned char kind = b->p[at++];
        if (kind == 'C') {
            if (f->db_txn) {
                if (sqlite3_exec(f->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
                    db_fail(f, "cannot write the state file");
                    return;
                }
                f->db_txn = false;
            }
            continue;
        }
        sqlite3_stmt *s = f->s[b->p[at]];
        unsigned nargs = b->p[at + 1];
        at += 2;
        for (unsigned a = 0; a < nargs; a++) {
            int idx = b->p[at];
            char type = (char)b->p[at + 1];
            at += 2;
            if (type == 'i' || type == 'd') {
                long long v;
                double d;
                memcpy(&v, b->p + at, sizeof v);
                memcpy(&d, b->p + at, sizeof d);
                if (type == 'i')
                    sqlite3_bind_int64(s, idx, v);
                else
                    sqlite3_bind_double(s, idx, d);
                at += 8;
            } else {
                uint32_t len;
                memcpy(&len, b->p + at, sizeof len);
                at += sizeof len;
                const char *p = (const char *)b->p + at;
                if (type == 't')
                    sqlite3_bind_text(s, idx, p, (int)len, SQLITE_STATIC);
                else
                    sqlite3_bind_blob(s, idx, len ? p : "", (int)len, SQLITE_STATIC);
                at += len;
            }
        }
        if (!f->db_txn) {
            if (sqlite3_exec(f->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
                sqlite3_clear_bindings(s);
                db_fail(f, "cannot write the state file");
                return;
            }
            f->db_txn = true;
        }
        int rc = sqlite3_step(s);
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
        if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
            db_fail(f, "cannot write the state file");
            return;
        }
    }
}

static void oplog_free(oplog *b)
{
    if (b) {
        free(b->p);
        free(b);
    }
}

void oplog_discard(sfrontier *f)
{
    oplog_free(f->cur);
    f->cur = NULL;
    while (f->qhead) {
        oplog *n = f->qhead->next;
        oplog_free(f->qhead);
        f->qhead = n;
    }
    f->qtail = NULL;
}

/* Applies the queue until it is empty (under dblock). */
static void drain(sfrontier *f)
{
    for (;;) {
        frontier_lock(f->qlock);
        oplog *b = f->qhead;
        f->qhead = f->qtail = NULL;
        f->qops = 0;
        weft_lock_release(f->qlock);
        if (!b)
            return;
        while (b) {
            oplog *n = b->next;
            apply(f, b);
            oplog_free(b);
            b = n;
        }
    }
}

/* Applies the queue unless another thread is at it (it then applies what
 * was queued before it let go, since it looks again afterwards); wait:
 * the queue is long, so wait for the file instead of staging more. */
static void sq_flush(sfrontier *f, bool wait)
{
    for (;;) {
        if (wait)
            frontier_lock(f->dblock);
        else if (weft_lock_acquire(f->dblock, 0) != 0)
            return;
        drain(f);
        weft_lock_release(f->dblock);
        frontier_lock(f->qlock);
        bool more = f->qhead != NULL;
        weft_lock_release(f->qlock);
        if (!more)
            return;
        wait = false;
    }
}

bool sq_sync_begin(sfrontier *f)
{
    log_push(f);
    frontier_lock(f->dblock);
    drain(f);
    /* Applying the queue may have failed the file: then nothing is read. */
    return sq_check(f);
}

void sq_sync_end(sfrontier *f)
{
    weft_lock_release(f->dblock);
}

void sq_flush_all(sfrontier *f)
{
    log_push(f);
    frontier_lock(f->dblock);
    drain(f);
    weft_lock_release(f->dblock);
}

/* The pages out now, as the file's inflight table: written once per batch
 * rather than twice per page, it tells the next run how many pages a crash
 * (or a stop) cut off. */
static void snapshot_inflight(sfrontier *f)
{
    sq_op(f, S_OUT_CLEAR);
    sq_op_end(f);
    for (sitem *q = f->out; q; q = q->next)
        if (q->page) {
            sq_op(f, S_OUT_ADD);
            sq_arg_int(f, 1, q->id);
            sq_op_end(f);
        }
}

/* Seals the batch (under lock): its commit is staged after its writes. */
void sq_commit(sfrontier *f)
{
    if (f->txn && !f->failed) {
        snapshot_inflight(f);
        unsigned char c = 'C';
        put(f, &c, 1);
        if (f->log_nomem)
            stage_fail(f);
        /* Applied by the next sq_unlock (this thread's, outside the lock),
         * which waits for it; no other batch seals before it is in the
         * file, so a kill loses at most two batches: this one and the one
         * being filled (docs/tool.md). */
        f->applying = true;
        f->seal_queued = true;
    }
    f->txn = false;
    f->commit_forced = false;
    /* Wake only those waiting for this commit: waking every worker at each
     * batch cost more than the batch. */
    bool waited = f->want_commit && f->commit_waiters > 0;
    f->want_commit = false;
    if (waited)
        weft_cond_notify_all(f->cond);
}

/* Commits when the batch is due and no page is open; when pages are open,
 * asks them to finish first (no new page opens meanwhile). */
void sq_maybe_commit(sfrontier *f, bool force)
{
    if (!f->txn)
        return;
    force = force || f->commit_forced;
    if (force || f->txn_pages >= STATE_BATCH_PAGES ||
        weft_monotonic() - f->txn_t0 >= STATE_BATCH_SECONDS) {
        if (f->open_items == 0 && !f->applying) {
            sq_commit(f);
        } else {
            f->want_commit = true;
            f->commit_forced = force; /* kept until it seals */
        }
    }
}

/* ------------------------------------------------------------ seen set */

uint64_t sq_hash_of(const char *s)
{
    uint64_t h = frontier_hash(s);
    return h ? h : 1; /* 0 marks an empty slot */
}

/* NSEG tables, chosen by the hash's top bits, each growing on its own: a
 * resize copies 1/NSEG of the set, so the peak memory of a growing crawl
 * is the set plus a sliver, never twice the set. */
static sseg *seg_of(sfrontier *f, uint64_t h)
{
    return &f->seg[h >> (64 - SEG_BITS)];
}

static sslot *seg_find(const sseg *g, uint64_t h)
{
    size_t i = (size_t)(h ^ (h >> 29)) & (g->cap - 1);
    while (g->t[i].h && g->t[i].h != h)
        i = (i + 1) & (g->cap - 1);
    return &g->t[i];
}

static int seg_grow(sseg *g)
{
    size_t cap = g->cap ? 2 * g->cap : 64;
    sseg n = {.t = calloc(cap, sizeof(sslot)), .cap = cap, .n = g->n};
    if (!n.t)
        return ENOMEM;
    for (size_t i = 0; i < g->cap; i++)
        if (g->t[i].h)
            *seg_find(&n, g->t[i].h) = g->t[i];
    free(g->t);
    *g = n;
    return 0;
}

sslot *sq_seen_find(sfrontier *f, uint64_t h)
{
    sseg *g = seg_of(f, h);
    if (!g->cap)
        return NULL;
    sslot *sl = seg_find(g, h);
    return sl->h ? sl : NULL;
}

sslot *sq_seen_put(sfrontier *f, uint64_t h, uint32_t meta, int *ins)
{
    sseg *g = seg_of(f, h);
    if ((g->n + 1) * 4 > g->cap * 3 && seg_grow(g) != 0)
        return NULL;
    sslot *sl = seg_find(g, h);
    *ins = !sl->h;
    if (!sl->h) {
        *sl = (sslot){.h = h, .id = 0, .meta = meta};
        g->n++;
        f->nseen++;
    }
    return sl;
}

size_t sq_seen_bytes(const sfrontier *f)
{
    size_t b = 0;
    for (int i = 0; i < NSEG; i++)
        b += f->seg[i].cap * sizeof(sslot);
    return b;
}

void sq_seen_free(sfrontier *f)
{
    for (int i = 0; i < NSEG; i++)
        free(f->seg[i].t);
}

uint32_t sq_meta_of(unsigned depth, unsigned state)
{
    return (uint32_t)(depth > 0xffffff ? 0xffffff : depth) << 8 | state;
}

/* ---------------------------------------------------------------- hosts */

struct fhost *sq_host_by_origin(sfrontier *f, const char *origin)
{
    for (struct fhost *h = f->hosts; h; h = h->next)
        if (strcmp(h->origin, origin) == 0)
            return h;
    return NULL;
}

struct fhost *sq_host_add(sfrontier *f, long long id, const char *origin)
{
    struct fhost *h = calloc(1, sizeof *h);
    if (!h || !(h->origin = strdup(origin))) {
        free(h);
        return NULL;
    }
    h->id = id;
    frontier_gate_init(&h->g, f->o.robots, f->o.min_delay);
    for (int k = 0; k < NQ; k++)
        h->all[k] = true;
    h->next = f->hosts;
    f->hosts = h;
    f->nhosts++;
    return h;
}

/* The host of url, made (and written) when new. NULL: no origin, or a
 * failure (f->failed tells). */
struct fhost *sq_host_get(sfrontier *f, const char *url)
{
    char origin[URLNORM_MAX + 8];
    if (!urlnorm_origin(url, origin, sizeof origin))
        return NULL;
    struct fhost *h = sq_host_by_origin(f, origin);
    if (h)
        return h;
    if (!sq_begin(f))
        return NULL;
    long long id = ++f->next_host_id;
    sq_op(f, S_INS_HOST);
    sq_arg_int(f, 1, id);
    sq_arg_text(f, 2, origin);
    if (!sq_op_end(f))
        return NULL;
    return sq_host_add(f, id, origin);
}

void sq_item_free_claims(sitem *q)
{
    for (claim *c = q->claims; c;) {
        claim *n = c->next;
        free(c);
        c = n;
    }
    q->claims = NULL;
}

void sq_item_free(sitem *q)
{
    if (!q)
        return;
    sq_item_free_claims(q);
    free(q); /* its strings live in the same block */
}

sitem *sq_item_make(uint64_t h, long long id, const char *url, const char *parent, unsigned depth,
                    unsigned attempt, long long seq)
{
    /* One allocation: the item, then its URL and its parent's. */
    size_t ul = strlen(url) + 1, pl = parent ? strlen(parent) + 1 : 0;
    sitem *q = calloc(1, sizeof *q + ul + pl);
    if (!q)
        return NULL;
    q->url = memcpy((char *)(q + 1), url, ul);
    q->parent = parent ? memcpy((char *)(q + 1) + ul, parent, pl) : NULL;
    q->h = h;
    q->id = id;
    q->depth = depth;
    q->attempt = attempt;
    q->seq = seq;
    return q;
}

void sq_cache_push(struct fhost *h, unsigned k, sitem *q, bool front)
{
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
    h->ncache[k]++;
}

sitem *sq_cache_pop(struct fhost *h, unsigned k)
{
    sitem *q = h->head[k];
    h->head[k] = q->next;
    if (!h->head[k])
        h->tail[k] = NULL;
    h->ncache[k]--;
    return q;
}

/* Reads the next queued items of h's level from the file. */
static void sq_refill(sfrontier *f, struct fhost *h, unsigned level)
{
    unsigned k = level % NQ;
    if (!sq_sync_begin(f)) {
        sq_sync_end(f);
        return;
    }
    sqlite3_stmt *s = f->s[S_REFILL];
    sqlite3_bind_int64(s, 1, h->id);
    sqlite3_bind_int64(s, 2, level);
    sqlite3_bind_int64(s, 3, h->last_seq[k]);
    sqlite3_bind_int(s, 4, CACHE_MAX);
    int rc, got = 0, taken = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        uint64_t hh = (uint64_t)sqlite3_column_int64(s, 1);
        long long seq = sqlite3_column_int64(s, 5);
        sslot *sl = sq_seen_find(f, hh);
        got++;
        if (!sl || (sl->meta & 0xff) != U_QUEUED) {
            h->last_seq[k] = seq; /* ended in an earlier run: not queued */
            continue;
        }
        sitem *q =
            sq_item_make(hh, sqlite3_column_int64(s, 0), (const char *)sqlite3_column_text(s, 2),
                         (const char *)sqlite3_column_text(s, 3), level,
                         (unsigned)sqlite3_column_int(s, 4), sqlite3_column_int64(s, 5));
        if (!q)
            break;
        sq_cache_push(h, k, q, false);
        h->last_seq[k] = q->seq;
        taken++;
    }
    bool ok = rc == SQLITE_DONE || rc == SQLITE_ROW;
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (!ok)
        sq_fail(f, "cannot read the state file");
    sq_sync_end(f);
    if (!ok)
        return;
    if (rc == SQLITE_DONE && got < CACHE_MAX)
        h->all[k] = true;
    if (taken == 0 && h->all[k] && !h->head[k]) {
        /* The counts say more than the file has: believe the file. */
        f->w.queued[k] -= h->n[k];
        h->n[k] = 0;
    }
}

/* The live head of h's level, reading the file when the cache is dry. */
sitem *sq_host_head(sfrontier *f, struct fhost *h, unsigned level)
{
    unsigned k = level % NQ;
    for (;;) {
        while (h->head[k] && h->head[k]->dead)
            sq_item_free(sq_cache_pop(h, k));
        if (h->head[k] || h->n[k] == 0 || h->all[k])
            return h->head[k];
        sq_refill(f, h, level);
        if (f->failed || (!h->head[k] && h->all[k]))
            return NULL;
    }
}

/* A new queued URL (already in the seen set) at its host's tail: written,
 * and cached while the cache holds the whole level. */
void sq_enqueue(sfrontier *f, struct fhost *h, uint64_t hh, long long id, const char *url,
                const char *parent_url, unsigned depth, long long seq)
{
    unsigned k = depth % NQ;
    if (h->all[k] && h->ncache[k] < CACHE_MAX) {
        sitem *q = sq_item_make(hh, id, url, parent_url, depth, 0, seq);
        if (!q)
            h->all[k] = false; /* the file has it; read it back later */
        else {
            sq_cache_push(h, k, q, false);
            h->last_seq[k] = seq;
        }
    } else if (h->all[k]) {
        h->all[k] = false;
    }
    h->n[k]++;
    f->w.queued[k]++;
}

long long sq_write_url(sfrontier *f, uint64_t hh, const char *url, long long parent, unsigned depth,
                       const struct fhost *h, unsigned state, long long seq)
{
    if (!sq_begin(f))
        return 0;
    long long id = ++f->next_id;
    sq_op(f, S_INS_URL);
    sq_arg_int(f, 1, id);
    sq_arg_int(f, 2, (long long)hh);
    sq_arg_text(f, 3, url);
    if (parent)
        sq_arg_int(f, 4, parent);
    sq_arg_int(f, 5, depth);
    if (h)
        sq_arg_int(f, 6, h->id);
    sq_arg_int(f, 7, (int)state);
    sq_arg_int(f, 8, seq);
    return sq_op_end(f) ? id : 0;
}

bool sq_ended(sfrontier *f, sitem *q)
{
    if (!sq_begin(f))
        return false;
    q->page = false;
    if (q->recorded)
        return true;
    sq_op(f, S_DONE);
    sq_arg_int(f, 1, q->id);
    return sq_op_end(f);
}

void sq_set_seen_state(sfrontier *f, uint64_t hh, unsigned depth, unsigned state)
{
    sslot *sl = sq_seen_find(f, hh);
    if (sl)
        sl->meta = sq_meta_of(depth, state);
}

/* ------------------------------------------------------ opening a page */

/* The item's first write: waits while a due batch drains, then writes the
 * redirect hops it claimed. False when the file failed. */
bool sq_open_item(sfrontier *f, sitem *q)
{
    if (!q || q->open)
        return !f->failed;
    while (f->want_commit && sq_check(f)) {
        f->commit_waiters++;
        weft_cond_wait(f->cond, POLL_SLICE);
        f->commit_waiters--;
    }
    if (!sq_begin(f))
        return false;
    q->open = true;
    f->open_items++;
    for (claim *c = q->claims; c; c = c->next) {
        long long id = sq_write_url(f, c->h, c->url, q->id, q->depth, NULL, U_SEEN, 0);
        if (!id)
            return false;
        sslot *sl = sq_seen_find(f, c->h);
        if (sl)
            sl->id = (uint32_t)id;
    }
    return true;
}

void sq_close_item(sfrontier *f, sitem *q, bool page)
{
    if (q && q->open) {
        q->open = false;
        f->open_items--;
    }
    if (page)
        f->txn_pages++;
    sq_maybe_commit(f, false);
}

void sq_out_add(sfrontier *f, sitem *q)
{
    q->prev = NULL;
    q->next = f->out;
    if (f->out)
        f->out->prev = q;
    f->out = q;
}

void sq_out_remove(sfrontier *f, sitem *q)
{
    if (q->prev)
        q->prev->next = q->next;
    else
        f->out = q->next;
    if (q->next)
        q->next->prev = q->prev;
    q->next = q->prev = NULL;
}
