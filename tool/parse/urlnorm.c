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

/* ---- the fast path ----
 *
 * Most links on real pages are plain ASCII paths, relative or absolute,
 * resolved against a base that is itself our own normalised output. For
 * those, RFC 3986 5.2 (merge, remove_dot_segments) and our normal form
 * (lower-case host, no default port, no fragment, no userinfo) are a few
 * string operations, where curl's URL API costs two full parses and a
 * print per link, twice over for the fixed point (16% of a crawl's CPU on a
 * real documentation tree). Anything unusual (a byte curl would encode, an
 * escape that normalising would change, userinfo, IPv6, an IPv4 literal in
 * a short form, "//" references, an unnormalised base) takes the curl path.
 * test-urlnorm checks that both paths agree. */

/* The characters a fast-path href may hold: unreserved, reserved but the
 * brackets, and '%' (checked separately). */
static bool fast_char(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || (c && strchr("-._~/?=&:;@!$'()*+,#%", c) != NULL);
}

/* An escape that normalising leaves as it is: upper-case hex, not an
 * unreserved character. */
static bool canonical_escape(const char *p)
{
    int hi = hexval((unsigned char)p[1]), lo;
    if (hi < 0 || (lo = hexval((unsigned char)p[2])) < 0)
        return false;
    if ((p[1] >= 'a' && p[1] <= 'f') || (p[2] >= 'a' && p[2] <= 'f'))
        return false;
    unsigned char d = (unsigned char)(hi * 16 + lo);
    return !(is_alpha(d) || is_digit(d) || d == '-' || d == '_' || d == '~' || d == '.');
}

/* Whether s[0..n) holds only fast characters and canonical escapes. */
static bool fast_text(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!fast_char((unsigned char)s[i]))
            return false;
        if (s[i] == '%') {
            if (i + 2 >= n || !canonical_escape(s + i))
                return false;
            i += 2;
        }
    }
    return true;
}

/* Writes remove_dot_segments(path[0..n)) (RFC 3986 5.2.4) at w; returns
 * the length written. w has room for n bytes. */
static size_t remove_dots(const char *in, size_t n, char *w)
{
    size_t o = 0, i = 0;
    while (i < n) {
        const char *s = in + i;
        size_t left = n - i;
        if (left >= 3 && memcmp(s, "../", 3) == 0) {
            i += 3;
        } else if (left >= 2 && memcmp(s, "./", 2) == 0) {
            i += 2;
        } else if (left >= 3 && memcmp(s, "/./", 3) == 0) {
            i += 2;
        } else if (left == 2 && memcmp(s, "/.", 2) == 0) {
            i += 1;
            w[o++] = '/';
            i += 1;
        } else if ((left >= 4 && memcmp(s, "/../", 4) == 0) ||
                   (left == 3 && memcmp(s, "/..", 3) == 0)) {
            i += 3;
            while (o > 0 && w[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
            if (left == 3)
                w[o++] = '/';
        } else if ((left == 1 && s[0] == '.') || (left == 2 && memcmp(s, "..", 2) == 0)) {
            i += left;
        } else {
            size_t k = s[0] == '/' ? 1 : 0;
            while (k < left && s[k] != '/')
                k++;
            memcpy(w + o, s, k);
            o += k;
            i += k;
        }
    }
    return o;
}

/* Whether host[0..n) is a name the fast path may keep (after lower-casing):
 * dot-separated labels of letters, digits and '-', the last one not
 * starting with a digit (curl rewrites IPv4 forms such as "127.1"), or a
 * canonical dotted quad. */
static bool fast_host(const char *h, size_t n)
{
    if (n == 0 || n > 253)
        return false;
    size_t label = 0, dots = 0;
    bool all_digits = true;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)h[i];
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
            dots++;
        } else if (is_alpha(c) || is_digit(c) || c == '-') {
            label++;
            all_digits &= is_digit(c);
        } else {
            return false;
        }
    }
    if (label == 0)
        return false;
    const char *last = memrchr(h, '.', n);
    last = last ? last + 1 : h;
    if (!is_digit((unsigned char)*last))
        return true;
    if (!all_digits || dots != 3)
        return false;
    for (const char *p = h; p < h + n;) { /* each part 0..255, no leading zero */
        size_t k = 0;
        unsigned v = 0;
        while (p + k < h + n && p[k] != '.')
            v = v * 10 + (unsigned)(p[k++] - '0');
        if (k == 0 || k > 3 || v > 255 || (k > 1 && p[0] == '0'))
            return false;
        p += k + 1;
    }
    return true;
}

