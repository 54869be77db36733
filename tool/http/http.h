/* http.h: the one HTTP layer of weft fetch and weft crawl: one GET at a time
 * per worker thread, on libcurl.
 *
 * DESIGN: libcurl's rules for threads. Each worker owns one easy handle,
 * kept in weft thread-local storage (weft_local) and reused for every
 * request that worker makes, so connections are kept alive across requests
 * to the same host; the handle is cleaned up when the worker exits or the
 * client is freed. CURLOPT_NOSIGNAL keeps curl's resolver timeouts away
 * from signals (a must with threads). The handles share only the DNS and
 * TLS-session caches, through a curl share handle whose lock callbacks take
 * one weft_lock per curl_lock_data; every curl_share_setopt result is
 * checked, so a share handle that could not be set up is an error at
 * http_client_new, never a lock callback spinning on a lock that was never
 * made. Transfers poll the client's abort flag (each subcommand passes its
 * own stop flag) from curl's progress callback, and weft_cancelled(), so
 * Ctrl-C stops in-flight transfers within one callback period instead of at
 * their timeout.
 *
 * Bodies are never held here: they go to a file descriptor (fetch -o) or to
 * the caller's callback as they arrive (crawl's HTML push parser), decoded
 * (Accept-Encoding: every encoding the linked libcurl supports, unless
 * turned off), and max_bytes bounds the decoded bytes, so a gzip bomb stops
 * at the limit with bounded memory.
 *
 * Redirects: fetch lets curl follow them (at most 10, http and https only),
 * as curl -L does; crawl asks for none (follow = false) and follows each
 * hop itself, so every hop passes robots.txt, scope and filters before it is
 * requested. Retries (which outcomes, how long to wait, Retry-After) are the
 * policy of http/retry.h, shared by both. */
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
    bool no_follow;         /* do not follow redirects: a 3xx comes back with its location */
    bool no_compressed;     /* do not send Accept-Encoding (bodies arrive as sent) */
} http_opts;

/* The outcome of one attempt. Strings are owned by the attempt: free them
 * with http_attempt_free before reusing or dropping it. */
typedef struct http_attempt {
    int curlcode;         /* CURLcode; 0 when the transfer completed (or was cut at max_bytes) */
    long status;          /* HTTP status of the last response, 0 if none */
    long long bytes;      /* decoded body bytes received (at most max_bytes) */
    long long wire_bytes; /* body bytes on the wire, before decoding */
    bool truncated;       /* the body went past max_bytes and was cut there */
    double dns, connect, ttfb, total; /* seconds since the attempt began */
    double retry_after;               /* from the response, seconds; -1: none */
    long connects;                    /* new connections made (0: kept alive) */
    char content_type[128];           /* of the last response; "" when none */
    char *effective_url;              /* the last URL requested (after followed redirects) */
    char *location;                   /* a 3xx's target, resolved, when not followed; or NULL */
    char error[256];                  /* why, when curlcode != 0 */
} http_attempt;

/* Receives the decoded body as it arrives. a->status and a->content_type
 * are those of the response being received. Return false to stop the
 * transfer: the attempt then ends with CURLE_WRITE_ERROR and the reason
 * the callback wrote to a->error. */
typedef bool http_body_fn(void *ud, http_attempt *a, const char *p, size_t n);

typedef struct http_request {
    const char *url;
    int fd;              /* write the body here; -1: do not */
    http_body_fn *body;  /* and/or give it to this; NULL: do not */
    void *ud;            /* for body */
    long long max_bytes; /* decoded body limit; 0: none */
    bool cut_is_error;   /* past max_bytes: an error ("body over N bytes"), else a cut page */
} http_request;

/* Creates a client: the share handle and its locks, and the thread-local
 * slot for easy handles. Returns 0, ENOMEM, or EIO (curl refused to set up
 * the share handle). */
int http_client_new(http_client **out, const http_opts *opts);
/* Frees every worker's handle still held and the share handle. NULL-safe.
 * No transfer may be running. */
void http_client_free(http_client *c);

/* Performs rq on the calling thread's handle and fills *a (first freeing
 * nothing: a must be zeroed or freed by http_attempt_free). Blocks for the
 * transfer (bounded by the timeouts and the abort flag). Returns 0 when an
 * attempt was made (its outcome is in *a), or ENOMEM / EIO when no handle
 * could be made. */
int http_perform(http_client *c, const http_request *rq, http_attempt *a);

/* Frees the attempt's strings and zeroes it. NULL-safe. */
void http_attempt_free(http_attempt *a);

/* Checks url with curl's URL parser: an absolute http or https URL with a
 * host. Returns true, or false with a reason in why. On success, host (if
 * not NULL) receives "host:port" for the per-host limit. */
bool http_url_check(const char *url, char *why, size_t whysz, char *host, size_t hostsz);

/* The Accept-Encoding value this libcurl decodes ("gzip, deflate, br,
 * zstd" or a subset), for messages and docs. */
const char *http_encodings(void);

#endif
