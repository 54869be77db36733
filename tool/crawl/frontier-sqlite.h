/* frontier-sqlite.h: what the two halves of the SQLite frontier share:
 * frontier-sqlite.c (the batch, the seen set, hosts and the queue cache)
 * and frontier-sqlite-ops.c (the verbs). See frontier-sqlite.c. */
#ifndef WEFT_TOOL_FRONTIER_SQLITE_H
#define WEFT_TOOL_FRONTIER_SQLITE_H

#include "crawl/frontier-impl.h"
#include "crawl/state-impl.h"

#include <weft.h>

#include <stdatomic.h>
#include <stdint.h>

#define NQ         FRONTIER_NQ
#define CACHE_MAX  256 /* queued items per host and level kept in memory */
#define POLL_SLICE 0.1
#define SEG_BITS   6
#define NSEG       (1 << SEG_BITS)
#define LOG_HIGH   4096 /* staged writes beyond which a writer waits for the file */

/* A seen URL: its hash (0: an empty slot), its url row (0: not known in
 * this run) and depth << 8 | state (U_*). 16 bytes. */
typedef struct sslot {
    uint64_t h;
    uint32_t id;
    uint32_t meta;
} sslot;

typedef struct sseg {
    sslot *t;
    size_t cap, n;
} sseg;

typedef struct claim {
    struct claim *next;
    uint64_t h;
    char url[];
} claim;

/* A queued URL in the cache, then the item handed out for it. */
typedef struct sitem {
    struct sitem *next;
    struct sitem *prev; /* handed out: in the frontier's out list (with next) */
    uint64_t h;
    long long id;       /* its row in the url table */
    char *url, *parent; /* in the same allocation, after the item */
    unsigned depth, attempt;
    long long seq;
    bool dead;     /* moved up a level: its copy is queued there */
    bool open;     /* has writes in the open batch */
    bool recorded; /* a record names its row (url_id) */
    bool page;     /* a page out (not a skip): in the inflight snapshot */
    claim *claims;
} sitem;

struct fhost {
    struct fhost *next;
    long long id;
    char *origin;
    frontier_gate g; /* robots.txt state, in flight, spacing */
    robots *rb;
    size_t n[NQ];               /* queued at the level in slot k (file and cache; live) */
    sitem *head[NQ], *tail[NQ]; /* the cache, dead items included */
    size_t ncache[NQ];
    long long last_seq[NQ]; /* the cache holds every queued item up to this seq */
    bool all[NQ];           /* ... and every one after it */
};

/* Writes staged under the frontier lock, applied to the file in order
 * (see frontier-sqlite.c): statements with their arguments, and commits. */
typedef struct oplog {
    struct oplog *next;
    unsigned char *p;
    size_t len, cap, nops;
} oplog;

enum {
    S_INS_URL,
    S_OUT_ADD,
    S_DONE,
    S_REQUEUE,
    S_LOWER,
    S_INS_REC,
    S_INS_HOST,
    S_HOST_ROBOTS,
    S_HOST_PAUSE,
    S_REFILL,
    S_HELD,
    S_PARENT_OF,
    S_OUT_CLEAR,
    S_FINISHED,
    S_N
};

typedef struct sfrontier {
    frontier base;
    frontier_opts o;
    crawl_state *st;
    sqlite3 *db;
    sqlite3_stmt *s[S_N];
    char product[64];
    weft_lock *lock;
    weft_cond *cond;
    /* the seen set (see frontier-sqlite.c) */
    sseg seg[NSEG];
    size_t nseen;
    long long next_id;      /* the last url row's id */
    long long next_host_id; /* the last host row's id */
    /* scheduling, as in the memory backend */
    struct fhost *hosts;
    size_t nhosts;
    frontier_window w;  /* the depth window's counters */
    size_t held;        /* U_HELD rows in the file */
    sitem *heldq;       /* the next of them, read from the file at the end */
    long long held_seq; /* ... read up to this seq */
    sitem *out;         /* items handed out and not given back (freed with f) */
    size_t accepted, started;
    long long seq_tail, seq_head;
    bool done;
    /* the batch (under lock) */
    bool txn, want_commit, failed;
    bool applying;           /* a batch is sealed and not yet known to be in the file */
    bool seal_queued;        /* ... and the next sq_unlock applies it (and waits) */
    bool commit_forced;      /* the due batch must seal even if not full (the end) */
    unsigned commit_waiters; /* threads waiting for a due batch to commit */
    double txn_t0;
    unsigned txn_pages, open_items;
    char err[320];
    /* the op log: cur is written under lock; the queue (qhead..qtail, qops
     * statements) under qlock; db, its statements, db_txn and dberr under
     * dblock. Lock order: lock, then dblock, then qlock. */
    oplog *cur;
    size_t op_at; /* cur's offset of the open statement's argument count */
    bool log_nomem;
    weft_lock *qlock, *dblock;
    oplog *qhead, *qtail;
    size_t qops;
    bool db_txn;
    atomic_bool dbfailed; /* set (after dberr) once the file failed */
    char dberr[320];
} sfrontier;

