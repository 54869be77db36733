/* robots.c: an RFC 9309 robots.txt parser and matcher.
 *
 * DESIGN: see robots.h. One pass over the lines builds two rule lists, the
 * rules of groups naming us and the rules of "*" groups; at the end the
 * first list wins if any group named us. A group is a run of user-agent
 * lines followed by rules; a user-agent line after a rule starts a new group.
 * Matching is the iterative wildcard algorithm with one backtrack point
 * (the last '*'), which never recurses and is O(pattern * path) at worst. */
#include "parse/robots.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

typedef struct rule {
    char *pat;  /* canonical, '$' anchor stripped */
    size_t len; /* priority: octets of the pattern as written, canonical */
    bool allow, anchored;
} rule;

typedef struct rules {
    rule *v;
    size_t n, cap;
    double delay; /* -1: none seen */
} rules;

struct robots {
    rules r;
    bool disallow_all;
};

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* Canonical percent-encoding of s[0..n) into a new string. */
static char *canon(const char *s, size_t n)
{
    char *out = malloc(3 * n + 1);
    if (!out)
        return NULL;
    static const char hex[] = "0123456789ABCDEF";
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int hi, lo;
        if (c == '%' && i + 2 < n && (hi = hexval((unsigned char)s[i + 1])) >= 0 &&
            (lo = hexval((unsigned char)s[i + 2])) >= 0) {
            unsigned char d = (unsigned char)(hi * 16 + lo);
            if (unreserved(d)) {
                out[j++] = (char)d;
            } else {
                out[j++] = '%';
                out[j++] = hex[hi];
                out[j++] = hex[lo];
            }
            i += 2;
        } else if (c >= 0x80 || c <= 0x20) {
            out[j++] = '%';
            out[j++] = hex[c >> 4];
            out[j++] = hex[c & 15];
        } else {
            out[j++] = (char)c;
        }
    }
    out[j] = '\0';
    return out;
}

static int add_rule(rules *rs, bool allow, const char *v, size_t n)
{
    /* "Disallow:" with no path is no rule at all. */
    if (n == 0 || rs->n >= ROBOTS_MAX_RULES)
        return 0;
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? 2 * rs->cap : 8;
        rule *nv = realloc(rs->v, cap * sizeof *nv);
        if (!nv)
            return ENOMEM;
        rs->v = nv;
        rs->cap = cap;
    }
    rule *r = &rs->v[rs->n];
    r->allow = allow;
    r->pat = canon(v, n);
    if (!r->pat)
        return ENOMEM;
    r->len = strlen(r->pat);
    r->anchored = r->len > 0 && r->pat[r->len - 1] == '$';
    if (r->anchored)
        r->pat[strlen(r->pat) - 1] = '\0';
    rs->n++;
    return 0;
}

static void rules_free(rules *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        free(rs->v[i].pat);
    free(rs->v);
    memset(rs, 0, sizeof *rs);
}

/* Whether the user-agent value v[0..n) names product: its token (up to the
 * first character outside [A-Za-z_-]) equals product, ignoring case. */
static bool names_us(const char *v, size_t n, const char *product)
{
    size_t k = 0;
    while (k < n && (isalpha((unsigned char)v[k]) || v[k] == '_' || v[k] == '-'))
        k++;
    return k > 0 && k == strlen(product) && strncasecmp(v, product, k) == 0;
}

static bool key_is(const char *k, size_t n, const char *want)
{
    return n == strlen(want) && strncasecmp(k, want, n) == 0;
}

static double parse_delay(const char *v, size_t n)
{
    char buf[32];
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, v, n);
    buf[n] = '\0';
    char *end;
    double d = strtod(buf, &end);
    if (end == buf || !isfinite(d) || d < 0)
        return -1;
    return d > ROBOTS_MAX_DELAY ? ROBOTS_MAX_DELAY : d;
}

