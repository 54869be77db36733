/* http.c: per-worker curl easy handles in weft thread-local storage, a share
 * handle for DNS and TLS sessions locked with weft_locks, and one GET.
 *
 * DESIGN: see http.h. Options that never change are set once, when a
 * worker's handle is made; those that change per request (URL, sink) are set
 * on every call. curl_easy_reset is never called: it would keep the
 * connections but cost re-setting everything. Lock order: curl takes at
 * most one share lock at a time, so the weft_locks here never nest. */
#include "http/http.h"
#include "http/retry.h"

#include <weft.h>

#include <curl/curl.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct http_client {
    http_opts opts;
    char *user_agent;
    CURLSH *share;
    weft_lock *locks[CURL_LOCK_DATA_LAST];
    weft_local *handles; /* the calling worker's CURL * */
};

/* Per-transfer state the callbacks see. */
typedef struct sink {
    CURL *h;
    const http_request *rq;
    http_attempt *a;
    atomic_bool *abort;
    bool headers_seen; /* a->status and a->content_type filled */
    bool failed;       /* the fd or the body callback refused: a->error says why */
    curl_off_t wire;   /* body bytes received so far, as the progress callback saw them */
} sink;

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
    http_client *c = ud;
    if ((unsigned)data >= CURL_LOCK_DATA_LAST)
        return;
    /* A cancelled task gets ECANCELED from every weft wait; curl cannot be
     * told "no", so keep trying until the (short) critical section of the
     * holder ends. Any other failure is a bug. */
    for (;;) {
        int rc = weft_lock_acquire(c->locks[data], WEFT_FOREVER);
        if (rc == 0)
            return;
        if (rc != ECANCELED) {
            fprintf(stderr, "weft: share lock: %s\n", weft_strerror(rc));
            abort();
        }
        rc = weft_lock_acquire(c->locks[data], 0);
        if (rc == 0)
            return;
        sched_yield();
    }
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
    http_client *c = ud;
    if ((unsigned)data < CURL_LOCK_DATA_LAST)
        weft_lock_release(c->locks[data]);
}

/* Fills a->status and a->content_type from the response now arriving. */
static void take_headers(sink *s)
{
    long status = 0;
    char *ct = NULL;
    curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(s->h, CURLINFO_CONTENT_TYPE, &ct);
    s->a->status = status;
    snprintf(s->a->content_type, sizeof s->a->content_type, "%s", ct ? ct : "");
    s->headers_seen = true;
}

static bool write_all(sink *s, const char *p, size_t n)
{
    for (size_t done = 0; done < n;) {
        ssize_t w = write(s->rq->fd, p + done, n - done);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            snprintf(s->a->error, sizeof s->a->error, "cannot write the body: %s", strerror(errno));
            return false;
        }
        done += (size_t)w;
    }
    return true;
}

/* The decoded body: cut at max_bytes, then to the fd and the callback.
 * Returning less than n ends the transfer (CURLE_WRITE_ERROR). */
static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    sink *s = ud;
    http_attempt *a = s->a;
    size_t n = size * nmemb;
    if (!s->headers_seen)
        take_headers(s);
    size_t take = n;
    long long max = s->rq->max_bytes;
    if (max > 0 && (long long)take > max - a->bytes) {
        take = (size_t)(max - a->bytes);
        a->truncated = true;
    }
    if (take > 0) {
        if ((s->rq->fd >= 0 && !write_all(s, ptr, take)) ||
            (s->rq->body && !s->rq->body(s->rq->ud, a, ptr, take))) {
            s->failed = true;
            return 0;
        }
        a->bytes += (long long)take;
    }
    return a->truncated ? take : n;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    sink *s = ud;
    if (dn > s->wire)
        s->wire = dn; /* an aborted transfer reports 0 to CURLINFO_SIZE_DOWNLOAD_T */
    if ((s->abort && atomic_load(s->abort)) || weft_cancelled())
        return 1; /* CURLE_ABORTED_BY_CALLBACK */
    return 0;
}

static int handle_init(void *ud, void **value)
{
    http_client *c = ud;
    CURL *h = curl_easy_init();
    if (!h)
        return ENOMEM;
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_SHARE, c->share);
    if (!c->opts.no_follow) {
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        /* A redirect loop ends here with CURLE_TOO_MANY_REDIRECTS. */
        curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
    }
    if (!c->opts.no_compressed)
        curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, ""); /* all this libcurl decodes */
    curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    if (c->opts.timeout > 0)
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(c->opts.timeout * 1000 + 0.5));
    if (c->opts.connect_timeout > 0)
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                         (long)(c->opts.connect_timeout * 1000 + 0.5));
    *value = h;
    return 0;
}

static void handle_free(void *ud, void *value)
{
    curl_easy_cleanup(value);
}

int http_client_new(http_client **out, const http_opts *opts)
{
    http_client *c = calloc(1, sizeof *c);
    if (!c)
        return ENOMEM;
    int rc = ENOMEM;
    if (opts)
        c->opts = *opts;
    c->user_agent = strdup(c->opts.user_agent ? c->opts.user_agent : "weft/0.1");
    if (!c->user_agent)
        goto fail;
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        if ((rc = weft_lock_new(&c->locks[i])) != 0)
            goto fail;
    rc = EIO;
    c->share = curl_share_init();
    if (!c->share)
        goto fail;
    if (curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock) != CURLSHE_OK ||
        curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock) != CURLSHE_OK ||
        curl_share_setopt(c->share, CURLSHOPT_USERDATA, c) != CURLSHE_OK ||
        curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK)
        goto fail;
    /* Not every TLS backend shares sessions; that is only a lost speed-up. */
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    if ((rc = weft_local_new(&c->handles, handle_init, handle_free, c)) != 0)
        goto fail;
    *out = c;
    return 0;
