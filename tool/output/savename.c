/* savename.c: safe, collision-free file names for `weft fetch -o DIR`.
 *
 * DESIGN: see savename.h. The URL is parsed with curl's URL API when it can
 * be; otherwise the text after the scheme and host is used as is, which is
 * no less safe, because the sanitising below trusts nothing in it. */
#include "output/savename.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes src into dst (same size or larger); a bad escape is kept
 * literally. NUL bytes produced by "%00" become '_' so the string stays whole. */
static void decode(const char *src, char *dst, size_t dstsz)
{
    size_t n = 0;
    for (const char *p = src; *p && n + 1 < dstsz; p++) {
        int c = (unsigned char)*p;
        if (c == '%' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
            c = hexval(p[1]) * 16 + hexval(p[2]);
            p += 2;
        }
        dst[n++] = c ? (char)c : '_';
    }
    dst[n] = '\0';
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static char *join(const char *a, const char *sep, const char *b)
{
    size_t n = strlen(a) + strlen(sep) + strlen(b) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s%s", a, sep, b);
    return s;
}

/* The path and query of url, undecoded, in a string the caller frees (or
 * NULL when there is none). */
static char *url_tail(const char *url)
{
    CURLU *u = curl_url();
    char *path = NULL, *query = NULL, *out = NULL;
    if (!u)
        return NULL;
    if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK) {
        curl_url_get(u, CURLUPART_PATH, &path, 0);
        curl_url_get(u, CURLUPART_QUERY, &query, 0);
    }
    curl_url_cleanup(u);
    if (!path) {
        /* Not a URL curl accepts: take what follows "scheme://host". */
        const char *p = strstr(url, "://");
        p = p ? strchr(p + 3, '/') : strchr(url, '/');
        return p ? join(p, "", "") : NULL;
    }
    out = join(path, query ? "?" : "", query ? query : "");
    curl_free(path);
    curl_free(query);
    return out;
}

void savename_from_url(const char *url, char *out, size_t outsz)
{
    char dec[4096];
    char *tail = url_tail(url);
    decode(tail ? tail : "", dec, sizeof dec);
    free(tail);

    /* The query joins the last path segment ("page?id=3" -> "page_id_3"), so
     * it is split off first and the last segment is taken from the path. */
    char *q = strchr(dec, '?');
    char query[sizeof dec] = "";
    if (q) {
        snprintf(query, sizeof query, "%s", q + 1);
        *q = '\0';
    }
    /* After decoding, so an encoded "/" (%2f) separates too. */
    char *seg = strrchr(dec, '/');
    seg = seg ? seg + 1 : dec;
    char name[sizeof dec * 2];
    if (*seg == '\0' && *query == '\0')
        snprintf(name, sizeof name, "index.html");
    else if (*query)
        snprintf(name, sizeof name, "%s%s%s", *seg ? seg : "index", "_", query);
    else
        snprintf(name, sizeof name, "%s", seg);

    for (char *p = name; *p; p++) {
        unsigned char c = (unsigned char)*p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok)
            *p = '_';
    }
    /* No "." or "..", no hidden files. */
    if (name[0] == '.')
        name[0] = '_';

    size_t cap = outsz - 1 < SAVENAME_MAX ? outsz - 1 : SAVENAME_MAX;
    size_t len = strlen(name);
    if (len <= cap) {
        memcpy(out, name, len + 1);
        return;
    }
    /* Too long: keep a prefix and a hash of the whole, so distinct long names
     * stay distinct. */
    char suffix[24];
    int sl = snprintf(suffix, sizeof suffix, "-%016llx", (unsigned long long)fnv1a(name));
    size_t keep = cap > (size_t)sl ? cap - (size_t)sl : 0;
    memcpy(out, name, keep);
    memcpy(out + keep, suffix, (size_t)sl + 1);
    if (out[0] == '.')
        out[0] = '_';
}

int savename_create(int dirfd, const char *url, char *name, size_t namesz)
{
    char base[SAVENAME_MAX + 1];
    savename_from_url(url, base, sizeof base);
    /* Split at the extension so suffixes read "page-2.html". */
    const char *dot = strrchr(base, '.');
    size_t stem = dot && dot != base && strlen(dot) <= 16 ? (size_t)(dot - base) : strlen(base);
    const char *ext = base + stem;
    for (unsigned i = 0; i < 100000; i++) {
        if (i == 0) {
            snprintf(name, namesz, "%s", base);
        } else {
            char sfx[16];
            int sl = snprintf(sfx, sizeof sfx, "-%u", i);
            size_t extlen = strlen(ext);
            size_t room = SAVENAME_MAX - (size_t)sl - extlen;
            size_t keep = stem < room ? stem : room;
            snprintf(name, namesz, "%.*s%s%s", (int)keep, base, sfx, ext);
        }
        int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd >= 0)
            return fd;
        if (errno != EEXIST)
            return -errno;
    }
    return -EEXIST;
}
