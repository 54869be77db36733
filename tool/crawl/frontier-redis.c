/* frontier-redis.c: the Redis backend of the frontier (`--state
 * redis://...`): one crawl shared by any number of processes on any
 * machines, with the same semantics as the memory backend, made global.
 *
 * DESIGN: every verb is one Lua script, atomic on the server
 * (frontier-redis-lua.h); a page costs three round trips: NEXT (hand
 * out), ADD (its links) and DONE (its records, its redirect hops, its end).
 * Keys, under the crawl's prefix P ("weft:<crawl id>:"):
 *   meta      hash: format, schema, the options that define the crawl, finished
 *   c         hash: counters: q<d> queued and f<d> leased at depth d, cur,
 *             acc (accepted, for --max-pages), st (pages handed out), held,
 *             rb (robots.txt leased), hseq
 *   s:XXXX    the seen set (see the Lua header), 65,536 small hashes
 *   H, hs     origin -> host id; the set of host ids
 *   h:<id>    hash: o origin, rs robots state (0 unknown, 1 leased, 2 known),
 *             rexp its expiry (24 h), rst/rb the robots.txt response, act
 *             requests in flight, nx no request starts before (ms), dl delay
 *   q:<id>:<d> list: the host's queue at depth d ("hash TAB attempt TAB url
 *             TAB parent"); entries whose URL moved up or ended are stale and
 *             dropped when they reach the head
 *   held      list: URLs beyond --depth, reported at the end
 *   L, ld     leases: zset token -> expiry (ms), hash token -> what it holds
 *   pg        hash: page hash -> URL (the parents of moved-up duplicates)
 *   rec       list: every record, packed
 * Politeness (per-host cap, delay, Crawl-delay, Retry-After pause) and the
 * depth window live in those keys, so they hold across all processes
 * together; time is Redis's own (TIME), so clocks of the machines do not
 * matter. A URL handed out is leased; a background thread renews this
 * process's leases every lease/4, so a slow transfer keeps its lease and a
 * dead process's leases expire and come back to the others (NEXT reclaims
 * them). A page finished by two processes (a lease that expired under a
 * live one) keeps the first result; the second is dropped (DONE says so).
 *
 * robots.txt rules are parsed in the client: each process keeps the rules
 * of the hosts it met (read once from Redis), checks links against them
 * when it has them, and a handed-out page against them always. */
#include "crawl/frontier-redis-impl.h"
#include "parse/urlnorm.h"

#include <weft.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rf_lock(rfrontier *f)
{
    while (weft_lock_acquire(f->lock, WEFT_FOREVER) != 0)
        if (weft_lock_acquire(f->lock, 0) == 0)
            return;
}

void rf_unlock(rfrontier *f)
{
    weft_lock_release(f->lock);
}

void rf_fail(rfrontier *f, const char *what, const char *why)
{
    rf_lock(f);
    if (!f->failed) {
        f->failed = true;
        snprintf(f->err, sizeof f->err, "%s: %s", what, why);
    }
    rf_unlock(f);
}

void rf_hash_hex(const char *s, char out[17])
{
    snprintf(out, 17, "%016llx", frontier_hash(s));
}

/* ------------------------------------------------------------- records */

typedef struct pbuf {
    char *p;
    size_t len, cap;
    bool failed;
} pbuf;

static void put(pbuf *b, const char *s, size_t n)
{
    char head[24];
    int hl = snprintf(head, sizeof head, "%zu:", n);
    if (b->failed)
        return;
    if (b->len + (size_t)hl + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + (size_t)hl + n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->failed = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, head, (size_t)hl);
    memcpy(b->p + b->len + hl, s, n);
    b->len += (size_t)hl + n;
}

static void puts_(pbuf *b, const char *s)
{
    put(b, s ? s : "", s ? strlen(s) : 0);
}

static void putn(pbuf *b, const char *fmt, double v)
{
    char t[64];
    snprintf(t, sizeof t, fmt, v);
    puts_(b, t);
}

static void putll(pbuf *b, long long v)
{
    char t[32];
    snprintf(t, sizeof t, "%lld", v);
    puts_(b, t);
}

