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
    int fd;
    long long bytes;
    atomic_bool *abort;
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

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    sink *s = ud;
    size_t n = size * nmemb;
    s->bytes += (long long)n;
    if (s->fd < 0)
        return n;
    for (size_t done = 0; done < n;) {
        ssize_t w = write(s->fd, ptr + done, n - done);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return 0; /* curl reports CURLE_WRITE_ERROR */
        }
        done += (size_t)w;
    }
    return n;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    sink *s = ud;
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
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
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

int http_get(http_client *c, const char *url, int fd, http_attempt *a)
{
    void *v;
    int rc = weft_local_get(c->handles, &v);
    if (rc != 0)
        return rc;
    CURL *h = v;
    sink s = {.fd = fd, .abort = c->opts.abort};
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &s);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);

    memset(a, 0, sizeof *a);
    a->retry_after = -1;
    CURLcode cc = curl_easy_perform(h);
    a->curlcode = (int)cc;
    a->bytes = s.bytes;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a->status);
    a->dns = usec(h, CURLINFO_NAMELOOKUP_TIME_T);
    a->connect = usec(h, CURLINFO_CONNECT_TIME_T);
    a->ttfb = usec(h, CURLINFO_STARTTRANSFER_TIME_T);
    a->total = usec(h, CURLINFO_TOTAL_TIME_T);
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &a->connects);
    struct curl_header *hdr;
    if (curl_easy_header(h, "Retry-After", 0, CURLH_HEADER, -1, &hdr) == CURLHE_OK)
        a->retry_after = retry_after_parse(hdr->value, time(NULL));
    if (cc == CURLE_ABORTED_BY_CALLBACK)
        snprintf(a->error, sizeof a->error, "interrupted");
    else if (cc == CURLE_TOO_MANY_REDIRECTS)
        snprintf(a->error, sizeof a->error, "too many redirects (a loop?): %s",
                 errbuf[0] ? errbuf : curl_easy_strerror(cc));
    else if (cc != CURLE_OK)
        snprintf(a->error, sizeof a->error, "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
    /* The handle outlives this call; errbuf does not. */
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, NULL);
    return 0;
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
