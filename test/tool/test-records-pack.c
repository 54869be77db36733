/* test-records-pack.c: a crawl record packed (the form the SQLite and Redis
 * frontiers keep) reads back field for field; the text form the Redis
 * scripts write still reads; and every cut or altered packing is refused
 * (EINVAL) or read as some record, never a crash or an overread (the
 * sanitizer builds run this too). */
#include "crawl/records-pack.h"
#include "test.h"

#include <errno.h>
#include <math.h>

typedef struct got {
    int calls;
    crawl_record r;
    char url[256], parent[256], final_url[256], title[256], ctype[256], error[256];
    bool has_parent, has_error;
} got;

static void copy(char *dst, const char *s)
{
    snprintf(dst, 256, "%s", s ? s : "");
}

static void keep(void *ud, const crawl_record *r)
{
    got *g = ud;
    g->calls++;
    g->r = *r;
    copy(g->url, r->url);
    copy(g->parent, r->parent);
    copy(g->final_url, r->final_url);
    copy(g->title, r->title);
    copy(g->ctype, r->content_type);
    copy(g->error, r->error);
    g->has_parent = r->parent != NULL;
    g->has_error = r->error != NULL;
}

static void ignore(void *ud, const crawl_record *r)
{
    (*(int *)ud)++;
}

TEST(records_pack_page_round_trip)
{
    crawl_record r = {.skip = SKIP_NONE,
                      .url = "http://h/p?q=1#x",
                      .parent = "http://h/",
                      .depth = 7,
                      .final_url = "http://h/final",
                      .status = 503,
                      .title = "A title: with \"quotes\", 12:34 and \xc3\xa9",
                      .words = 123456789ul,
                      .links = 300,
                      .links_new = 120,
                      .links_seen = 180,
                      .content_type = "text/html; charset=utf-8",
                      .bytes = 5000000000ll,
                      .wire_bytes = -1,
                      .truncated = true,
                      .parsed = true,
                      .attempts = 3,
                      .time = 0.123456789,
                      .start = 1e-9,
                      .end = 12345.5,
                      .worker = -1,
                      .error = "HTTP 503",
                      .dups = 42};
    size_t len;
    char *p = record_pack(&r, &len);
    CHECK(p != NULL);
    got g = {0};
    CHECK_OK(record_unpack(p, len, keep, &g));
    CHECK_EQ(g.calls, 1);
    CHECK_EQ(g.r.skip, SKIP_NONE);
    CHECK_STR(g.url, r.url);
    CHECK_STR(g.parent, r.parent);
    CHECK_EQ(g.r.depth, 7);
    CHECK_STR(g.final_url, r.final_url);
    CHECK_EQ(g.r.status, 503);
    CHECK_STR(g.title, r.title);
    CHECK(g.r.words == 123456789ul);
    CHECK_EQ(g.r.links, 300);
    CHECK_EQ(g.r.links_new, 120);
    CHECK_EQ(g.r.links_seen, 180);
    CHECK_STR(g.ctype, r.content_type);
    CHECK(g.r.bytes == 5000000000ll);
    CHECK(g.r.wire_bytes == -1);
    CHECK(g.r.truncated && g.r.parsed);
    CHECK_EQ(g.r.attempts, 3);
    /* Times come back to the bit, not to a printed precision. */
    CHECK(g.r.time == r.time && g.r.start == r.start && g.r.end == r.end);
    CHECK_EQ(g.r.worker, -1);
    CHECK(g.has_error);
    CHECK_STR(g.error, "HTTP 503");
    CHECK_EQ(g.r.dups, 42);

    /* Every shorter prefix is refused, and so is a byte more. */
    for (size_t n = 0; n < len; n++) {
        int calls = 0;
        CHECK_RC(record_unpack(p, n, ignore, &calls), EINVAL);
        CHECK_EQ(calls, 0);
    }
    char *longer = malloc(len + 1);
    memcpy(longer, p, len);
    longer[len] = 'x';
    CHECK_RC(record_unpack(longer, len + 1, ignore, &(int){0}), EINVAL);
    free(longer);
    free(p);
}