/* A record as Redis keeps it: "len:bytes" fields: skip name ("" for a
 * page), url, parent, depth, then for pages the rest (crawl_record order),
 * error as "1" + text or "0". NULL when out of memory. */
char *redis_record_pack(const crawl_record *r, size_t *len)
{
    pbuf b = {0};
    puts_(&b, r->skip == SKIP_NONE ? "" : crawl_skip_name(r->skip));
    puts_(&b, r->url);
    puts_(&b, r->parent);
    putll(&b, r->depth);
    if (r->skip == SKIP_NONE) {
        puts_(&b, r->final_url);
        putll(&b, r->status);
        puts_(&b, r->title);
        putll(&b, (long long)r->words);
        putll(&b, (long long)r->links);
        putll(&b, (long long)r->links_new);
        putll(&b, (long long)r->links_seen);
        puts_(&b, r->content_type);
        putll(&b, r->bytes);
        putll(&b, r->wire_bytes);
        putll(&b, r->truncated);
        putll(&b, r->parsed);
        putll(&b, r->attempts);
        putn(&b, "%.6f", r->time);
        putn(&b, "%.6f", r->start);
        putn(&b, "%.6f", r->end);
        putll(&b, r->worker);
        if (r->error) {
            size_t n = strlen(r->error);
            char *e = malloc(n + 2);
            if (!e) {
                free(b.p);
                return NULL;
            }
            e[0] = '1';
            memcpy(e + 1, r->error, n + 1);
            puts_(&b, e);
            free(e);
        } else {
            puts_(&b, "0");
        }
        putll(&b, (long long)r->dups);
    }
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}

/* Splits a packed record (s, len) into NUL-terminated fields copied into
 * buf (len + max bytes). Returns the number of fields, or -1 when it is
 * malformed. */
static int unpack(const char *s, size_t len, char *buf, char **f, int max)
{
    int n = 0;
    size_t i = 0, o = 0;
    while (i < len) {
        size_t l = 0, j = i;
        while (j < len && s[j] >= '0' && s[j] <= '9' && j - i < 12)
            l = l * 10 + (size_t)(s[j++] - '0');
        if (j == i || j >= len || s[j] != ':' || l > len - j - 1 || n == max)
            return -1;
        memcpy(buf + o, s + j + 1, l);
        buf[o + l] = '\0';
        f[n++] = buf + o;
        o += l + 1;
        i = j + 1 + l;
    }
    return n;
}

int redis_record_unpack(const char *packed, size_t len, crawl_record_fn *fn, void *ud)
{
    char *s = malloc(len + 33);
    if (!s)
        return ENOMEM;
    char *f[32];
    int n = unpack(packed, len, s, f, 32);
    if (n < 4) {
        free(s);
        return EINVAL;
    }
    crawl_record r = {.skip = f[0][0] ? crawl_skip_from_name(f[0]) : SKIP_NONE,
                      .url = f[1],
                      .parent = f[2][0] ? f[2] : NULL,
                      .depth = (unsigned)strtoul(f[3], NULL, 10),
                      .worker = -1,
                      .title = "",
                      .content_type = ""};
    if (r.skip == SKIP_N)
        r.skip = SKIP_SCHEME;
    if (r.skip == SKIP_NONE) {
        if (n < 22) {
            free(s);
            return EINVAL;
        }
        r.final_url = f[4];
        r.status = strtol(f[5], NULL, 10);
        r.title = f[6];
        r.words = strtoul(f[7], NULL, 10);
        r.links = strtoul(f[8], NULL, 10);
        r.links_new = strtoul(f[9], NULL, 10);
        r.links_seen = strtoul(f[10], NULL, 10);
        r.content_type = f[11];
        r.bytes = strtoll(f[12], NULL, 10);
        r.wire_bytes = strtoll(f[13], NULL, 10);
        r.truncated = f[14][0] == '1';
        r.parsed = f[15][0] == '1';
        r.attempts = (unsigned)strtoul(f[16], NULL, 10);
        r.time = strtod(f[17], NULL);
        r.start = strtod(f[18], NULL);
        r.end = strtod(f[19], NULL);
        r.worker = (int)strtol(f[20], NULL, 10);
        r.error = f[21][0] == '1' ? f[21] + 1 : NULL;
        r.dups = n > 22 ? strtoul(f[22], NULL, 10) : 0;
    }
    fn(ud, &r);
    free(s);
    return 0;
}

