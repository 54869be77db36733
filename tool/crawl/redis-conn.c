/* redis-conn.c: Redis addresses, the connection pool, scripts by SHA, and
 * reconnects with backoff. See redis-conn.h. */
#include "crawl/redis-conn.h"
#include "crawl/frontier-redis-lua.h"

#include <weft.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static const char *const scripts[RS_N] = {
    [RS_INIT] = REDIS_LUA_INIT,
    [RS_NEXT] = REDIS_LUA_NEXT,
    [RS_ADD] = REDIS_LUA_ADD,
    [RS_DONE] = REDIS_LUA_DONE,
    [RS_DONE_NEXT] = REDIS_LUA_DONE_NEXT,
    [RS_REQUEUE] = REDIS_LUA_REQUEUE,
    [RS_SKIP] = REDIS_LUA_SKIP,
    [RS_ROBOTS] = REDIS_LUA_ROBOTS,
    [RS_RENEW] = REDIS_LUA_RENEW,
};

#define POOL_MAX 64

struct redis_pool {
    redis_addr a;
    double timeout;
    atomic_bool *stop;
    weft_lock *lock;
    redisContext *free[POOL_MAX];
    size_t nfree;
    char sha[RS_N][41];
    atomic_ullong trips;
    double away_since; /* under lock: when Redis was first found away, 0: it is not */
};

bool redis_is_url(const char *s)
{
    return strncmp(s, "redis://", 8) == 0 || strncmp(s, "unix://", 7) == 0;
}

static int bad(char *err, size_t errlen, const char *why)
{
    snprintf(err, errlen, "%s", why);
    return EINVAL;
}

int redis_parse_url(const char *s, redis_addr *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    a->port = 6379;
    if (strncmp(s, "unix://", 7) == 0) {
        const char *p = s + 7;
        if (*p != '/')
            return bad(err, errlen,
                       "unix:// wants an absolute socket path (unix:///path/to/redis.sock)");
        const char *q = strchr(p, '?');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        if (n >= sizeof a->path)
            return bad(err, errlen, "the socket path is too long");
        memcpy(a->path, p, n);
        if (q) {
            char *end;
            if (strncmp(q, "?db=", 4) != 0)
                return bad(err, errlen, "unix:// takes only ?db=N after the path");
            long db = strtol(q + 4, &end, 10);
            if (end == q + 4 || *end || db < 0 || db > 1000000)
                return bad(err, errlen, "?db= wants a database number");
            a->db = (int)db;
        }
        return 0;
    }
    if (strncmp(s, "redis://", 8) != 0)
        return bad(err, errlen, "not a redis:// or unix:// address");
    const char *p = s + 8;
    const char *at = strrchr(p, '@');
    const char *slash = strchr(p, '/');
    if (at && (!slash || at < slash)) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *pw = colon ? colon + 1 : p;
        size_t n = (size_t)(at - pw);
        if (n >= sizeof a->password)
            return bad(err, errlen, "the password is too long");
        memcpy(a->password, pw, n);
        if (colon && colon > p) {
            if ((size_t)(colon - p) >= sizeof a->user)
                return bad(err, errlen, "the user name is too long");
            memcpy(a->user, p, (size_t)(colon - p));
        }
        p = at + 1;
        slash = strchr(p, '/');
    }
    const char *end = slash ? slash : p + strlen(p);
    const char *hs = p, *he;
    const char *port = NULL;
    if (*p == '[') {
        he = memchr(p, ']', (size_t)(end - p));
        if (!he)
            return bad(err, errlen, "an IPv6 host wants its closing ']'");
        hs = p + 1;
        if (he + 1 < end) {
            if (he[1] != ':')
                return bad(err, errlen, "junk after the IPv6 host");
            port = he + 2;
        }
    } else {
        const char *c = memchr(p, ':', (size_t)(end - p));
        he = c ? c : end;
        if (c)
            port = c + 1;
    }
    if (he == hs)
        return bad(err, errlen, "no host");
    if ((size_t)(he - hs) >= sizeof a->host)
        return bad(err, errlen, "the host is too long");
    memcpy(a->host, hs, (size_t)(he - hs));
    if (port) {
        char *pe;
        long v = strtol(port, &pe, 10);
        if (pe == port || pe != end || v < 1 || v > 65535)
            return bad(err, errlen, "the port wants a number from 1 to 65535");
        a->port = (int)v;
    }
    if (slash && slash[1]) {
        char *de;
        long db = strtol(slash + 1, &de, 10);
        if (de == slash + 1 || *de || db < 0 || db > 1000000)
            return bad(err, errlen, "the path wants a database number (redis://HOST/DB)");
        a->db = (int)db;
    }
    return 0;
}

