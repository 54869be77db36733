/* bench-frontier.c: the crawl frontier's backends alone, as a crawl that
 * has queued N URLs sees them: pages of 1,000 links each are handed to the
 * frontier until N URLs wait in its queue, then the process's peak RSS and
 * the time per link are printed as one JSON line. One backend per process,
 * so each RSS is its own (bench/bench-state.sh runs both).
 *
 *   bench-frontier memory|sqlite N [FILE]
 *   bench-frontier redis-seen SOCKET N   (see redis_seen)
 *
 * sqlite writes FILE (default /tmp/weft-bench-frontier.db, removed after). */
#include "crawl/frontier-redis.h"
#include "crawl/frontier.h"
#include "crawl/state.h"

#include <weft.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PER_PAGE 1000

static long status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t kl = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0)
            v = strtol(line + kl, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

/* bench-frontier redis-seen SOCKET N: N URLs queued in a Redis frontier
 * (a redis-server of the caller's on unix socket SOCKET, flushed first),
 * then the memory of the seen set's keys (MEMORY USAGE of every s:* key)
 * per URL. */
static int redis_seen(const char *sock, size_t n)
{
    redis_addr a = {0};
    snprintf(a.path, sizeof a.path, "%s", sock);
    redis_pool *pool;
    char err[512];
    if (redis_pool_new(&pool, &a, 10, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "bench-frontier: %s\n", err);
        return 1;
    }
    const char *flush[] = {"FLUSHALL"};
    freeReplyObject(redis_argv(pool, 1, flush, NULL, err, sizeof err));
    freeReplyObject(redis_script(pool, RS_INIT, "weft:bench:", 0, NULL, NULL, err, sizeof err));
    frontier_opts o = {.max_depth = 10};
    frontier *f;
    if (frontier_new_redis(&f, &o, pool, "weft:bench:", "weft", 30) != 0 ||
        frontier_seed(f, "http://bench.invalid/") != 0)
        return 1;
    frontier_item it;
    if (frontier_next(f, &it) != 0)
        return 1;
    frontier_link *links = calloc(PER_PAGE, sizeof *links);
    char(*urls)[64] = calloc(PER_PAGE, sizeof *urls);
    if (!links || !urls)
        return 1;
    double t0 = weft_monotonic();
    size_t next = 0;
    unsigned long long trips0 = redis_round_trips(pool);
    while (next < n) {
        for (size_t i = 0; i < PER_PAGE; i++) {
            snprintf(urls[i], sizeof urls[i], "http://bench.invalid/docs/page/%zu.html", next++);
            links[i] = (frontier_link){.url = urls[i]};
        }
        if (frontier_add_links(f, &it, links, PER_PAGE) != 0)
            return 1;
    }
    double dt = weft_monotonic() - t0;
    unsigned long long trips = redis_round_trips(pool) - trips0;
    /* The seen set's keys only (the queue's lists hold the URLs themselves). */
    unsigned long long bytes = 0, keys = 0;
    char cursor[32] = "0";
    do {
        const char *scan[] = {"SCAN", cursor, "MATCH", "weft:bench:s:*", "COUNT", "1000"};
        redisReply *r = redis_argv(pool, 6, scan, NULL, err, sizeof err);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2)
            return 1;
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++) {
            const char *mu[] = {"MEMORY", "USAGE", r->element[1]->element[i]->str};
            redisReply *m = redis_argv(pool, 3, mu, NULL, err, sizeof err);
            if (m && m->type == REDIS_REPLY_INTEGER)
                bytes += (unsigned long long)m->integer;
            freeReplyObject(m);
            keys++;
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    printf("{\"backend\": \"redis\", \"urls\": %zu, \"seen_keys\": %llu, \"seen_bytes\": %llu, "
           "\"bytes_per_url\": %.1f, \"round_trips\": %llu, \"ns_per_link\": %.0f}\n",
           next, keys, bytes, (double)bytes / (double)next, trips, 1e9 * dt / (double)next);
    frontier_giveback(f, &it);
    frontier_free(f);
    freeReplyObject(redis_argv(pool, 1, flush, NULL, err, sizeof err));
    redis_pool_free(pool);
    free(links);
    free(urls);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "redis-seen") == 0)
        return redis_seen(argv[2], strtoull(argv[3], NULL, 10));
    if (argc < 3 || (strcmp(argv[1], "memory") != 0 && strcmp(argv[1], "sqlite") != 0)) {
        fprintf(stderr, "usage: bench-frontier memory|sqlite N [FILE]\n");
        return 2;
    }
    bool sql = strcmp(argv[1], "sqlite") == 0;
    size_t n = strtoull(argv[2], NULL, 10);
    const char *path = argc > 3 ? argv[3] : "/tmp/weft-bench-frontier.db";
    frontier_opts o = {.max_depth = 10};
    frontier *f = NULL;
    crawl_state *st = NULL;
    long base_kb = status_kb("VmRSS:");
    if (sql) {
        char side[4096];
        unlink(path);
        snprintf(side, sizeof side, "%s-wal", path);
        unlink(side);
        state_info info;
        char err[512];
        if (crawl_state_open(&st, path, NULL, 0, true, &info, err, sizeof err) != 0) {
            fprintf(stderr, "bench-frontier: %s: %s\n", path, err);
            return 1;
        }
        if (frontier_new_sqlite(&f, &o, st, "weft") != 0)
            return 1;
    } else if (frontier_new(&f, &o) != 0) {
        return 1;
    }
    if (frontier_seed(f, "http://bench.invalid/") != 0)
        return 1;
    frontier_link *links = calloc(PER_PAGE, sizeof *links);
    char(*urls)[64] = calloc(PER_PAGE, sizeof *urls);
    if (!links || !urls)
        return 1;
    double t0 = weft_monotonic();
    size_t queued = 0, next = 0;
    /* Each page handed out adds PER_PAGE new URLs: the queue grows by
     * PER_PAGE - 1 per page. */
    while (queued < n) {
        frontier_item it;
        if (frontier_next(f, &it) != 0 || it.kind != FRONTIER_PAGE)
            return 1;
        for (size_t i = 0; i < PER_PAGE; i++) {
            snprintf(urls[i], sizeof urls[i], "http://bench.invalid/docs/page/%zu.html", next++);
            links[i] = (frontier_link){.url = urls[i]};
        }
        if (frontier_add_links(f, &it, links, PER_PAGE) != 0)
            return 1;
        frontier_page_done(f, &it);
        frontier_stats s;
        frontier_stats_get(f, &s);
        queued = s.queued;
    }
    double dt = weft_monotonic() - t0;
    printf("{\"backend\": \"%s\", \"queued\": %zu, \"links\": %zu, \"seconds\": %.3f, "
           "\"ns_per_link\": %.0f, \"rss_kb\": %ld, \"peak_rss_kb\": %ld, \"start_rss_kb\": %ld}\n",
           argv[1], queued, next, dt, 1e9 * dt / (double)next, status_kb("VmRSS:"),
           status_kb("VmHWM:"), base_kb);
    frontier_free(f);
    crawl_state_close(st);
    if (sql) {
        char side[4096];
        unlink(path);
        snprintf(side, sizeof side, "%s-wal", path);
        unlink(side);
        snprintf(side, sizeof side, "%s-shm", path);
        unlink(side);
    }
    free(links);
    free(urls);
    return 0;
}
