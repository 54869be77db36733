/* savename.c: safe, collision-free file names for `weft fetch -o DIR`.
 *
 * DESIGN: see savename.h. The URL is parsed with curl's URL API when it can
 * be; otherwise the text after the scheme and host is used as is, which is
 * no less safe, because the sanitising below trusts nothing in it. */
#include "output/savename.h"

#include <weft.h>

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
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

/* Creates base (or base with "-N" before its extension, N from *next on)
 * with O_EXCL; *next becomes the first suffix not yet tried. */
static int create_from(int dirfd, const char *base, unsigned *next, char *name, size_t namesz)
{
    /* Split at the extension so suffixes read "page-2.html". */
    const char *dot = strrchr(base, '.');
    size_t stem = dot && dot != base && strlen(dot) <= 16 ? (size_t)(dot - base) : strlen(base);
    const char *ext = base + stem;
    for (unsigned i = *next;; i++) {
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
        if (fd >= 0 || errno != EEXIST || i == UINT_MAX) {
            *next = i == UINT_MAX ? i : i + 1;
            return fd >= 0 ? fd : errno == EEXIST ? -EEXIST : -errno;
        }
    }
}

int savename_create(int dirfd, const char *url, char *name, size_t namesz)
{
    char base[SAVENAME_MAX + 1];
    savename_from_url(url, base, sizeof base);
    unsigned next = 0;
    return create_from(dirfd, base, &next, name, namesz);
}

/* ---- a directory's names: the next free suffix per base name ---- */

typedef struct entry {
    char *base; /* NULL: empty slot */
    unsigned next;
} entry;

struct savename_dir {
    int dirfd;
    weft_lock *lock;
    entry *tab;
    size_t n, cap; /* cap a power of two */
};

int savename_dir_new(savename_dir **out, int dirfd)
{
    savename_dir *d = calloc(1, sizeof *d);
    if (!d)
        return ENOMEM;
    d->dirfd = dirfd;
    d->cap = 64;
    d->tab = calloc(d->cap, sizeof *d->tab);
    int rc = d->tab ? weft_lock_new(&d->lock) : ENOMEM;
    if (rc != 0) {
        free(d->tab);
        free(d);
        return rc;
    }
    *out = d;
    return 0;
}

void savename_dir_free(savename_dir *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->cap; i++)
        free(d->tab[i].base);
    free(d->tab);
    weft_lock_free(d->lock);
    free(d);
}

static entry *slot_for(entry *tab, size_t cap, const char *base)
{
    size_t i = (size_t)fnv1a(base) & (cap - 1);
    while (tab[i].base && strcmp(tab[i].base, base) != 0)
        i = (i + 1) & (cap - 1);
    return &tab[i];
}

/* The entry of base, made if new; NULL when out of memory. Lock held. */
static entry *lookup(savename_dir *d, const char *base)
{
    if ((d->n + 1) * 2 > d->cap) {
        size_t cap = d->cap * 2;
        entry *tab = calloc(cap, sizeof *tab);
        if (!tab)
            return NULL;
        for (size_t i = 0; i < d->cap; i++)
            if (d->tab[i].base)
                *slot_for(tab, cap, d->tab[i].base) = d->tab[i];
        free(d->tab);
        d->tab = tab;
        d->cap = cap;
    }
    entry *e = slot_for(d->tab, d->cap, base);
    if (!e->base) {
        e->base = strdup(base);
        if (!e->base)
            return NULL;
        e->next = 0;
        d->n++;
    }
    return e;
}

int savename_dir_create(savename_dir *d, const char *url, char *name, size_t namesz)
{
    char base[SAVENAME_MAX + 1];
    savename_from_url(url, base, sizeof base);
    /* Held across the openat calls: two workers must not race for the same
     * suffix, and the calls are quick (no body is written here). */
    int rc = weft_lock_acquire(d->lock, WEFT_FOREVER);
    if (rc != 0)
        return -rc;
    entry *e = lookup(d, base);
    int fd = e ? create_from(d->dirfd, base, &e->next, name, namesz) : -ENOMEM;
    weft_lock_release(d->lock);
    return fd;
}
