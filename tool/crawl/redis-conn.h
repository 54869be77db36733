/* redis-conn.h: what the Redis frontier needs from Redis: parsing
 * redis:// and unix:// addresses, a small pool of connections (one per
 * caller at a time, so no lock is held across a round trip), scripts by
 * SHA with a reload after NOSCRIPT, and reconnecting with backoff for a
 * bounded time when Redis goes away.
 *
 * DESIGN: hiredis's synchronous API, one redisContext per pooled
 * connection. A call takes a connection from the pool (or makes one),
 * runs one command, and gives it back; a connection that failed is
 * dropped, and the call is retried on a fresh one with backoff until
 * redis_timeout has passed since the first failure. */
#ifndef WEFT_TOOL_REDIS_CONN_H
#define WEFT_TOOL_REDIS_CONN_H

#include <hiredis/hiredis.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct redis_addr {
    char host[256]; /* "" for a unix socket */
    int port;
    char path[512]; /* the unix socket */
    char user[128]; /* "" unless redis://USER:PASSWORD@ (Redis 6 ACL users) */
    char password[256];
    int db;
} redis_addr;

/* True when s names a Redis address (redis:// or unix://). */
bool redis_is_url(const char *s);

/* Parses redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] or unix:///PATH[?db=N].
 * Returns 0, or EINVAL with a sentence in err. */
int redis_parse_url(const char *s, redis_addr *out, char *err, size_t errlen);

/* The address for messages: "redis://HOST:PORT/DB" or "unix:///PATH",
 * never the password. */
void redis_addr_name(const redis_addr *a, char *buf, size_t n);

typedef struct redis_pool redis_pool;

enum {
    RS_INIT,
    RS_NEXT,
    RS_ADD,
    RS_DONE,
    RS_DONE_NEXT,
    RS_REQUEUE,
    RS_SKIP,
    RS_ROBOTS,
    RS_RENEW,
    RS_N
};

/* Connects once (to report a bad address, password, DB or an old Redis at
 * once) and loads the scripts. Returns 0, or an errno with a sentence in
 * err (ECONNREFUSED and the like: unreachable; EACCES: refused the
 * password; EINVAL: no such DB, or Redis older than 5; EIO: the scripts
 * could not be loaded). Once connected, a Redis that cannot serve yet
 * (LOADING its data, BUSY) or drops the connection while the scripts load
 * is waited for, blocking up to timeout. timeout: seconds
 * to keep retrying when Redis is not ready or goes away later; stop (may
 * be NULL) ends a retry early. */
int redis_pool_new(redis_pool **out, const redis_addr *a, double timeout, atomic_bool *stop,
                   char *err, size_t errlen);
void redis_pool_free(redis_pool *p);

/* Runs script `which` with KEYS[1] = prefix and argv (argc strings, lens
 * given), retrying across reconnects. Returns the reply (freeReplyObject
 * it), or NULL with the reason in err when Redis stayed away past the
 * timeout or answered with an error. Counts one round trip. */
redisReply *redis_script(redis_pool *p, int which, const char *prefix, int argc, const char **argv,
                         const size_t *lens, char *err, size_t errlen);

/* Runs one plain command (redisCommandArgv), with the same retries. */
redisReply *redis_argv(redis_pool *p, int argc, const char **argv, const size_t *lens, char *err,
                       size_t errlen);

/* Round trips made so far (for the benchmark). */
unsigned long long redis_round_trips(redis_pool *p);

#endif