/* The fast path: true when it decided (*st and *out set), false to fall
 * back on curl. */
static bool fast_resolve(const char *base, const char *href, char **out, urlnorm_status *st)
{
    size_t hn = strlen(href), bn = strlen(base);
    if (hn > URLNORM_MAX || bn > URLNORM_MAX)
        return false;
    /* The base: "http(s)://host[:port]/path[?query]", our normal form. */
    size_t sch = strncmp(base, "http://", 7) == 0 ? 7 : strncmp(base, "https://", 8) == 0 ? 8 : 0;
    if (!sch)
        return false;
    const char *bpath = strchr(base + sch, '/');
    if (!bpath || memchr(base, '#', bn) || !fast_text(bpath, bn - (size_t)(bpath - base)))
        return false;
    /* A normalised base has no dot segments and no empty ones. */
    size_t bpl = strcspn(bpath, "?");
    for (const char *sg = bpath; sg < bpath + bpl;) {
        size_t k = strcspn(sg + 1, "/?");
        if ((k == 1 && sg[1] == '.') || (k == 2 && sg[1] == '.' && sg[2] == '.') ||
            (k == 0 && sg + 1 < bpath + bpl))
            return false;
        sg += 1 + k;
    }
    size_t bhost = strcspn(base + sch, ":/");
    if (!fast_host(base + sch, bhost))
        return false;
    for (char c = 'A'; c <= 'Z'; c++) /* a normalised host is lower-case */
        if (memchr(base + sch, c, bhost))
            return false;
    if (base[sch + bhost] == ':') { /* a port: digits, no leading zero, not the default */
        const char *pp = base + sch + bhost + 1;
        size_t pl = (size_t)(bpath - pp);
        unsigned port = 0;
        if (pl == 0 || pl > 5 || pp[0] == '0')
            return false;
        for (size_t k = 0; k < pl; k++) {
            if (!is_digit((unsigned char)pp[k]))
                return false;
            port = port * 10 + (unsigned)(pp[k] - '0');
        }
        if (port > 65535 || port == (sch == 8 ? 443u : 80u))
            return false;
    }
    if (!fast_text(href, hn))
        return false;
    /* A scheme? (letters, digits, + - . before the first ':') */
    size_t i = 0;
    if (is_alpha((unsigned char)href[0])) {
        while (is_alpha((unsigned char)href[i]) || is_digit((unsigned char)href[i]) ||
               href[i] == '+' || href[i] == '-' || href[i] == '.')
            i++;
    }
    bool absolute = i > 0 && href[i] == ':';
    if (absolute && !((i == 4 && strncasecmp(href, "http", 4) == 0) ||
                      (i == 5 && strncasecmp(href, "https", 5) == 0))) {
        *out = NULL;
        *st = URLNORM_SCHEME;
        return true;
    }
    if (href[0] == '/' && href[1] == '/')
        return false; /* network-path references: curl */
    if (!absolute && memchr(href, ':', strcspn(href, "/?#")))
        return false; /* a colon in the first segment: not a relative path (RFC 3986 4.2) */

    /* Compose "scheme://authority" + path + query into a buffer. */
    char *buf = malloc(bn + hn + 16);
    if (!buf)
        return false;
    size_t o;
    const char *rest; /* href's path-and-query (after any authority) */
    size_t rn;
    const char *bquery = strchr(bpath, '?');
    size_t bpath_len = bquery ? (size_t)(bquery - bpath) : strlen(bpath);
    const char *hash = memchr(href, '#', hn);
    size_t hlen = hash ? (size_t)(hash - href) : hn; /* the fragment goes */
    if (absolute) {
        bool https = i == 5;
        const char *a = href + i + 1;
        if (strncmp(a, "//", 2) != 0) {
            free(buf);
            return false; /* "http:path": curl decides */
        }
        a += 2;
        size_t alen = strcspn(a, "/?#");
        if (a + alen > href + hlen) /* an authority running into the fragment */
            alen = (size_t)(href + hlen - a);
        const char *colon = memchr(a, ':', alen);
        size_t hostlen = colon ? (size_t)(colon - a) : alen;
        if (memchr(a, '@', alen) || !fast_host(a, hostlen)) {
            free(buf);
            return false;
        }
        unsigned port = 0;
        if (colon) {
            size_t pl = alen - hostlen - 1;
            if (pl == 0 || pl > 5 || colon[1] == '0') {
                free(buf);
                return false;
            }
            for (size_t k = 1; k <= pl; k++) {
                if (!is_digit((unsigned char)colon[k])) {
                    free(buf);
                    return false;
                }
                port = port * 10 + (unsigned)(colon[k] - '0');
            }
            if (port == 0 || port > 65535) {
                free(buf);
                return false;
            }
        }
        o = (size_t)sprintf(buf, https ? "https://" : "http://");
        for (size_t k = 0; k < hostlen; k++)
            buf[o++] = (char)(a[k] >= 'A' && a[k] <= 'Z' ? a[k] - 'A' + 'a' : a[k]);
        if (colon && port != (https ? 443u : 80u))
            o += (size_t)sprintf(buf + o, ":%u", port);
        rest = a + alen;
        rn = (size_t)(href + hlen - rest);
        if (rn == 0 || rest[0] == '?')
            buf[o++] = '/';
        memcpy(buf + o, rest, rn);
        o += rn;
    } else {
        size_t origin = (size_t)(bpath - base);
        memcpy(buf, base, origin);
        o = origin;
        if (hlen == 0) {
            /* "" and "#frag": the base document itself. */
            memcpy(buf + o, bpath, bn - origin);
            o += bn - origin;
        } else if (href[0] == '?') {
            memcpy(buf + o, bpath, bpath_len);
            o += bpath_len;
            memcpy(buf + o, href, hlen);
            o += hlen;
        } else if (href[0] == '/') {
            memcpy(buf + o, href, hlen);
            o += hlen;
        } else {
            /* merge: the base path up to its last '/', then href */
            size_t dir = bpath_len;
            while (dir > 0 && bpath[dir - 1] != '/')
                dir--;
            memcpy(buf + o, bpath, dir);
            o += dir;
            memcpy(buf + o, href, hlen);
            o += hlen;
        }
    }
    buf[o] = '\0';
    /* remove_dot_segments on the path part, not the query */
    char *path = strchr(strstr(buf, "://") + 3, '/');
    if (!path) {
        free(buf);
        return false;
    }
    char *q = strchr(path, '?');
    size_t pl = q ? (size_t)(q - path) : strlen(path);
    bool dot_end = (pl >= 2 && memcmp(path + pl - 2, "/.", 2) == 0) ||
                   (pl >= 3 && memcmp(path + pl - 3, "/..", 3) == 0) ||
                   (pl >= 3 && memcmp(path + pl - 3, "/./", 3) == 0) ||
                   (pl >= 4 && memcmp(path + pl - 4, "/../", 4) == 0);
    /* Empty segments, and a dot segment right before a query: curl's dot
     * removal differs from RFC 3986 5.2.4 there, and curl must be matched. */
    if (memmem(path, pl, "//", 2) || (q && dot_end)) {
        free(buf);
        return false;
    }
    char *res = malloc(strlen(buf) + 2);
    if (!res) {
        free(buf);
        return false;
    }
    size_t head = (size_t)(path - buf);
    memcpy(res, buf, head);
    size_t w = remove_dots(path, pl, res + head);
    if (w == 0)
        res[head + w++] = '/';
    else if (res[head] != '/') {
        free(buf);
        free(res);
        return false;
    }
    /* curl prints an empty query as none: "x?" is "x". */
    strcpy(res + head + w, q && q[1] ? q : "");
    free(buf);
    if (strlen(res) > URLNORM_MAX) {
        free(res);
        *out = NULL;
        *st = URLNORM_TOO_LONG;
        return true;
    }
    *out = res;
    *st = URLNORM_OK;
    return true;
}

urlnorm_status urlnorm_resolve(const char *base, const char *href, char **out)
{
    urlnorm_status fst;
    *out = NULL;
    if (base && href && fast_resolve(base, href, out, &fst))
        return fst;
    return urlnorm_resolve_curl(base, href, out);
}

urlnorm_status urlnorm_resolve_curl(const char *base, const char *href, char **out)
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