void redis_addr_name(const redis_addr *a, char *buf, size_t n)
{
    if (a->path[0])
        snprintf(buf, n, "unix://%s%s", a->path, a->db ? "?db=..." : "");
    else
        snprintf(buf, n, "redis://%s%s%s:%d/%d", strchr(a->host, ':') ? "[" : "", a->host,
                 strchr(a->host, ':') ? "]" : "", a->port, a->db);
}

/* ------------------------------------------------------------- the pool */

/* A new connection, authenticated, on its DB. NULL with err filled. */
static redisContext *dial(redis_pool *p, int *code, char *err, size_t errlen)
{
    struct timeval tv = {.tv_sec = 5};
    redisContext *c = p->a.path[0] ? redisConnectUnixWithTimeout(p->a.path, tv)
                                   : redisConnectWithTimeout(p->a.host, p->a.port, tv);
    *code = ECONNREFUSED;
    if (!c || c->err) {
        snprintf(err, errlen, "%s", c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, (struct timeval){.tv_sec = 30});
    redisReply *r;
    if (p->a.password[0]) {
        r = p->a.user[0] ? redisCommand(c, "AUTH %s %s", p->a.user, p->a.password)
                         : redisCommand(c, "AUTH %s", p->a.password);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            snprintf(err, errlen, "the password was refused: %s", r ? r->str : c->errstr);
            *code = EACCES;
            freeReplyObject(r);
            redisFree(c);
            return NULL;
        }
        freeReplyObject(r);
    }
    if (p->a.db) {
        r = redisCommand(c, "SELECT %d", p->a.db);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            snprintf(err, errlen, "database %d: %s", p->a.db, r ? r->str : c->errstr);
            *code = r && strstr(r->str, "NOAUTH") ? EACCES : EINVAL;
            freeReplyObject(r);
            redisFree(c);
            return NULL;
        }
        freeReplyObject(r);
    }
    return c;
}

static redisContext *take(redis_pool *p, int *code, char *err, size_t errlen)
{
    weft_lock_acquire(p->lock, WEFT_FOREVER);
    redisContext *c = p->nfree ? p->free[--p->nfree] : NULL;
    weft_lock_release(p->lock);
    return c ? c : dial(p, code, err, errlen);
}

static void give(redis_pool *p, redisContext *c)
{
    weft_lock_acquire(p->lock, WEFT_FOREVER);
    if (p->nfree < POOL_MAX) {
        p->free[p->nfree++] = c;
        c = NULL;
    }
    weft_lock_release(p->lock);
    redisFree(c);
}

/* Errors that say Redis is there but cannot answer yet: LOADING (reading
 * its AOF or RDB after a restart), BUSY (a script past its time limit),
 * TRYAGAIN and MASTERDOWN. */
static bool transient(const char *e)
{
    static const char *const codes[] = {"LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN"};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        size_t n = strlen(codes[i]);
        if (strncmp(e, codes[i], n) == 0 && (e[n] == ' ' || e[n] == '\0'))
            return true;
    }
    return false;
}

static redisReply *call(redis_pool *p, int script, const char *prefix, int argc, const char **argv,
                        const size_t *lens, char *err, size_t errlen);

