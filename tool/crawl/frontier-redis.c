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
