/* frontier-redis-ops.c: the verbs of the Redis frontier, each one script
 * call (see frontier-redis.c), and the lease renewer. */
#include "crawl/frontier-redis-impl.h"
#include "parse/urlnorm.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static bool is_lost(const redisReply *r)
{
    if (r->type == REDIS_REPLY_STRING)
        return strcmp(r->str, "lost") == 0;
    return r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
           r->element[0]->type == REDIS_REPLY_STRING && strcmp(r->element[0]->str, "lost") == 0;
}

static redisReply *script(rfrontier *f, int which, int argc, const char **argv, const size_t *lens)
{
    char err[300];
    redisReply *r = redis_script(f->pool, which, f->prefix, argc, argv, lens, err, sizeof err);
    if (!r) {
        rf_fail(f, "Redis", err);
    } else if (is_lost(r)) {
        /* Every script checks the crawl's description first: a Redis that
         * came back empty must not pass for a finished crawl. */
        rf_fail(f, "Redis",
                "the crawl's keys are gone (did Redis restart without its data? run it with "
                "appendonly yes); nothing was written");
        freeReplyObject(r);
        r = NULL;
    }
    return r;
}

static ritem *item_new(const char *url, const char *parent, const char *origin)
{
    ritem *q = calloc(1, sizeof *q);
    if (!q || !(q->url = strdup(url ? url : "")) ||
        (parent && parent[0] && !(q->parent = strdup(parent))) ||
        (origin && !(q->origin = strdup(origin)))) {
        rf_item_free(q);
        return NULL;
    }
    return q;
}

/* DONE_NEXT's answers, kept for the worker that asked until its next
 * frontier_next (one per thread). */
static void stash(rfrontier *f, redisReply *r, const char *token)
{
    rf_lock(f);
    for (size_t i = 0; i < STASH_MAX; i++)
        if (!f->stash[i].r) {
            f->stash[i].r = r;
            f->stash[i].tid = pthread_self();
            snprintf(f->stash[i].token, sizeof f->stash[i].token, "%s", token);
            r = NULL;
            break;
        }
    rf_unlock(f);
    if (r) /* no room: its lease ends by itself and the URL comes back */
        freeReplyObject(r);
}

static bool has_stash(rfrontier *f)
{
    bool yes = false;
    rf_lock(f);
    for (size_t i = 0; i < STASH_MAX && !yes; i++)
        yes = f->stash[i].r && pthread_equal(f->stash[i].tid, pthread_self());
    rf_unlock(f);
    return yes;
}

static redisReply *unstash(rfrontier *f, char *token, size_t n)
{
    redisReply *r = NULL;
    rf_lock(f);
    for (size_t i = 0; i < STASH_MAX; i++)
        if (f->stash[i].r && pthread_equal(f->stash[i].tid, pthread_self())) {
            r = f->stash[i].r;
            snprintf(token, n, "%s", f->stash[i].token);
            f->stash[i].r = NULL;
            break;
        }
    rf_unlock(f);
    return r;
}

static int add(rfrontier *f, ritem *q, unsigned depth_plus_1, frontier_link *links, size_t n);

/* The seeds this process gave, again (NEXT said none was ever queued).
 * ENOENT: this process gave none, so there is nothing to crawl. */
