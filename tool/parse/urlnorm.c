/* urlnorm.c: link resolution and URL normalisation on curl's URL API.
 *
 * DESIGN: see urlnorm.h. Every step that curl already gets right (reference
 * resolution, dot segments, default ports, IPv6 literals, encoding spaces)
 * is left to curl; this file only adds what curl does not do or does
 * differently: refusing foreign schemes up front, the empty reference
 * (curl resolves "" to the base's directory; RFC 3986 5.2.2 says the base
 * itself), lower-casing the host, and canonical percent-escapes. */
#include "parse/urlnorm.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int hexval(unsigned char c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The link with outer whitespace and inner tabs/newlines removed (WHATWG
 * URL parsing does the same, and pages indent their hrefs). */
static char *clean_href(const char *href)
{
    size_t n = strlen(href);
    while (n > 0 && is_space((unsigned char)href[n - 1]))
        n--;
    while (n > 0 && is_space((unsigned char)*href)) {
        href++;
        n--;
    }
    char *s = malloc(n + 1);
    if (!s)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n; i++)
        if (href[i] != '\t' && href[i] != '\n' && href[i] != '\r')
            s[j++] = href[i];
    s[j] = '\0';
    return s;
}

/* Whether href starts with a scheme (RFC 3986: ALPHA *(ALPHA / DIGIT / "+" /
 * "-" / ".") ":"), and if so whether it is http or https. */
static urlnorm_status check_scheme(const char *href, bool *has_scheme)
{
    *has_scheme = false;
    if (!is_alpha((unsigned char)href[0]))
        return URLNORM_OK;
    size_t i = 1;
    while (is_alpha((unsigned char)href[i]) || is_digit((unsigned char)href[i]) || href[i] == '+' ||
           href[i] == '-' || href[i] == '.')
        i++;
    if (href[i] != ':')
        return URLNORM_OK;
    *has_scheme = true;
    if ((i == 4 && strncasecmp(href, "http", 4) == 0) ||
        (i == 5 && strncasecmp(href, "https", 5) == 0))
        return URLNORM_OK;
    return URLNORM_SCHEME;
}

/* Canonical percent-escapes after the authority: %7e -> ~, %2f -> %2F, and
 * any raw byte curl let through (>= 0x80, controls, space: curl keeps a
 * base URL's bytes as given) and stray '%' escaped, so the result is plain ASCII and
 * normalising it again changes nothing. Returns a malloc'd string. */
