/* retry.h: when to retry a request and how long to wait first.
 *
 * DESIGN: retries are for transient trouble only: timeouts, refused or reset
 * connections, and the HTTP statuses that mean "try again" (408, 429, 5xx).
 * The wait is exponential backoff with full jitter (AWS's "Exponential
 * Backoff and Jitter": uniform in [0, min(cap, base * 2^attempt)]), so a
 * crowd of workers that failed together does not come back together. A
 * server's Retry-After (seconds or an HTTP date) wins over the backoff, up to
 * RETRY_AFTER_CAP seconds. Pure functions: the randomness comes in as an
 * argument, so the schedule is unit-testable. */
#ifndef WEFT_TOOL_RETRY_H
#define WEFT_TOOL_RETRY_H

#include <stdbool.h>
#include <time.h>

#define RETRY_BASE      0.2  /* seconds, the first backoff ceiling */
#define RETRY_CAP       10.0 /* seconds, the largest backoff */
#define RETRY_AFTER_CAP 30.0 /* seconds, the longest Retry-After we honour */

/* True when a transfer that ended with curl code `curlcode` (a CURLcode) and
 * HTTP status `status` (0 when none) is worth another attempt. */
bool retry_should(int curlcode, long status);

/* The backoff before attempt number `attempt` + 1 (attempt 0 is the first
 * retry), for u uniform in [0, 1). */
double retry_backoff(unsigned attempt, double u);

/* Parses a Retry-After header value: delta-seconds or an HTTP date, relative
 * to `now`. Returns the wait in seconds (0 for a date in the past), capped at
 * RETRY_AFTER_CAP, or -1 when the value is not valid. */
double retry_after_parse(const char *value, time_t now);

/* Uniform in [0, 1), per thread (xorshift64*, seeded from the thread and
 * the clock), for the backoff's jitter. */
double retry_jitter(void);

/* The wait before the next attempt: Retry-After (when >= 0) or the backoff. */
double retry_delay(unsigned attempt, double retry_after, double u);

#endif
