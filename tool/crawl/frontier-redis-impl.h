/* frontier-redis-impl.h: what the two halves of the Redis frontier share:
 * frontier-redis.c (records, items, robots rules, helpers) and
 * frontier-redis-ops.c (the verbs). See frontier-redis.c. */
#ifndef WEFT_TOOL_FRONTIER_REDIS_IMPL_H
#define WEFT_TOOL_FRONTIER_REDIS_IMPL_H

#include "crawl/frontier-impl.h"
#include "crawl/frontier-redis.h"
#include "crawl/redis-conn.h"

#include <weft.h>

#include <pthread.h>

typedef struct ritem {
    struct ritem *next, *prev; /* this process's items out (lease renewal) */
    char token[48];
    char h[17];
    char *url, *parent, *origin;
    unsigned depth, attempt;
    bool leased;   /* holds a lease (a page or a robots.txt) */
    bool stored;   /* its record is in Redis already */
    unsigned adds; /* ADD calls made for it (each call's number, for retries) */
    char **recs;
    size_t *rlens, nrec;
    char (*claims)[17];
    unsigned *claim_depth;
    size_t nclaim;
} ritem;

typedef struct rules {
    struct rules *next;
    char *origin;
    robots *rb;
} rules;

#define STASH_MAX 256

typedef struct rfrontier {
    frontier base;
    frontier_opts o;
    redis_pool *pool;
    char prefix[300];
    char product[64];
    double lease;
    weft_lock *lock; /* out, rules, err, tokens */
    ritem *out;
    rules *rules;
    unsigned long long tokens;
    char token_base[24];
    char **seeds; /* this process's seeds, to give again if Redis lost them */
    size_t nseeds;
    bool failed;
    char err[400];
    weft_event *quit;
    weft_thread *renewer;
    struct {
        redisReply *r; /* a DONE_NEXT answer for thread tid */
        pthread_t tid;
        char token[48];
    } stash[STASH_MAX];
} rfrontier;

void rf_lock(rfrontier *f);
void rf_unlock(rfrontier *f);
/* The crawl cannot go on (Redis stayed away): keep the first reason. */
void rf_fail(rfrontier *f, const char *what, const char *why);
void rf_hash_hex(const char *s, char out[17]);
void rf_item_free(ritem *q);
void rf_out_add(rfrontier *f, ritem *q);
void rf_out_remove(rfrontier *f, ritem *q);
/* origin's robots.txt rules (cached; read from Redis once when host_id is
 * given). *known: the host's robots.txt is in. */
robots *rf_rules_of(rfrontier *f, const char *origin, const char *host_id, bool *known);
void rf_new_token(rfrontier *f, char *out, size_t n);
const char *rf_rstr(const redisReply *r, size_t i);
long long rf_rnum(const redisReply *r, size_t i);
bool rf_stopped(rfrontier *f);

#endif
