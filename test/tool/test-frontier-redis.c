/* test-frontier-redis.c: the frontier conformance suite on the Redis
 * backend: the same test bodies as the memory and SQLite backends', against
 * a redis-server each test starts on a unix socket of its own. */
#define FRONTIER_REDIS 1
#include "test-frontier.c"