extern const char *const sq_sqls[S_N];

/* Takes the frontier lock, and notices a write that failed meanwhile. */
void sq_lock(sfrontier *f);
/* Under lock: notices a failed write (f->failed, f->err). False when the
 * file failed. */
bool sq_check(sfrontier *f);
/* Releases the frontier lock, then applies the writes staged under it. */
void sq_unlock(sfrontier *f);
double sq_wall_now(void);
/* The crawl cannot go on: keep the file at its last commit, say why (what:
 * SQLite's message), and stop handing out work. */
void sq_fail(sfrontier *f, const char *what);
/* Opens the batch if none is. False when the file failed. */
bool sq_begin(sfrontier *f);
void sq_commit(sfrontier *f);
/* Under lock, once a sealed batch is in the file: pages may open again. */
void sq_applied(sfrontier *f);
/* Commits when due (or force) and no page is open; else asks for it. */
void sq_maybe_commit(sfrontier *f, bool force);
/* Stages statement i: sq_op, its arguments (by SQLite's 1-based index;
 * one not given is NULL), sq_op_end. Applied to the file in staging order
 * after the frontier lock is released (sq_unlock). sq_op_end returns false
 * when the file failed. Text and blobs are copied. */
void sq_op(sfrontier *f, int i);
void sq_arg_int(sfrontier *f, int idx, long long v);
void sq_arg_double(sfrontier *f, int idx, double v);
void sq_arg_text(sfrontier *f, int idx, const char *s);
void sq_arg_blob(sfrontier *f, int idx, const void *p, size_t n);
bool sq_op_end(sfrontier *f);
/* Before reading the file (under lock): applies every staged write and
 * holds the file until sq_sync_end (called either way). False when the
 * file failed: then read nothing. */
bool sq_sync_begin(sfrontier *f);
void sq_sync_end(sfrontier *f);
/* Applies every staged write now (no frontier lock held, or from free). */
void sq_flush_all(sfrontier *f);
/* Frees staged writes that were never applied (closing). */
void oplog_discard(sfrontier *f);
uint64_t sq_hash_of(const char *s);
/* h's slot, or NULL. */
sslot *sq_seen_find(sfrontier *f, uint64_t h);
/* h's slot, inserted (meta, id 0) unless there: *ins says which; NULL out
 * of memory. Valid until the next put. */
sslot *sq_seen_put(sfrontier *f, uint64_t h, uint32_t meta, int *ins);
size_t sq_seen_bytes(const sfrontier *f);
void sq_seen_free(sfrontier *f);
uint32_t sq_meta_of(unsigned depth, unsigned state);
struct fhost *sq_host_by_origin(sfrontier *f, const char *origin);
struct fhost *sq_host_add(sfrontier *f, long long id, const char *origin);
struct fhost *sq_host_get(sfrontier *f, const char *url);
void sq_item_free(sitem *q);
void sq_item_free_claims(sitem *q);
sitem *sq_item_make(uint64_t h, long long id, const char *url, const char *parent, unsigned depth,
                    unsigned attempt, long long seq);
void sq_cache_push(struct fhost *h, unsigned k, sitem *q, bool front);
sitem *sq_cache_pop(struct fhost *h, unsigned k);
sitem *sq_host_head(sfrontier *f, struct fhost *h, unsigned level);
/* A queued URL (written already as row id, with seq) at h's tail. */
void sq_enqueue(sfrontier *f, struct fhost *h, uint64_t hh, long long id, const char *url,
                const char *parent_url, unsigned depth, long long seq);
/* A new url row; returns its id, 0 when the file failed. */
long long sq_write_url(sfrontier *f, uint64_t hh, const char *url, long long parent, unsigned depth,
                       const struct fhost *h, unsigned state, long long seq);
/* Page q has ended: marks it done when no record named it (q->recorded). */
bool sq_ended(sfrontier *f, sitem *q);
void sq_set_seen_state(sfrontier *f, uint64_t hh, unsigned depth, unsigned state);
bool sq_open_item(sfrontier *f, sitem *q);
void sq_close_item(sfrontier *f, sitem *q, bool page);
/* q is handed out / given back: into / out of f's out list. */
void sq_out_add(sfrontier *f, sitem *q);
void sq_out_remove(sfrontier *f, sitem *q);

#endif
