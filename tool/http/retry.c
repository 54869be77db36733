/* retry.c: the retry policy of `weft fetch` and `weft crawl`: what is
 * transient, the backoff schedule, Retry-After, and the jitter.
 *
 * DESIGN: see retry.h. Everything but retry_jitter's per-thread state is
 * pure; the caller sleeps. */
#include "http/retry.h"

#include <weft.h>

#include <curl/curl.h>
#include <ctype.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>

bool retry_should(int curlcode, long status)
{
    switch ((CURLcode)curlcode) {
    case CURLE_OK:
        return status == 408 || status == 429 || (status >= 500 && status <= 599);
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_COULDNT_CONNECT:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return true;
    default:
        /* A bad URL, a name that does not resolve, a redirect loop, a write
         * error, an abort: another attempt would fail the same way. */
        return false;
    }
}

double retry_backoff(unsigned attempt, double u)
{
    double ceiling = RETRY_BASE * ldexp(1.0, attempt > 30 ? 30 : (int)attempt);
    if (ceiling > RETRY_CAP)
        ceiling = RETRY_CAP;
    if (!(u >= 0) || u >= 1)
        u = 0.5;
    return u * ceiling;
}

double retry_after_parse(const char *value, time_t now)
{
    if (!value)
        return -1;
    while (isspace((unsigned char)*value))
        value++;
    if (*value == '\0')
        return -1;
    double wait;
    if (isdigit((unsigned char)*value)) {
        char *end;
        unsigned long long n = strtoull(value, &end, 10);
        while (isspace((unsigned char)*end))
            end++;
        if (*end != '\0')
            return -1;
        wait = n > 1000000 ? 1e6 : (double)n;
    } else {
        /* curl_getdate reads RFC 7231's IMF-fixdate and the obsolete forms. */
        time_t t = curl_getdate(value, NULL);
        if (t == -1)
            return -1;
        wait = t > now ? difftime(t, now) : 0;
    }
    return wait > RETRY_AFTER_CAP ? RETRY_AFTER_CAP : wait;
}

double retry_delay(unsigned attempt, double retry_after, double u)
{
    return retry_after >= 0 ? retry_after : retry_backoff(attempt, u);
}

double retry_jitter(void)
{
    static _Thread_local uint64_t x;
    if (x == 0)
        x = ((uint64_t)weft_thread_current_ident() << 32) ^ (uint64_t)(weft_monotonic() * 1e9) ^
            0x9e3779b97f4a7c15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    return (double)((x * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}
