/* frontier-redis.h: the Redis backend of the frontier (`weft crawl --state
 * redis://...`): one crawl shared by many processes on many machines. See
 * frontier-redis.c for the design and the key layout. */
#ifndef WEFT_TOOL_FRONTIER_REDIS_H
#define WEFT_TOOL_FRONTIER_REDIS_H

#include "crawl/crawl.h"
#include "crawl/records-pack.h"
#include "crawl/redis-conn.h"

/* The frontier of the crawl under key prefix `prefix` on pool (which must
 * outlive it; the crawl's meta must exist: crawl_redis_join). product: the
 * robots.txt token. lease: seconds a handed-out URL stays this process's
 * without a renewal (renewed every lease/4 while it is out). Returns 0 or
 * ENOMEM. */
int frontier_new_redis(frontier **out, const frontier_opts *o, redis_pool *pool, const char *prefix,
                       const char *product, double lease);

#endif
