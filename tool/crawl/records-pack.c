/* crawl/records-pack.c: a record as one byte string, the form the durable
 * frontiers keep (SQLite's record table, Redis's rec list). Written in a
 * binary form; read in that form and in the text form the Redis scripts
 * write. Any byte may appear in a field, in either form. */
#include "crawl/records-pack.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- packing */

/* The binary form (what record_pack writes): the byte PACK_V2, then the
 * fields in the order of the text form below, strings as a varint length
 * and the bytes, integers as zigzag varints, times as the 8 bytes of their
 * IEEE 754 bits, least significant first. No formatting and no parsing of
 * numbers: a record costs a few memcpys each way (the text form's snprintf
 * and strtod were 3% of a --state crawl's CPU). PACK_V2 can never start a
 * text record, which starts with a digit. */
#define PACK_V2 0x02

typedef struct pbuf {
    unsigned char *p;
    size_t len;
} pbuf;

static void put_u(pbuf *b, unsigned long long v)
{
    while (v >= 0x80) {
        b->p[b->len++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    b->p[b->len++] = (unsigned char)v;
}

static void put_i(pbuf *b, long long v)
{
    put_u(b, ((unsigned long long)v << 1) ^ (unsigned long long)(v < 0 ? -1 : 0));
}

static void put_s(pbuf *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    put_u(b, n);
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void put_d(pbuf *b, double d)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    for (int i = 0; i < 8; i++)
        b->p[b->len++] = (unsigned char)(bits >> (8 * i));
}

static size_t slen(const char *s)
{
    return (s ? strlen(s) : 0) + 10;
}

char *record_pack(const crawl_record *r, size_t *len)
{
    /* An upper bound: 10 bytes for any varint. */
    /* The reason by name, as in the text form: stable across builds. */
    const char *skip_name = r->skip == SKIP_NONE ? "" : crawl_skip_name(r->skip);
    size_t cap = 1 + slen(skip_name) + slen(r->url) + slen(r->parent) + 10 + 10;
    if (r->skip == SKIP_NONE)
        cap += slen(r->final_url) + slen(r->title) + slen(r->content_type) + slen(r->error) +
               14 * 10 + 3 * 8;
    pbuf b = {.p = malloc(cap)};
    if (!b.p)
        return NULL;
    b.p[b.len++] = PACK_V2;
    put_s(&b, skip_name);
    put_s(&b, r->url);
    put_s(&b, r->parent);
    put_u(&b, r->depth);
    if (r->skip == SKIP_NONE) {
        put_s(&b, r->final_url);
        put_i(&b, r->status);
        put_s(&b, r->title);
        put_u(&b, r->words);
        put_u(&b, r->links);
        put_u(&b, r->links_new);
        put_u(&b, r->links_seen);
        put_s(&b, r->content_type);
        put_i(&b, r->bytes);
        put_i(&b, r->wire_bytes);
        put_u(&b, r->truncated ? 1 : 0);
        put_u(&b, r->parsed ? 1 : 0);
        put_u(&b, r->attempts);
        put_d(&b, r->time);
        put_d(&b, r->start);
        put_d(&b, r->end);
        put_i(&b, r->worker);
        put_u(&b, r->error ? 1 : 0);
        if (r->error)
            put_s(&b, r->error);
        put_u(&b, r->dups);
    }
    *len = b.len;
    return (char *)b.p;
}

/* ------------------------------------------------------------- reading */

typedef struct rbuf {
    const unsigned char *p;
    size_t len, at;
    char *out; /* NUL-terminated copies of the strings */
    bool bad;
} rbuf;

static unsigned long long get_u(rbuf *b)
{
    unsigned long long v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (b->at >= b->len) {
            b->bad = true;
            return 0;
        }
        unsigned char c = b->p[b->at++];
        v |= (unsigned long long)(c & 0x7f) << shift;
        if (!(c & 0x80))
            return v;
    }
    b->bad = true;
    return 0;
}

static long long get_i(rbuf *b)
{
    unsigned long long u = get_u(b);
    return (long long)(u >> 1) ^ -(long long)(u & 1);
}

static char *get_s(rbuf *b)
{
    unsigned long long n = get_u(b);
    if (b->bad || n > b->len - b->at) {
        b->bad = true;
        return (char *)"";
    }
    char *s = b->out;
    memcpy(s, b->p + b->at, (size_t)n);
    s[n] = '\0';
    b->out += n + 1;
    b->at += (size_t)n;
    return s;
}

static double get_d(rbuf *b)
{
    if (b->len - b->at < 8) {
        b->bad = true;
        return 0;
    }
    uint64_t bits = 0;
    for (int i = 0; i < 8; i++)
        bits |= (uint64_t)b->p[b->at++] << (8 * i);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static int unpack_v2(const char *packed, size_t len, crawl_record_fn *fn, void *ud)
{
    /* The strings' copies with their NULs: each has a length byte or more
     * in the input, so len bytes hold them all. */
    char *buf = malloc(len + 1);
    if (!buf)
        return ENOMEM;
    rbuf b = {.p = (const unsigned char *)packed, .len = len, .at = 1, .out = buf};
    const char *skip = get_s(&b);
    crawl_record r = {.skip = skip[0] ? crawl_skip_from_name(skip) : SKIP_NONE,
                      .worker = -1,
                      .title = "",
                      .content_type = ""};
    r.url = get_s(&b);
    r.parent = get_s(&b);
    if (!r.parent[0])
        r.parent = NULL;
    r.depth = (unsigned)get_u(&b);
    if (r.skip == SKIP_NONE) {
        r.final_url = get_s(&b);
        r.status = (long)get_i(&b);
        r.title = get_s(&b);
        r.words = (unsigned long)get_u(&b);
        r.links = (size_t)get_u(&b);
        r.links_new = (size_t)get_u(&b);
        r.links_seen = (size_t)get_u(&b);
        r.content_type = get_s(&b);
        r.bytes = get_i(&b);
        r.wire_bytes = get_i(&b);
        r.truncated = get_u(&b) != 0;
        r.parsed = get_u(&b) != 0;
        r.attempts = (unsigned)get_u(&b);
        r.time = get_d(&b);
        r.start = get_d(&b);
        r.end = get_d(&b);
        r.worker = (int)get_i(&b);
        if (get_u(&b))
            r.error = get_s(&b);
        r.dups = (unsigned long)get_u(&b);
    }
    if (b.bad || b.at != len || r.skip == SKIP_N) {
        free(buf);
        return EINVAL;
    }
    fn(ud, &r);
    free(buf);
    return 0;
}

/* ------------------------------------------------------ the text form */

/* The text form, which the Redis scripts write for the skip records they
 * make and which state files of earlier builds hold: "len:bytes" fields:
 * skip name ("" for a page), url, parent, depth, then for pages the rest
 * (crawl_record order), error as "1" + text or "0". */

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

static int unpack_text(const char *packed, size_t len, crawl_record_fn *fn, void *ud)
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

int record_unpack(const char *packed, size_t len, crawl_record_fn *fn, void *ud)
{
    if (len > 0 && (unsigned char)packed[0] == PACK_V2)
        return unpack_v2(packed, len, fn, ud);
    return unpack_text(packed, len, fn, ud);
}