static int reseed(rfrontier *f)
{
    if (f->nseeds == 0)
        return ENOENT;
    for (size_t i = 0; i < f->nseeds; i++) {
        frontier_link l = {.url = f->seeds[i]};
        int rc = add(f, NULL, 0, &l, 1);
        free(l.dup_parent);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int rd_next(frontier *base, frontier_item *it)
{
    rfrontier *f = (rfrontier *)base;
    char ph[16], mp[32], lease[32], token[48];
    snprintf(ph, sizeof ph, "%u", f->o.per_host);
    snprintf(mp, sizeof mp, "%zu", f->o.max_pages);
    snprintf(lease, sizeof lease, "%.0f", f->lease * 1000);
    for (;;) {
        if (f->failed)
            return EIO;
        if (rf_stopped(f))
            return ECANCELED;
        /* What the worker's last DONE_NEXT handed it, if anything. */
        redisReply *owner = unstash(f, token, sizeof token), view;
        redisReply *r = owner;
        if (owner) {
            view = *owner;
            view.element = owner->element + 1;
            view.elements = owner->elements - 1;
            r = &view;
        } else {
            rf_new_token(f, token, sizeof token);
            const char *argv[] = {ph, mp, lease, token, f->o.robots ? "1" : "0"};
            owner = r = script(f, RS_NEXT, 5, argv, NULL);
            if (!r)
                return EIO;
        }
        const char *kind = r->type == REDIS_REPLY_ARRAY ? rf_rstr(r, 0) : "";
        if (strcmp(kind, "done") == 0) {
            freeReplyObject(owner);
            return ENOENT;
        }
        if (strcmp(kind, "seed") == 0) {
            /* Nothing was ever queued: Redis went back to a save made
             * before the seeds went in. Give them again. */
            freeReplyObject(owner);
            int rc = reseed(f);
            if (rc != 0)
                return rc;
            continue;
        }
        if (strcmp(kind, "wait") == 0) {
            double ms = (double)rf_rnum(r, 1);
            freeReplyObject(owner);
            weft_sleep(ms / 1000.0);
            continue;
        }
        ritem *q = NULL;
        if (strcmp(kind, "robots") == 0) {
            q = item_new(rf_rstr(r, 1), NULL, rf_rstr(r, 1));
            if (q) {
                snprintf(q->token, sizeof q->token, "%s", token);
                snprintf(q->h, sizeof q->h, "%s", rf_rstr(r, 2)); /* the host id */
                q->leased = true;
                *it = (frontier_item){.kind = FRONTIER_ROBOTS, .url = q->url, .priv = q};
            }
        } else if (strcmp(kind, "skip") == 0) {
            /* Limit and depth skips: their records are in Redis already. */
            q = item_new(rf_rstr(r, 2), rf_rstr(r, 3), rf_rstr(r, 6));
            if (q) {
                q->stored = true;
                q->depth = (unsigned)rf_rnum(r, 4);
                *it = (frontier_item){.kind = FRONTIER_SKIP,
                                      .skip = crawl_skip_from_name(rf_rstr(r, 1)),
                                      .url = q->url,
                                      .parent = q->parent,
                                      .depth = q->depth,
                                      .priv = q};
            }
        } else if (strcmp(kind, "page") == 0) {
            q = item_new(rf_rstr(r, 1), rf_rstr(r, 2), rf_rstr(r, 6));
            if (q) {
                snprintf(q->token, sizeof q->token, "%s", token);
                rf_hash_hex(q->url, q->h);
                q->depth = (unsigned)rf_rnum(r, 3);
                q->attempt = (unsigned)rf_rnum(r, 4);
                q->leased = true;
                *it = (frontier_item){.kind = FRONTIER_PAGE,
                                      .url = q->url,
                                      .parent = q->parent,
                                      .depth = q->depth,
                                      .attempt = q->attempt,
                                      .priv = q};
                bool known;
                robots *rb = rf_rules_of(f, q->origin, rf_rstr(r, 5), &known);
                if (known && !robots_allowed(rb, urlnorm_path(q->url))) {
                    /* Disallowed: a skip, its lease released and its
                     * record kept, in one script. */
                    crawl_record rec = {.skip = SKIP_ROBOTS,
                                        .url = q->url,
                                        .parent = q->parent,
                                        .depth = q->depth,
                                        .worker = -1};
                    size_t len;
                    char *packed = record_pack(&rec, &len);
                    const char *sv[] = {q->token, q->h, packed ? packed : ""};
                    size_t sl[] = {strlen(q->token), 16, packed ? len : 0};
                    redisReply *sr = script(f, RS_SKIP, 3, sv, sl);
                    freeReplyObject(sr);
                    free(packed);
                    q->leased = false;
                    q->stored = true;
                    it->kind = FRONTIER_SKIP;
                    it->skip = SKIP_ROBOTS;
                }
            }
        }
        freeReplyObject(owner);
        if (!q) {
            rf_fail(f, "Redis", "an answer this weft does not understand, or out of memory");
            return EIO;
        }
        if (q->leased)
            rf_out_add(f, q);
        return 0;
    }
}

/* ADD: the links of page q (or the seeds, q NULL), in one script. */
static int add(rfrontier *f, ritem *q, unsigned depth_plus_1, frontier_link *links, size_t n)
{
    size_t argc = 8 + 4 * n;
    const char **argv = calloc(argc, sizeof *argv);
    char(*hx)[17] = calloc(n ? n : 1, sizeof *hx);
    char(*org)[URLNORM_MAX + 8] = calloc(n ? n : 1, sizeof *org);
    char(*pre)[4] = calloc(n ? n : 1, sizeof *pre);
    char d[32], md[32], mp[32], dl[32], ph[17] = "", call[64] = "";
    if (!argv || !hx || !org || !pre) {
        free(argv), free(hx), free(org), free(pre);
        return ENOMEM;
    }
    snprintf(d, sizeof d, "%d", (int)depth_plus_1 - 1);
    snprintf(md, sizeof md, "%u", f->o.max_depth);
    snprintf(mp, sizeof mp, "%zu", f->o.max_pages);
    snprintf(dl, sizeof dl, "%.0f", f->o.min_delay * 1000);
    if (q)
        rf_hash_hex(q->url, ph);
    argv[0] = d;
    argv[1] = q ? q->url : "";
    argv[2] = ph;
    argv[3] = md;
    argv[4] = mp;
    argv[5] = f->o.robots ? "1" : "0";
    argv[6] = dl;
    /* The call's name, so a retry after a lost answer gets that answer. */
    if (q && q->leased)
        snprintf(call, sizeof call, "%s:%u", q->token, ++q->adds);
    argv[7] = call;
    for (size_t i = 0; i < n; i++) {
        frontier_link *l = &links[i];
        crawl_skip p = l->pre;
        rf_hash_hex(l->url, hx[i]);
        org[i][0] = '\0';
        if (p == SKIP_NONE && !urlnorm_origin(l->url, org[i], sizeof org[i]))
            p = SKIP_SCHEME;
        /* Not for seeds: a disallowed seed gets its skip record when it is
         * handed out (a seed given again after Redis lost it, too). */
        if (p == SKIP_NONE && q) {
            bool known;
            robots *rb = rf_rules_of(f, org[i], NULL, &known);
            if (known && !robots_allowed(rb, urlnorm_path(l->url)))
                p = SKIP_ROBOTS;
        }
        snprintf(pre[i], sizeof pre[i], "%d", (int)p);
        argv[8 + 4 * i] = hx[i];
        argv[9 + 4 * i] = l->url;
        argv[10 + 4 * i] = org[i];
        argv[11 + 4 * i] = pre[i];
    }
    redisReply *r = script(f, RS_ADD, (int)argc, argv, NULL);
    int rc = 0;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 4 * n) {
        rc = EIO;
        for (size_t i = 0; i < n; i++)
            links[i].result = SKIP_LIMIT;
    } else {
        for (size_t i = 0; i < n; i++) {
            frontier_link *l = &links[i];
            l->result = (crawl_skip)rf_rnum(r, 4 * i);
            l->lowered = rf_rnum(r, 4 * i + 1) != 0;
            l->dup_parent = NULL;
            if (l->lowered) {
                const char *dp = rf_rstr(r, 4 * i + 2);
                l->dup_parent = dp[0] ? strdup(dp) : NULL;
                l->dup_depth = (unsigned)rf_rnum(r, 4 * i + 3);
            }
        }
    }
    freeReplyObject(r);
    free(argv), free(hx), free(org), free(pre);
    return rc;
}

static int rd_seed(frontier *base, const char *url)
{
    rfrontier *f = (rfrontier *)base;
    char origin[URLNORM_MAX + 8];
    if (!urlnorm_origin(url, origin, sizeof origin))
        return EINVAL;
    char **ns = realloc(f->seeds, (f->nseeds + 1) * sizeof *ns);
    if (!ns)
        return ENOMEM;
    f->seeds = ns;
    if (!(f->seeds[f->nseeds] = strdup(url)))
        return ENOMEM;
    f->nseeds++;
    frontier_link l = {.url = url};
    int rc = add(f, NULL, 0, &l, 1);
    if (rc != 0)
        return rc;
    free(l.dup_parent);
    return l.result == SKIP_DUPLICATE ? EEXIST : 0;
}

static int rd_add_links(frontier *base, frontier_item *it, frontier_link *links, size_t n)
{
    rfrontier *f = (rfrontier *)base;
    return add(f, it->priv, it->depth + 1, links, n);
}

static frontier_claim_result rd_claim(frontier *base, frontier_item *it, const char *url)
{
    rfrontier *f = (rfrontier *)base;
    ritem *q = it->priv;
    char origin[URLNORM_MAX + 8];
    if (!urlnorm_origin(url, origin, sizeof origin) || !q)
        return CLAIM_BAD;
    bool known;
    robots *rb = rf_rules_of(f, origin, NULL, &known);
    if (!known)
        return CLAIM_UNKNOWN_HOST;
    char h[17], key[400], err[300];
    rf_hash_hex(url, h);
    for (size_t i = 0; i < q->nclaim; i++)
        if (strcmp(q->claims[i], h) == 0)
            return CLAIM_SEEN;
    snprintf(key, sizeof key, "%ss:%.4s", f->prefix, h);
    const char *argv[] = {"HEXISTS", key, h + 4};
    redisReply *r = redis_argv(f->pool, 3, argv, NULL, err, sizeof err);
    if (!r)
        return CLAIM_BAD;
    bool seen = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    if (seen)
        return CLAIM_SEEN;
    /* Claimed in Redis with the page's end (DONE), so a page never
     * finished leaves its hops unclaimed. */
    char(*nc)[17] = realloc(q->claims, (q->nclaim + 1) * sizeof *nc);
    if (!nc)
        return CLAIM_BAD;
    q->claims = nc;
    unsigned *nd = realloc(q->claim_depth, (q->nclaim + 1) * sizeof *nd);
    if (!nd)
        return CLAIM_BAD;
    q->claim_depth = nd;
    memcpy(q->claims[q->nclaim], h, 17);
    q->claim_depth[q->nclaim++] = it->depth;
    return robots_allowed(rb, urlnorm_path(url)) ? CLAIM_OK : CLAIM_ROBOTS;
}

static bool rd_mark(frontier *base, frontier_item *it, const char *s)
{
    frontier_link l = {.url = s, .pre = SKIP_SCHEME};
    if (rd_add_links(base, it, &l, 1) != 0)
        return false;
    free(l.dup_parent);
    return l.result != SKIP_DUPLICATE;
}

/* Records are kept with the item and go to Redis with the page's end. */
static int rd_records(frontier *base, frontier_item *it, const crawl_record *recs, size_t n)
{
    (void)base;
    ritem *q = it->priv;
    if (!q || q->stored)
        return 0;
    char **nr = realloc(q->recs, (q->nrec + n) * sizeof *nr);
    if (!nr)
        return ENOMEM;
    q->recs = nr;
    size_t *nl = realloc(q->rlens, (q->nrec + n) * sizeof *nl);
    if (!nl)
        return ENOMEM;
    q->rlens = nl;
    for (size_t i = 0; i < n; i++) {
        char *p = record_pack(&recs[i], &q->rlens[q->nrec]);
        if (!p)
            return ENOMEM;
        q->recs[q->nrec++] = p;
    }
    return 0;
}

static void finish(rfrontier *f, frontier_item *it)
{
    ritem *q = it->priv;
    if (q && q->leased)
        rf_out_remove(f, q);
    rf_item_free(q);
    it->priv = NULL;
}

static void rd_page_done(frontier *base, frontier_item *it)
{
    rfrontier *f = (rfrontier *)base;
    ritem *q = it->priv;
    size_t argc = 4 + 2 * q->nclaim + q->nrec;
    const char **argv = calloc(argc, sizeof *argv);
    size_t *lens = calloc(argc, sizeof *lens);
    char(*cd)[16] = calloc(q->nclaim ? q->nclaim : 1, sizeof *cd);
    char nc[16], nadd[16];
    if (argv && lens && cd) {
        snprintf(nc, sizeof nc, "%zu", q->nclaim);
        snprintf(nadd, sizeof nadd, "%u", q->adds); /* DONE checks they are all in */
        argv[0] = q->token;
        argv[1] = q->h;
        argv[2] = nc;
        argv[3] = nadd;
        for (size_t i = 0; i < q->nclaim; i++) {
            snprintf(cd[i], sizeof cd[i], "%u", q->claim_depth[i]);
            argv[4 + 2 * i] = q->claims[i];
            argv[5 + 2 * i] = cd[i];
        }
        for (size_t i = 0; i < argc; i++)
            lens[i] = argv[i] ? strlen(argv[i]) : 0;
        for (size_t i = 0; i < q->nrec; i++) {
            argv[4 + 2 * q->nclaim + i] = q->recs[i];
            lens[4 + 2 * q->nclaim + i] = q->rlens[i];
        }
        if (rf_stopped(f) || has_stash(f)) {
            redisReply *r = script(f, RS_DONE, (int)argc, argv, lens);
            freeReplyObject(r);
        } else {
            /* The page's end and this worker's next item in one round trip. */
            char ph[16], mp[32], lease[32], token[48];
            snprintf(ph, sizeof ph, "%u", f->o.per_host);
            snprintf(mp, sizeof mp, "%zu", f->o.max_pages);
            snprintf(lease, sizeof lease, "%.0f", f->lease * 1000);
            rf_new_token(f, token, sizeof token);
            const char **av = calloc(argc + 5, sizeof *av);
            size_t *al = calloc(argc + 5, sizeof *al);
            if (av && al) {
                const char *na[] = {ph, mp, lease, token, f->o.robots ? "1" : "0"};
                for (int i = 0; i < 5; i++) {
                    av[i] = na[i];
                    al[i] = strlen(na[i]);
                }
                memcpy(av + 5, argv, argc * sizeof *av);
                memcpy(al + 5, lens, argc * sizeof *al);
                redisReply *r = script(f, RS_DONE_NEXT, (int)argc + 5, av, al);
                const char *kind = r && r->type == REDIS_REPLY_ARRAY ? rf_rstr(r, 1) : "";
                if (strcmp(kind, "page") == 0 || strcmp(kind, "robots") == 0 ||
                    strcmp(kind, "skip") == 0 || strcmp(kind, "done") == 0)
                    stash(f, r, token);
                else
                    freeReplyObject(r);
            } else {
                rf_fail(f, "Redis", "out of memory");
            }
            free(av);
            free(al);
        }
    } else {
        rf_fail(f, "Redis", "out of memory");
    }
    free(argv), free(lens), free(cd);
    finish(f, it);
}

static void requeue(rfrontier *f, frontier_item *it, unsigned attempt, double pause)
{
    ritem *q = it->priv;
    char att[16], ps[32];
    snprintf(att, sizeof att, "%u", attempt);
    snprintf(ps, sizeof ps, "%.0f", pause * 1000);
    const char *argv[] = {q->token, q->h, att, ps};
    redisReply *r = script(f, RS_REQUEUE, 4, argv, NULL);
    freeReplyObject(r);
    finish(f, it);
}

static void rd_retry(frontier *base, frontier_item *it, double delay)
{
    requeue((rfrontier *)base, it, it->attempt + 1, delay);
}

static void rd_giveback(frontier *base, frontier_item *it)
{
    requeue((rfrontier *)base, it, it->attempt, 0);
}

static void rd_skip_done(frontier *base, frontier_item *it)
{
    rfrontier *f = (rfrontier *)base;
    ritem *q = it->priv;
    if (q && !q->stored && q->nrec) {
        /* A skip whose record is not in Redis yet (none today). */
        const char *argv[] = {"RPUSH", NULL, q->recs[0]};
        char key[400], err[300];
        snprintf(key, sizeof key, "%srec", f->prefix);
        argv[1] = key;
        size_t lens[] = {5, strlen(key), q->rlens[0]};
        freeReplyObject(redis_argv(f->pool, 3, argv, lens, err, sizeof err));
    }
    finish(f, it);
}

static void rd_robots_done(frontier *base, frontier_item *it, robots *rb, long status,
                           const char *body, size_t len)
{
    rfrontier *f = (rfrontier *)base;
    ritem *q = it->priv;
    char st[32], dl[32];
    snprintf(st, sizeof st, "%ld", status);
    snprintf(dl, sizeof dl, "%.0f", robots_crawl_delay(rb) * 1000);
    const char *argv[] = {q->token, q->h, st, body ? body : "", dl};
    size_t lens[] = {strlen(q->token), strlen(q->h), strlen(st), body ? len : 0, strlen(dl)};
    redisReply *r = script(f, RS_ROBOTS, 5, argv, lens);
    freeReplyObject(r);
    /* This process's copy of the rules. */
    rules *ru = calloc(1, sizeof *ru);
    if (ru && (ru->origin = strdup(q->origin ? q->origin : q->url))) {
        ru->rb = rb;
        rf_lock(f);
        ru->next = f->rules;
        f->rules = ru;
        rf_unlock(f);
    } else {
        free(ru);
        robots_free(rb);
    }
    finish(f, it);
}

static void rd_stats(frontier *base, frontier_stats *out)
{
    rfrontier *f = (rfrontier *)base;
    memset(out, 0, sizeof *out);
    char key[400], err[300];
    snprintf(key, sizeof key, "%sc", f->prefix);
    const char *argv[] = {"HGETALL", key};
    redisReply *r = redis_argv(f->pool, 2, argv, NULL, err, sizeof err);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return;
    }
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const char *k = rf_rstr(r, i);
        long long v = rf_rnum(r, i + 1);
        if (k[0] == 'q' && k[1] >= '0' && k[1] <= '9')
            out->queued += (size_t)(v > 0 ? v : 0);
        else if (strcmp(k, "st") == 0)
            out->fetched = (size_t)v;
        else if (strcmp(k, "cur") == 0)
            out->level = (unsigned)v;
        else if (strcmp(k, "hseq") == 0)
            out->hosts = (size_t)v;
        else if (strcmp(k, "ns") == 0)
            out->seen = (size_t)v;
    }
    freeReplyObject(r);
}