int robots_parse(const char *body, size_t n, const char *product, robots **out)
{
    robots *rb = calloc(1, sizeof *rb);
    if (!rb)
        return ENOMEM;
    rules mine = {.delay = -1}, star = {.delay = -1};
    bool named = false;
    /* The current group: does it name us, is it "*", and have we seen a rule
     * in it yet (a user-agent line after a rule starts a new group). */
    bool g_mine = false, g_star = false, g_rules = false, in_group = false;
    int rc = 0;
    if (n > ROBOTS_MAX_BYTES)
        n = ROBOTS_MAX_BYTES;
    /* A UTF-8 byte order mark is allowed at the start. */
    if (n >= 3 && memcmp(body, "\xef\xbb\xbf", 3) == 0) {
        body += 3;
        n -= 3;
    }
    size_t i = 0;
    while (i < n && rc == 0) {
        size_t e = i;
        while (e < n && body[e] != '\n' && body[e] != '\r')
            e++;
        const char *line = body + i;
        size_t len = e - i;
        i = e + 1;
        const char *hash = memchr(line, '#', len);
        if (hash)
            len = (size_t)(hash - line);
        while (len > 0 && is_ws(*line)) {
            line++;
            len--;
        }
        const char *colon = memchr(line, ':', len);
        if (!colon)
            continue;
        size_t klen = (size_t)(colon - line);
        while (klen > 0 && is_ws(line[klen - 1]))
            klen--;
        const char *v = colon + 1;
        size_t vlen = len - (size_t)(v - line);
        while (vlen > 0 && is_ws(*v)) {
            v++;
            vlen--;
        }
        while (vlen > 0 && is_ws(v[vlen - 1]))
            vlen--;
        if (key_is(line, klen, "user-agent")) {
            if (!in_group || g_rules) {
                g_mine = g_star = g_rules = false;
                in_group = true;
            }
            if (vlen == 1 && v[0] == '*')
                g_star = true;
            else if (names_us(v, vlen, product))
                g_mine = named = true;
        } else if (key_is(line, klen, "allow") || key_is(line, klen, "disallow")) {
            if (!in_group)
                continue;
            g_rules = true;
            bool allow = key_is(line, klen, "allow");
            if (g_mine)
                rc = add_rule(&mine, allow, v, vlen);
            if (rc == 0 && g_star)
                rc = add_rule(&star, allow, v, vlen);
        } else if (key_is(line, klen, "crawl-delay")) {
            if (!in_group)
                continue;
            g_rules = true;
            double d = parse_delay(v, vlen);
            if (d >= 0 && g_mine)
                mine.delay = d;
            if (d >= 0 && g_star)
                star.delay = d;
        }
        /* Sitemap and unknown keys are not group members: ignore them. */
    }
    if (rc != 0) {
        rules_free(&mine);
        rules_free(&star);
        free(rb);
        return rc;
    }
    if (named) {
        rb->r = mine;
        rules_free(&star);
    } else {
        rb->r = star;
        rules_free(&mine);
    }
    *out = rb;
    return 0;
}

int robots_from_response(long status, const char *body, size_t n, const char *product, robots **out)
{
    if (status >= 200 && status < 300)
        return robots_parse(body, n, product, out);
    robots *rb = calloc(1, sizeof *rb);
    if (!rb)
        return ENOMEM;
    rb->r.delay = -1;
    rb->disallow_all = !(status >= 300 && status < 500);
    *out = rb;
    return 0;
}

/* Whether pat (no anchor) matches the start of s (the whole of s when
 * anchored). '*' matches any run of characters. */
static bool match(const char *pat, const char *s, bool anchored)
{
    const char *star = NULL, *star_s = NULL;
    for (;;) {
        if (*pat == '\0') {
            if (!anchored || *s == '\0')
                return true;
        } else if (*pat == '*') {
            star = ++pat;
            star_s = s;
            continue;
        } else if (*s != '\0' && *pat == *s) {
            pat++;
            s++;
            continue;
        }
        /* Mismatch (or anchored and text left): let the last '*' eat one more. */
        if (!star || *star_s == '\0')
            return false;
        pat = star;
        s = ++star_s;
    }
}

bool robots_allowed(const robots *r, const char *path)
{
    if (!r)
        return true;
    if (strcmp(path, "/robots.txt") == 0)
        return true;
    if (r->disallow_all)
        return false;
    if (r->r.n == 0)
        return true;
    char *p = canon(path, strlen(path));
    if (!p)
        return false; /* out of memory: the safe answer */
    size_t best = 0;
    bool found = false, allow = true;
    for (size_t i = 0; i < r->r.n; i++) {
        const rule *ru = &r->r.v[i];
        if (found && (ru->len < best || (ru->len == best && !ru->allow)))
            continue;
        if (!match(ru->pat, p, ru->anchored))
            continue;
        if (!found || ru->len > best || ru->allow) {
            best = ru->len;
            allow = ru->allow;
            found = true;
        }
    }
    free(p);
    return allow;
}

double robots_crawl_delay(const robots *r)
{
    return r && r->r.delay > 0 ? r->r.delay : 0;
}

size_t robots_rule_count(const robots *r)
{
    return r ? r->r.n : 0;
}

void robots_free(robots *r)
{
    if (!r)
        return;
    rules_free(&r->r);
    free(r);
}

static bool token_char(char c)
{
    return isalpha((unsigned char)c) || c == '_' || c == '-';
}

void robots_product_token(const char *user_agent, char *buf, size_t n)
{
    size_t k = 0;
    while (user_agent && token_char(user_agent[k]) && k + 1 < n)
        k++;
    if (k == 0 || (user_agent[k] && token_char(user_agent[k]))) {
        snprintf(buf, n, "weft"); /* none, or too long to be one */
        return;
    }
    memcpy(buf, user_agent, k);
    buf[k] = '\0';
}

bool robots_valid_token(const char *name)
{
    size_t k = 0;
    while (token_char(name[k]))
        k++;
    return k > 0 && k < 64 && name[k] == '\0';
}