/* Loads every script, on c (after NOSCRIPT on it), or with c NULL through
 * call(), whose retries wait out a Redis that is not ready yet (LOADING
 * after a restart, BUSY) or drops the connection, within the timeout. The
 * SHAs are the same each time (they are the scripts' SHA1s), but threads
 * that met NOSCRIPT together load at once: the table is written under the
 * lock. Returns 0 or EIO. */
static int load_scripts(redis_pool *p, redisContext *c, char *err, size_t errlen)
{
    char sha[RS_N][41];
    for (int i = 0; i < RS_N; i++) {
        const char *argv[] = {"SCRIPT", "LOAD", scripts[i]};
        redisReply *r =
            c ? redisCommandArgv(c, 3, argv, NULL) : call(p, -1, NULL, 3, argv, NULL, err, errlen);
        if (!r || r->type != REDIS_REPLY_STRING || r->len != 40) {
            char why[256];
            snprintf(why, sizeof why, "%s",
                     r && r->type == REDIS_REPLY_ERROR ? r->str
                     : c                               ? c->errstr
                                                       : err);
            snprintf(err, errlen, "cannot load the crawl's scripts: %s", why);
            freeReplyObject(r);
            return EIO;
        }
        memcpy(sha[i], r->str, 40);
        sha[i][40] = '\0';
        freeReplyObject(r);
    }
    weft_lock_acquire(p->lock, WEFT_FOREVER);
    memcpy(p->sha, sha, sizeof sha);
    weft_lock_release(p->lock);
    return 0;
}

static void sha_of(redis_pool *p, int which, char out[41])
{
    weft_lock_acquire(p->lock, WEFT_FOREVER);
    memcpy(out, p->sha[which], 41);
    weft_lock_release(p->lock);
}