TEST(records_pack_nulls_and_skips)
{
    /* A start page: no parent, no error, no final URL, no title. */
    crawl_record r = {.skip = SKIP_NONE, .url = "http://h/", .depth = 0, .status = 200};
    size_t len;
    char *p = record_pack(&r, &len);
    CHECK(p != NULL);
    got g = {0};
    CHECK_OK(record_unpack(p, len, keep, &g));
    CHECK(!g.has_parent);
    CHECK(!g.has_error);
    CHECK_STR(g.title, "");
    CHECK_EQ(g.r.status, 200);
    free(p);

    /* Each skip reason by name, with only its four fields. */
    crawl_skip reasons[] = {SKIP_ROBOTS, SKIP_DEPTH,    SKIP_OFFSITE, SKIP_DUPLICATE,
                            SKIP_LIMIT,  SKIP_FILTERED, SKIP_SCHEME,  SKIP_TOO_LONG};
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        crawl_record s = {.skip = reasons[i], .url = "mailto:x", .parent = "http://h/", .depth = 2};
        p = record_pack(&s, &len);
        CHECK(p != NULL);
        g = (got){0};
        CHECK_OK(record_unpack(p, len, keep, &g));
        CHECK_EQ(g.r.skip, reasons[i]);
        CHECK_STR(g.url, "mailto:x");
        CHECK_STR(g.parent, "http://h/");
        CHECK_EQ(g.r.depth, 2);
        free(p);
    }
}

TEST(records_pack_text_form_reads)
{
    /* What the Redis scripts push for a robots skip, and a text-form page
     * as earlier state files hold it. */
    const char *skip = "6:robots10:http://h/x9:http://h/1:3";
    got g = {0};
    CHECK_OK(record_unpack(skip, strlen(skip), keep, &g));
    CHECK_EQ(g.r.skip, SKIP_ROBOTS);
    CHECK_STR(g.url, "http://h/x");
    CHECK_EQ(g.r.depth, 3);
    const char *page = "0:9:http://h/0:1:09:http://h/3:2002:Hi1:21:11:11:09:text/html2:101:"
                       "01:01:11:18:0.2500008:1.0000008:1.2500001:01:01:0";
    g = (got){0};
    CHECK_OK(record_unpack(page, strlen(page), keep, &g));
    CHECK_EQ(g.r.skip, SKIP_NONE);
    CHECK(!g.has_parent);
    CHECK_EQ(g.r.status, 200);
    CHECK_STR(g.title, "Hi");
    CHECK(fabs(g.r.time - 0.25) < 1e-9);
    CHECK(!g.has_error);
    /* Cut short: refused. */
    CHECK_RC(record_unpack(page, 20, ignore, &(int){0}), EINVAL);
}

TEST(records_pack_garbage_never_crashes)
{
    /* Bytes flipped in a packed page: refused or read, never overread (the
     * ASan build checks), and a long run of continuation bytes is no
     * number. */
    crawl_record r = {.skip = SKIP_NONE,
                      .url = "http://h/a",
                      .parent = "http://h/",
                      .final_url = "http://h/a",
                      .title = "t",
                      .content_type = "text/html",
                      .error = "e"};
    size_t len;
    char *p = record_pack(&r, &len);
    CHECK(p != NULL);
    unsigned seed = 1;
    for (int round = 0; round < 5000; round++) {
        char *c = malloc(len);
        memcpy(c, p, len);
        seed = seed * 1103515245u + 12345u;
        size_t at = 1 + (seed >> 8) % (len - 1);
        c[at] = (char)(seed >> 16);
        int calls = 0;
        int rc = record_unpack(c, len, ignore, &calls);
        CHECK(rc == 0 || rc == EINVAL);
        CHECK_EQ(calls, rc == 0 ? 1 : 0);
        free(c);
    }
    free(p);
    unsigned char run[40];
    memset(run, 0xff, sizeof run);
    run[0] = 0x02;
    CHECK_RC(record_unpack((const char *)run, sizeof run, ignore, &(int){0}), EINVAL);
}