static const char *rd_error(frontier *base)
{
    rfrontier *f = (rfrontier *)base;
    return f->failed ? f->err : NULL;
}

/* The lease renewer: every lease/4, this process's leases are extended. */
static int renewer(void *arg, void **result)
{
    (void)result;
    rfrontier *f = arg;
    char lease[32];
    snprintf(lease, sizeof lease, "%.0f", f->lease * 1000);
    while (weft_event_wait(f->quit, f->lease / 4) == ETIMEDOUT) {
        rf_lock(f);
        size_t n = 0;
        for (ritem *q = f->out; q; q = q->next)
            n++;
        const char **argv = calloc(n + 1, sizeof *argv);
        char(*toks)[48] = calloc(n ? n : 1, sizeof *toks);
        size_t k = 0;
        if (argv && toks)
            for (ritem *q = f->out; q; q = q->next, k++)
                memcpy(toks[k], q->token, sizeof toks[k]);
        rf_unlock(f);
        if (argv && toks && n) {
            argv[0] = lease;
            for (size_t i = 0; i < n; i++)
                argv[1 + i] = toks[i];
            redisReply *r = script(f, RS_RENEW, (int)n + 1, argv, NULL);
            freeReplyObject(r);
        }
        free(argv);
        free(toks);
    }
    return 0;
}