int redis_pool_new(redis_pool **out, const redis_addr *a, double timeout, atomic_bool *stop,
                   char *err, size_t errlen)
{
    redis_pool *p = calloc(1, sizeof *p);
    if (!p)
        return ENOMEM;
    p->a = *a;
    p->timeout = timeout;
    p->stop = stop;
    if (weft_lock_new(&p->lock) != 0) {
        free(p);
        return ENOMEM;
    }
    int code = 0;
    redisContext *c = dial(p, &code, err, errlen);
    if (!c) {
        redis_pool_free(p);
        return code;
    }
    /* The scripts use TIME and write after it: Redis 5 or later. */
    redisReply *r = redisCommand(c, "INFO server");
    if (r && r->type == REDIS_REPLY_ERROR && strstr(r->str, "NOAUTH")) {
        snprintf(err, errlen, "it wants a password (redis://:PASSWORD@HOST)");
        freeReplyObject(r);
        redisFree(c);
        redis_pool_free(p);
        return EACCES;
    }
    const char *v = r && r->type == REDIS_REPLY_STRING ? strstr(r->str, "redis_version:") : NULL;
    int major = v ? atoi(v + 14) : 0;
    freeReplyObject(r);
    if (major < 5) {
        snprintf(err, errlen, "Redis %d is too old: the crawl's scripts need Redis 5 or later",
                 major);
        redisFree(c);
        redis_pool_free(p);
        return EINVAL;
    }
    /* Through call(): a Redis that answers but cannot serve yet (LOADING
     * its data after a restart) is waited for, as one that goes away
     * later, so a crawl or a --dump started right after Redis came back
     * does not fail for that. */
    give(p, c);
    int rc = load_scripts(p, NULL, err, errlen);
    if (rc != 0) {
        redis_pool_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void redis_pool_free(redis_pool *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nfree; i++)
        redisFree(p->free[i]);
    weft_lock_free(p->lock);
    free(p);
}

unsigned long long redis_round_trips(redis_pool *p)
{
    return atomic_load(&p->trips);
}

/* One command with retries: `build` fills argv for the attempt. */
static redisReply *call(redis_pool *p, int script, const char *prefix, int argc, const char **argv,
                        const size_t *lens, char *err, size_t errlen)
{
    double first_fail = -1, backoff = 0.05;
    for (;;) {
        int code;
        redisContext *c = take(p, &code, err, errlen);
        redisReply *r = NULL;
        if (c) {
            if (script >= 0) {
                /* EVALSHA sha 1 prefix argv... */
                char sha[41];
                sha_of(p, script, sha);
                const char **vv = malloc((size_t)(argc + 4) * sizeof *vv);
                size_t *ll = malloc((size_t)(argc + 4) * sizeof *ll);
                if (!vv || !ll) {
                    free(vv), free(ll);
                    give(p, c);
                    snprintf(err, errlen, "out of memory");
                    return NULL;
                }
                vv[0] = "EVALSHA", ll[0] = 7;
                vv[1] = sha, ll[1] = 40;
                vv[2] = "1", ll[2] = 1;
                vv[3] = prefix, ll[3] = strlen(prefix);
                for (int i = 0; i < argc; i++) {
                    vv[4 + i] = argv[i];
                    ll[4 + i] = lens ? lens[i] : strlen(argv[i]);
                }
                atomic_fetch_add(&p->trips, 1);
                r = redisCommandArgv(c, argc + 4, vv, ll);
                if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
                    /* Redis restarted (or SCRIPT FLUSH): load them again. */
                    freeReplyObject(r);
                    r = NULL;
                    if (load_scripts(p, c, err, errlen) == 0) {
                        sha_of(p, script, sha);
                        atomic_fetch_add(&p->trips, 1);
                        r = redisCommandArgv(c, argc + 4, vv, ll);
                    }
                }
                free(vv), free(ll);
            } else {
                atomic_fetch_add(&p->trips, 1);
                r = redisCommandArgv(c, argc, argv, lens);
            }
            if (r && !c->err && r->type == REDIS_REPLY_ERROR && transient(r->str)) {
                /* Up but not ready (loading its data after a restart, or
                 * busy): as if away, within the same timeout. */
                snprintf(err, errlen, "%s", r->str);
                freeReplyObject(r);
                give(p, c);
                c = NULL;
                r = NULL;
            } else if (r && !c->err) {
                weft_lock_acquire(p->lock, WEFT_FOREVER);
                p->away_since = 0;
                weft_lock_release(p->lock);
                give(p, c);
                if (r->type == REDIS_REPLY_ERROR) {
                    snprintf(err, errlen, "%s", r->str);
                    freeReplyObject(r);
                    return NULL;
                }
                return r;
            }
            if (c) {
                snprintf(err, errlen, "%s", c->errstr[0] ? c->errstr : "connection lost");
                freeReplyObject(r);
                redisFree(c);
            }
        }
        /* Redis is away: wait and try again, for at most timeout since it
         * was first found away (by any caller). */
        double now = weft_monotonic();
        weft_lock_acquire(p->lock, WEFT_FOREVER);
        if (p->away_since == 0)
            p->away_since = now;
        first_fail = p->away_since;
        weft_lock_release(p->lock);
        if (now - first_fail >= p->timeout || (p->stop && atomic_load(p->stop))) {
            size_t used = strlen(err);
            snprintf(err + used, errlen - used, " (gave up after %.0f s)", now - first_fail);
            return NULL;
        }
        weft_sleep(backoff);
        backoff = backoff * 2 > 2 ? 2 : backoff * 2;
    }
}

redisReply *redis_script(redis_pool *p, int which, const char *prefix, int argc, const char **argv,
                         const size_t *lens, char *err, size_t errlen)
{
    return call(p, which, prefix, argc, argv, lens, err, errlen);
}

redisReply *redis_argv(redis_pool *p, int argc, const char **argv, const size_t *lens, char *err,
                       size_t errlen)
{
    return call(p, -1, NULL, argc, argv, lens, err, errlen);
}