static char *canon_escapes(const char *url)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(url);
    char *out = malloc(3 * n + 1);
    if (!out)
        return NULL;
    const char *p = strstr(url, "://");
    p = p ? strchr(p + 3, '/') : NULL;
    size_t head = p ? (size_t)(p - url) : n;
    memcpy(out, url, head);
    char *w = out + head;
    for (const char *r = url + head; *r;) {
        unsigned char c = (unsigned char)*r;
        int hi, lo;
        if (c == '%' && (hi = hexval((unsigned char)r[1])) >= 0 &&
            (lo = hexval((unsigned char)r[2])) >= 0) {
            unsigned char d = (unsigned char)(hi * 16 + lo);
            /* Not '.': "%2e" decoded after curl removed dot segments would
             * make a new "." segment that the next pass removes. */
            if (is_alpha(d) || is_digit(d) || d == '-' || d == '_' || d == '~') {
                *w++ = (char)d;
            } else {
                *w++ = '%';
                *w++ = hex[hi];
                *w++ = hex[lo];
            }
            r += 3;
        } else if (c >= 0x7f || c <= 0x20 || c == '%') {
            /* A '%' that starts no escape is itself escaped, or decoding
             * "%%33" to "%3" would make a new escape on the next pass. */
            *w++ = '%';
            *w++ = hex[c >> 4];
            *w++ = hex[c & 15];
            r++;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
    return out;
}

static urlnorm_status from_curl(CURLUcode uc)
{
    return uc == CURLUE_OUT_OF_MEMORY ? URLNORM_NOMEM : URLNORM_BAD;
}

static urlnorm_status resolve_once(const char *base, const char *href, char **out)
{
    *out = NULL;
    if (!href)
        return URLNORM_BAD;
    if (strlen(href) > URLNORM_MAX || (base && strlen(base) > URLNORM_MAX))
        return URLNORM_TOO_LONG;
    char *h = clean_href(href);
    if (!h)
        return URLNORM_NOMEM;
    bool has_scheme;
    urlnorm_status st = check_scheme(h, &has_scheme);
    if (st != URLNORM_OK) {
        free(h);
        return st;
    }
    if (!base && !has_scheme) {
        free(h);
        return URLNORM_BAD;
    }
    CURLU *u = curl_url();
    if (!u) {
        free(h);
        return URLNORM_NOMEM;
    }
    char *s = NULL, *host = NULL;
    CURLUcode uc;
    if (base && (uc = curl_url_set(u, CURLUPART_URL, base, 0)) != CURLUE_OK) {
        st = from_curl(uc);
        goto out;
    }
    /* "" and "#frag" are the base document itself (curl would give its
     * directory). */
    if ((!base || (h[0] != '\0' && h[0] != '#')) &&
        (uc = curl_url_set(u, CURLUPART_URL, h, CURLU_URLENCODE)) != CURLUE_OK) {
        st = from_curl(uc);
        goto out;
    }
    /* The base might itself have had a foreign scheme. */
    if ((uc = curl_url_get(u, CURLUPART_SCHEME, &s, 0)) != CURLUE_OK) {
        st = from_curl(uc);
        goto out;
    }
    if (strcmp(s, "http") != 0 && strcmp(s, "https") != 0) {
        st = URLNORM_SCHEME;
        goto out;
    }
    curl_free(s);
    s = NULL;
    if ((uc = curl_url_get(u, CURLUPART_HOST, &host, 0)) != CURLUE_OK || !host[0]) {
        st = uc == CURLUE_OUT_OF_MEMORY ? URLNORM_NOMEM : URLNORM_BAD;
        goto out;
    }
    /* Plain ASCII host names and IP literals only: curl lets raw bytes and
     * '%' through, which would make hosts no resolver knows. */
    bool upper = false;
    for (const char *c = host; *c; c++)
        if (!(is_alpha((unsigned char)*c) || is_digit((unsigned char)*c) || *c == '-' ||
              *c == '.' || *c == '_' || *c == '~' || *c == ':' || *c == '[' || *c == ']')) {
            st = URLNORM_BAD;
            goto out;
        }
    for (char *c = host; *c; c++)
        if (*c >= 'A' && *c <= 'Z') {
            *c = (char)(*c - 'A' + 'a');
            upper = true;
        }
    if (upper && (uc = curl_url_set(u, CURLUPART_HOST, host, 0)) != CURLUE_OK) {
        st = from_curl(uc);
        goto out;
    }
    curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
    /* Userinfo names no other page: "http://u:p@h/" is "http://h/". Kept, it
     * would fetch the site again under a second identity, send the
     * credentials to every page, and print them in every record. */
    curl_url_set(u, CURLUPART_USER, NULL, 0);
    curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
    curl_url_set(u, CURLUPART_OPTIONS, NULL, 0);
    if ((uc = curl_url_get(u, CURLUPART_URL, &s, CURLU_NO_DEFAULT_PORT)) != CURLUE_OK) {
        st = from_curl(uc);
        goto out;
    }
    *out = canon_escapes(s);
    if (!*out) {
        st = URLNORM_NOMEM;
    } else if (strlen(*out) > URLNORM_MAX) {
        free(*out);
        *out = NULL;
        st = URLNORM_TOO_LONG;
    } else {
        st = URLNORM_OK;
    }
out:
    curl_free(s);
    curl_free(host);
    curl_url_cleanup(u);
    free(h);
    return st;
}

urlnorm_status urlnorm_resolve(const char *base, const char *href, char **out)
{
    urlnorm_status st = resolve_once(base, href, out);
    if (st != URLNORM_OK)
        return st;
    /* Once more over the result: curl parses what it printed differently at
     * times (a host "%30" prints as "0", which then reads as 0.0.0.0), and
     * the de-dup key must be a fixed point. */
    char *again = NULL;
    st = resolve_once(NULL, *out, &again);
    free(*out);
    *out = again;
    return st;
}

urlnorm_status urlnorm(const char *url, char **out)
{
    return urlnorm_resolve(NULL, url, out);
}

const char *urlnorm_strstatus(urlnorm_status s)
{
    switch (s) {
    case URLNORM_OK:
        return "ok";
    case URLNORM_SCHEME:
        return "scheme";
    case URLNORM_BAD:
        return "bad";
    case URLNORM_NOMEM:
        return "nomem";
    case URLNORM_TOO_LONG:
        return "too-long";
    }
    return "?";
}

/* The authority of url: [start, end) after "://", up to the path. */
static bool authority(const char *url, const char **start, const char **end)
{
    const char *p = strstr(url, "://");
    if (!p)
        return false;
    p += 3;
    const char *e = p + strcspn(p, "/?#");
    /* Userinfo is not part of the origin. */
    for (const char *q = e; q > p; q--)
        if (q[-1] == '@') {
            p = q;
            break;
        }
    *start = p;
    *end = e;
    return true;
}

bool urlnorm_origin(const char *url, char *buf, size_t n)
{
    const char *a, *e;
    if (!authority(url, &a, &e))
        return false;
    size_t slen = (size_t)(strstr(url, "://") - url);
    size_t len = slen + 3 + (size_t)(e - a);
    if (len + 1 > n)
        return false;
    memcpy(buf, url, slen);
    memcpy(buf + slen, "://", 3);
    memcpy(buf + slen + 3, a, (size_t)(e - a));
    buf[len] = '\0';
    return true;
}

bool urlnorm_host(const char *url, char *buf, size_t n)
{
    const char *a, *e;
    if (!authority(url, &a, &e))
        return false;
    const char *hs = a, *he;
    if (*a == '[') {
        hs = a + 1;
        he = memchr(hs, ']', (size_t)(e - hs));
        if (!he)
            return false;
    } else {
        he = memchr(a, ':', (size_t)(e - a));
        if (!he)
            he = e;
    }
    size_t len = (size_t)(he - hs);
    if (len == 0 || len + 1 > n)
        return false;
    memcpy(buf, hs, len);
    buf[len] = '\0';
    return true;
}

const char *urlnorm_path(const char *url)
{
    const char *a, *e;
    if (!authority(url, &a, &e) || *e == '\0' || *e == '#')
        return "/";
    return e;
}

char *urlnorm_redact(const char *url)
{
    const char *auth = strstr(url, "://");
    if (!auth)
        return strdup(url);
    auth += 3;
    size_t alen = strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *p = auth; p < auth + alen; p++)
        if (*p == '@')
            at = p;
    if (!at)
        return strdup(url);
    size_t head = (size_t)(auth - url), tail = strlen(at);
    char *out = malloc(head + 3 + tail + 1);
    if (!out)
        return NULL;
    memcpy(out, url, head);
    memcpy(out + head, "***", 3);
    memcpy(out + head + 3, at, tail + 1);
    return out;
}