static void rd_free(frontier *base)
{
    rfrontier *f = (rfrontier *)base;
    if (f->quit)
        weft_event_set(f->quit);
    if (f->renewer) {
        weft_thread_join(f->renewer, WEFT_FOREVER);
        weft_thread_free(f->renewer);
    }
    for (size_t i = 0; i < STASH_MAX; i++)
        if (f->stash[i].r) {
            /* Handed to a worker that never came back: give its page back. */
            redisReply *r = f->stash[i].r;
            if (r->elements > 8 && strcmp(rf_rstr(r, 1), "page") == 0) {
                char h[17];
                rf_hash_hex(rf_rstr(r, 2), h);
                const char *argv[] = {f->stash[i].token, h, rf_rstr(r, 5), "0"};
                freeReplyObject(script(f, RS_REQUEUE, 4, argv, NULL));
            }
            freeReplyObject(r);
        }
    while (f->out) {
        ritem *q = f->out;
        f->out = q->next;
        rf_item_free(q);
    }
    for (rules *r = f->rules; r;) {
        rules *n = r->next;
        robots_free(r->rb);
        free(r->origin);
        free(r);
        r = n;
    }
    for (size_t i = 0; i < f->nseeds; i++)
        free(f->seeds[i]);
    free(f->seeds);
    weft_event_free(f->quit);
    weft_lock_free(f->lock);
    free(f);
}