/* --------------------------------------------------------------- items */

void rf_item_free(ritem *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->nrec; i++)
        free(q->recs[i]);
    free(q->recs);
    free(q->rlens);
    free(q->claims);
    free(q->claim_depth);
    free(q->url);
    free(q->parent);
    free(q->origin);
    free(q);
}

void rf_out_add(rfrontier *f, ritem *q)
{
    rf_lock(f);
    q->prev = NULL;
    q->next = f->out;
    if (f->out)
        f->out->prev = q;
    f->out = q;
    rf_unlock(f);
}

void rf_out_remove(rfrontier *f, ritem *q)
{
    rf_lock(f);
    if (q->prev)
        q->prev->next = q->next;
    else if (f->out == q)
        f->out = q->next;
    if (q->next)
        q->next->prev = q->prev;
    q->next = q->prev = NULL;
    rf_unlock(f);
}

/* The rules of origin, from the cache or (once) from Redis. NULL: none
 * known yet. *known says whether the host's robots.txt is in. */
robots *rf_rules_of(rfrontier *f, const char *origin, const char *host_id, bool *known)
{
    *known = false;
    if (!f->o.robots) {
        *known = true;
        return NULL;
    }
    rf_lock(f);
    for (rules *r = f->rules; r; r = r->next)
        if (strcmp(r->origin, origin) == 0) {
            rf_unlock(f);
            *known = true;
            return r->rb;
        }
    rf_unlock(f);
    if (!host_id)
        return NULL;
    char key[400], err[300];
    snprintf(key, sizeof key, "%sh:%s", f->prefix, host_id);
    const char *argv[] = {"HMGET", key, "rs", "rst", "rb"};
    redisReply *rep = redis_argv(f->pool, 5, argv, NULL, err, sizeof err);
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 3 ||
        rep->element[0]->type != REDIS_REPLY_STRING || strcmp(rep->element[0]->str, "2") != 0) {
        freeReplyObject(rep);
        return NULL;
    }
    long status = rep->element[1]->type == REDIS_REPLY_STRING ? atol(rep->element[1]->str) : 0;
    const char *body = rep->element[2]->type == REDIS_REPLY_STRING ? rep->element[2]->str : "";
    size_t blen = rep->element[2]->type == REDIS_REPLY_STRING ? rep->element[2]->len : 0;
    robots *rb = NULL;
    robots_from_response(status, body, blen, f->product, &rb);
    freeReplyObject(rep);
    rules *r = calloc(1, sizeof *r);
    if (!r || !(r->origin = strdup(origin))) {
        free(r);
        robots_free(rb);
        return NULL;
    }
    r->rb = rb;
    rf_lock(f);
    r->next = f->rules;
    f->rules = r;
    rf_unlock(f);
    *known = true;
    return rb;
}

void rf_new_token(rfrontier *f, char *out, size_t n)
{
    rf_lock(f);
    unsigned long long k = ++f->tokens;
    rf_unlock(f);
    snprintf(out, n, "%s-%llu", f->token_base, k);
}

const char *rf_rstr(const redisReply *r, size_t i)
{
    return i < r->elements && r->element[i]->type == REDIS_REPLY_STRING ? r->element[i]->str : "";
}

long long rf_rnum(const redisReply *r, size_t i)
{
    if (i >= r->elements)
        return 0;
    if (r->element[i]->type == REDIS_REPLY_INTEGER)
        return r->element[i]->integer;
    return r->element[i]->type == REDIS_REPLY_STRING ? atoll(r->element[i]->str) : 0;
}

/* ---------------------------------------------------------------- verbs */

bool rf_stopped(rfrontier *f)
{
    return (f->o.stop && atomic_load(f->o.stop)) || weft_cancelled();
}