fail:
    http_client_free(c);
    return rc;
}

void http_client_free(http_client *c)
{
    if (!c)
        return;
    /* Easy handles first: they still point at the share handle. */
    weft_local_free(c->handles);
    if (c->share)
        curl_share_cleanup(c->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        weft_lock_free(c->locks[i]);
    free(c->user_agent);
    free(c);
}

static double usec(CURL *h, CURLINFO what)
{
    curl_off_t v = 0;
    if (curl_easy_getinfo(h, what, &v) != CURLE_OK)
        return 0;
    return (double)v / 1e6;
}

void http_attempt_free(http_attempt *a)
{
    if (!a)
        return;
    free(a->effective_url);
    free(a->location);
    memset(a, 0, sizeof *a);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

int http_perform(http_client *c, const http_request *rq, http_attempt *a)
{
    void *v;
    int rc = weft_local_get(c->handles, &v);
    if (rc != 0)
        return rc;
    CURL *h = v;
    memset(a, 0, sizeof *a);
    a->retry_after = -1;
    sink s = {.h = h, .rq = rq, .a = a, .abort = c->opts.abort};
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, rq->url);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &s);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);

    CURLcode cc = curl_easy_perform(h);
    if (!s.headers_seen)
        take_headers(&s); /* an empty body, or none */
    if (cc == CURLE_WRITE_ERROR && a->truncated && !s.failed) {
        if (rq->cut_is_error)
            snprintf(a->error, sizeof a->error, "body over %lld bytes (--max-bytes)",
                     rq->max_bytes);
        else
            cc = CURLE_OK; /* a page cut at the limit is still a page */
    }
    a->curlcode = (int)cc;
    curl_off_t wire = 0;
    curl_easy_getinfo(h, CURLINFO_SIZE_DOWNLOAD_T, &wire);
    a->wire_bytes = (long long)(wire > s.wire ? wire : s.wire);
    a->dns = usec(h, CURLINFO_NAMELOOKUP_TIME_T);
    a->connect = usec(h, CURLINFO_CONNECT_TIME_T);
    a->ttfb = usec(h, CURLINFO_STARTTRANSFER_TIME_T);
    a->total = usec(h, CURLINFO_TOTAL_TIME_T);
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &a->connects);
    char *eff = NULL, *loc = NULL;
    curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &eff);
    a->effective_url = dup_or_null(eff);
    if (c->opts.no_follow && a->status >= 300 && a->status < 400 &&
        curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK)
        a->location = dup_or_null(loc);
    struct curl_header *hdr;
    if (curl_easy_header(h, "Retry-After", 0, CURLH_HEADER, -1, &hdr) == CURLHE_OK)
        a->retry_after = retry_after_parse(hdr->value, time(NULL));
    if (s.failed || (a->truncated && rq->cut_is_error))
        ; /* a->error is set */
    else if (cc == CURLE_ABORTED_BY_CALLBACK)
        snprintf(a->error, sizeof a->error, "interrupted");
    else if (cc == CURLE_TOO_MANY_REDIRECTS)
        snprintf(a->error, sizeof a->error, "too many redirects (a loop?): %s",
                 errbuf[0] ? errbuf : curl_easy_strerror(cc));
    else if (cc == CURLE_OUT_OF_MEMORY && a->status > 0)
        /* libcurl 7.88 says "out of memory" for a header past its limit. */
        snprintf(a->error, sizeof a->error,
                 "response header too large (over libcurl's limit of 100 kB)");
    else if (cc != CURLE_OK)
        snprintf(a->error, sizeof a->error, "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
    /* The handle outlives this call; errbuf and s do not. */
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, NULL);
    return 0;
}

const char *http_encodings(void)
{
    static _Thread_local char buf[64];
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    buf[0] = '\0';
    if (v->features & CURL_VERSION_LIBZ)
        strcat(buf, "gzip, deflate");
    if (v->features & CURL_VERSION_BROTLI)
        strcat(buf, buf[0] ? ", br" : "br");
#ifdef CURL_VERSION_ZSTD
    if (v->features & CURL_VERSION_ZSTD)
        strcat(buf, buf[0] ? ", zstd" : "zstd");
#endif
    return buf;
}

bool http_url_check(const char *url, char *why, size_t whysz, char *host, size_t hostsz)
{
    CURLU *u = curl_url();
    if (!u) {
        snprintf(why, whysz, "out of memory");
        return false;
    }
    bool ok = false;
    char *scheme = NULL, *h = NULL, *port = NULL;
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (uc != CURLUE_OK) {
        snprintf(why, whysz, "malformed URL: %s", curl_url_strerror(uc));
        goto out;
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        snprintf(why, whysz, "unsupported scheme '%s' (http and https only)", scheme ? scheme : "");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK || !h || !*h) {
        snprintf(why, whysz, "malformed URL: no host");
        goto out;
    }
    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
    if (host)
        snprintf(host, hostsz, "%s:%s", h, port ? port : "");
    ok = true;
out:
    curl_free(scheme);
    curl_free(h);
    curl_free(port);
    curl_url_cleanup(u);
    return ok;
}