static const frontier_ops rd_ops = {
    .free = rd_free,
    .seed = rd_seed,
    .next = rd_next,
    .add_links = rd_add_links,
    .claim = rd_claim,
    .mark = rd_mark,
    .records = rd_records,
    .page_done = rd_page_done,
    .retry = rd_retry,
    .giveback = rd_giveback,
    .skip_done = rd_skip_done,
    .robots_done = rd_robots_done,
    .stats = rd_stats,
    .error = rd_error,
};

int frontier_new_redis(frontier **out, const frontier_opts *o, redis_pool *pool, const char *prefix,
                       const char *product, double lease)
{
    rfrontier *f = calloc(1, sizeof *f);
    if (!f)
        return ENOMEM;
    f->base.ops = &rd_ops;
    f->o = *o;
    f->pool = pool;
    f->lease = lease > 0 ? lease : 10;
    snprintf(f->prefix, sizeof f->prefix, "%s", prefix);
    snprintf(f->product, sizeof f->product, "%s", product ? product : "weft");
    /* Tokens unique across processes and machines: time, pid, a counter. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(f->token_base, sizeof f->token_base, "%lx%lx%x", (unsigned long)ts.tv_sec,
             (unsigned long)ts.tv_nsec, (unsigned)getpid());
    int rc;
    if ((rc = weft_lock_new(&f->lock)) != 0 || (rc = weft_event_new(&f->quit)) != 0) {
        rd_free(&f->base);
        return rc;
    }
    weft_thread_opts to = {.name = "lease-renewer", .daemon = WEFT_DAEMON_YES};
    if ((rc = weft_thread_start(&f->renewer, renewer, f, &to)) != 0) {
        f->renewer = NULL;
        rd_free(&f->base);
        return rc;
    }
    *out = &f->base;
    return 0;
}
