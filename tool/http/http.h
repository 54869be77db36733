/* http.h: one HTTP GET at a time per worker thread, on libcurl.
 *
 * DESIGN: libcurl's rules for threads. Each worker owns one easy handle,
 * kept in weft thread-local storage (weft_local) and reused for every
 * request that worker makes, so connections are kept alive across requests
 * to the same host; the handle is cleaned up when the worker exits or the
 * client is freed. CURLOPT_NOSIGNAL keeps curl's resolver timeouts away
 * from signals (a must with threads). The handles share only the DNS and
 * TLS-session caches, through a curl share handle whose lock callbacks take
 * one weft_lock per curl_lock_data. Transfers poll an abort flag from curl's
 * progress callback (and weft_cancelled()), so Ctrl-C stops in-flight
 * transfers within one callback period instead of at their timeout. */
#ifndef WEFT_TOOL_HTTP_H
#define WEFT_TOOL_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct http_client http_client;

typedef struct http_opts {
    double timeout;         /* whole transfer, seconds; 0: none */
    double connect_timeout; /* seconds; 0: curl's default */
    const char *user_agent; /* copied; NULL: "weft/<version>" */
    atomic_bool *abort;     /* set to stop every transfer; may be NULL */
} http_opts;

/* The outcome of one attempt. */
typedef struct http_attempt {
    int curlcode; /* CURLcode; 0 when the transfer completed */
    long status;  /* HTTP status of the last response, 0 if none */
    long long bytes;
    double dns, connect, ttfb, total; /* seconds since the attempt began */
    double retry_after;               /* from the response, seconds; -1: none */
    long connects;                    /* new connections made (0: kept alive) */
    char error[256];                  /* why, when curlcode != 0 */
} http_attempt;

/* Creates a client: the share handle and its locks, and the thread-local
 * slot for easy handles. Returns 0, ENOMEM, or EIO (curl refused). */
int http_client_new(http_client **out, const http_opts *opts);
/* Frees every worker's handle still held and the share handle. NULL-safe.
 * No transfer may be running. */
void http_client_free(http_client *c);

/* GETs url on the calling thread's handle, following redirects (at most 10),
 * writing the body to fd (-1: discard it). Fills *a. Returns 0 when an
 * attempt was made (its outcome is in *a), or ENOMEM / EIO when no handle
 * could be made. */
int http_get(http_client *c, const char *url, int fd, http_attempt *a);

/* Checks url with curl's URL parser: an absolute http or https URL with a
 * host. Returns true, or false with a reason in why. On success, host (if
 * not NULL) receives "host:port" for the per-host limit. */
bool http_url_check(const char *url, char *why, size_t whysz, char *host, size_t hostsz);

#endif
