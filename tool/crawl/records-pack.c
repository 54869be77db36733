/* crawl/records-pack.c: a record as one byte string, the form the durable
 * frontiers keep (SQLite's record table, Redis's rec list): "len:bytes"
 * fields, so any byte may appear in a field. */
#include "crawl/records-pack.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- records */

typedef struct pbuf {
    char *p;
    size_t len, cap;
    bool failed;
} pbuf;

static void put(pbuf *b, const char *s, size_t n)
{
    char head[24];
    int hl = snprintf(head, sizeof head, "%zu:", n);
    if (b->failed)
        return;
    if (b->len + (size_t)hl + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + (size_t)hl + n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->failed = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, head, (size_t)hl);
    memcpy(b->p + b->len + hl, s, n);
    b->len += (size_t)hl + n;
}

static void puts_(pbuf *b, const char *s)
{
    put(b, s ? s : "", s ? strlen(s) : 0);
}

static void putn(pbuf *b, const char *fmt, double v)
{
    char t[64];
    snprintf(t, sizeof t, fmt, v);
    puts_(b, t);
}

static void putll(pbuf *b, long long v)
{
    char t[32];
    snprintf(t, sizeof t, "%lld", v);
    puts_(b, t);
}

/* A record as Redis keeps it: "len:bytes" fields: skip name ("" for a
 * page), url, parent, depth, then for pages the rest (crawl_record order),
 * error as "1" + text or "0". NULL when out of memory. */
char *record_pack(const crawl_record *r, size_t *len)
{
    pbuf b = {0};
    puts_(&b, r->skip == SKIP_NONE ? "" : crawl_skip_name(r->skip));
    puts_(&b, r->url);
    puts_(&b, r->parent);
    putll(&b, r->depth);
    if (r->skip == SKIP_NONE) {
        puts_(&b, r->final_url);
        putll(&b, r->status);
        puts_(&b, r->title);
        putll(&b, (long long)r->words);
        putll(&b, (long long)r->links);
        putll(&b, (long long)r->links_new);
        putll(&b, (long long)r->links_seen);
        puts_(&b, r->content_type);
        putll(&b, r->bytes);
        putll(&b, r->wire_bytes);
        putll(&b, r->truncated);
        putll(&b, r->parsed);
        putll(&b, r->attempts);
        putn(&b, "%.6f", r->time);
        putn(&b, "%.6f", r->start);
        putn(&b, "%.6f", r->end);
        putll(&b, r->worker);
        if (r->error) {
            size_t n = strlen(r->error);
            char *e = malloc(n + 2);
            if (!e) {
                free(b.p);
                return NULL;
            }
            e[0] = '1';
            memcpy(e + 1, r->error, n + 1);
            puts_(&b, e);
            free(e);
        } else {
            puts_(&b, "0");
        }
        putll(&b, (long long)r->dups);
    }
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}

/* Splits a packed record (s, len) into NUL-terminated fields copied into
 * buf (len + max bytes). Returns the number of fields, or -1 when it is
 * malformed. */
static int unpack(const char *s, size_t len, char *buf, char **f, int max)
{
    int n = 0;
    size_t i = 0, o = 0;
    while (i < len) {
        size_t l = 0, j = i;
        while (j < len && s[j] >= '0' && s[j] <= '9' && j - i < 12)
            l = l * 10 + (size_t)(s[j++] - '0');
        if (j == i || j >= len || s[j] != ':' || l > len - j - 1 || n == max)
            return -1;
        memcpy(buf + o, s + j + 1, l);
        buf[o + l] = '\0';
        f[n++] = buf + o;
        o += l + 1;
        i = j + 1 + l;
    }
    return n;
}

int record_unpack(const char *packed, size_t len, crawl_record_fn *fn, void *ud)
{
    char *s = malloc(len + 33);
    if (!s)
        return ENOMEM;
    char *f[32];
    int n = unpack(packed, len, s, f, 32);
    if (n < 4) {
        free(s);
        return EINVAL;
    }
    crawl_record r = {.skip = f[0][0] ? crawl_skip_from_name(f[0]) : SKIP_NONE,
                      .url = f[1],
                      .parent = f[2][0] ? f[2] : NULL,
                      .depth = (unsigned)strtoul(f[3], NULL, 10),
                      .worker = -1,
                      .title = "",
                      .content_type = ""};
    if (r.skip == SKIP_N)
        r.skip = SKIP_SCHEME;
    if (r.skip == SKIP_NONE) {
        if (n < 22) {
            free(s);
            return EINVAL;
        }
        r.final_url = f[4];
        r.status = strtol(f[5], NULL, 10);
        r.title = f[6];
        r.words = strtoul(f[7], NULL, 10);
        r.links = strtoul(f[8], NULL, 10);
        r.links_new = strtoul(f[9], NULL, 10);
        r.links_seen = strtoul(f[10], NULL, 10);
        r.content_type = f[11];
        r.bytes = strtoll(f[12], NULL, 10);
        r.wire_bytes = strtoll(f[13], NULL, 10);
        r.truncated = f[14][0] == '1';
        r.parsed = f[15][0] == '1';
        r.attempts = (unsigned)strtoul(f[16], NULL, 10);
        r.time = strtod(f[17], NULL);
        r.start = strtod(f[18], NULL);
        r.end = strtod(f[19], NULL);
        r.worker = (int)strtol(f[20], NULL, 10);
        r.error = f[21][0] == '1' ? f[21] + 1 : NULL;
        r.dups = n > 22 ? strtoul(f[22], NULL, 10) : 0;
    }
    fn(ud, &r);
    free(s);
    return 0;
}
