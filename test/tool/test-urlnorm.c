/* test-urlnorm.c: link resolution and normalisation (tool/parse/urlnorm.c), as a
 * table of (base, href, expected); NULL expected means "not followed", with
 * the reason in the status column. */
#include "test.h"
#include "parse/urlnorm.h"

#include <curl/curl.h>

typedef struct row {
    const char *base, *href, *want;
    urlnorm_status st;
} row;

static const row rows[] = {
    /* RFC 3986 5.4.1, normal examples (fragments dropped, base "http://a/b/c/d;p?q"). */
    {"http://a/b/c/d;p?q", "g", "http://a/b/c/g", URLNORM_OK},
    {"http://a/b/c/d;p?q", "./g", "http://a/b/c/g", URLNORM_OK},
    {"http://a/b/c/d;p?q", "g/", "http://a/b/c/g/", URLNORM_OK},
    {"http://a/b/c/d;p?q", "/g", "http://a/g", URLNORM_OK},
    {"http://a/b/c/d;p?q", "//g", "http://g/", URLNORM_OK},
    {"http://a/b/c/d;p?q", "?y", "http://a/b/c/d;p?y", URLNORM_OK},
    {"http://a/b/c/d;p?q", "g?y", "http://a/b/c/g?y", URLNORM_OK},
    {"http://a/b/c/d;p?q", "#s", "http://a/b/c/d;p?q", URLNORM_OK},
    {"http://a/b/c/d;p?q", "g#s", "http://a/b/c/g", URLNORM_OK},
    {"http://a/b/c/d;p?q", "", "http://a/b/c/d;p?q", URLNORM_OK},
    {"http://a/b/c/d;p?q", ".", "http://a/b/c/", URLNORM_OK},
    {"http://a/b/c/d;p?q", "..", "http://a/b/", URLNORM_OK},
    {"http://a/b/c/d;p?q", "../g", "http://a/b/g", URLNORM_OK},
    {"http://a/b/c/d;p?q", "../../g", "http://a/g", URLNORM_OK},
    /* abnormal: too many "..", dot segments in the middle */
    {"http://a/b/c/d;p?q", "../../../g", "http://a/g", URLNORM_OK},
    {"http://a/b/c/d;p?q", "/./g", "http://a/g", URLNORM_OK},
    {"http://a/b/c/d;p?q", "g/../h", "http://a/b/c/h", URLNORM_OK},
    /* userinfo names no other page: removed */
    {"http://a/x", "http://user:secret@a/x", "http://a/x", URLNORM_OK},
    {"http://a/x", "//u@A:80/y", "http://a/y", URLNORM_OK},
    {"http://u:p@a/x", "y", "http://a/y", URLNORM_OK},
    {"http://a/x", "https://user:pw;opt@b.example:8443/", "https://b.example:8443/", URLNORM_OK},
    /* absolute, protocol-relative, case, default port, fragment */
    {"http://a/x", "HTTP://Example.COM:80/P#frag", "http://example.com/P", URLNORM_OK},
    {"http://a/x", "https://Example.com:443", "https://example.com/", URLNORM_OK},
    {"http://a/x", "https://example.com:8443/a", "https://example.com:8443/a", URLNORM_OK},
    {"https://a/x", "//B.example:443/y", "https://b.example/y", URLNORM_OK},
    {"http://127.0.0.1:8080/page/3", "4", "http://127.0.0.1:8080/page/4", URLNORM_OK},
    {"http://127.0.0.1:8080/page/3", "//127.0.0.1:8080/page/5#x", "http://127.0.0.1:8080/page/5",
     URLNORM_OK},
    {"http://[::1]:8080/", "a", "http://[::1]:8080/a", URLNORM_OK},
    /* whitespace around and inside a link */
    {"http://a/b/", "  \n c\td \n", "http://a/b/cd", URLNORM_OK},
    {"http://a/b/", "x y", "http://a/b/x%20y", URLNORM_OK},
    /* percent-escapes: unreserved decoded, the rest upper-cased, never doubled */
    {"http://a/", "/%7euser/%2fx%2Fy?q=%3d", "http://a/~user/%2Fx%2Fy?q=%3D", URLNORM_OK},
    {"http://a/", "/a%20b", "http://a/a%20b", URLNORM_OK},
    /* found by fuzz-urlnorm: a stray '%' must not form an escape on the next
     * pass, and a base's raw bytes are escaped like a link's */
    {"http://a/", "/%%33", "http://a/%253", URLNORM_OK},
    {"http://a/\xb0/", "#x", "http://a/%B0/", URLNORM_OK},
    /* and by libFuzzer: "%2e" stays escaped (decoded it would be a new dot
     * segment), and hosts with raw bytes or '%' are refused */
    {"http://a/", "/x//%2e", "http://a/x//%2E", URLNORM_OK},
    {NULL, "http://h\xc3\xa9st/", NULL, URLNORM_BAD},
    {NULL, "http://ho%41st/", "http://hoast/", URLNORM_OK},
    {NULL, "http://ho%25st/", NULL, URLNORM_BAD},
    /* not followed */
    {"http://a/", "mailto:someone@example.com", NULL, URLNORM_SCHEME},
    {"http://a/", "javascript:void(0)", NULL, URLNORM_SCHEME},
    {"http://a/", "JavaScript:alert(1)", NULL, URLNORM_SCHEME},
    {"http://a/", "data:text/html,<a>", NULL, URLNORM_SCHEME},
    {"http://a/", "tel:+100", NULL, URLNORM_SCHEME},
    {"http://a/", "ftp://a/b", NULL, URLNORM_SCHEME},
    {"http://a/", "http://", NULL, URLNORM_BAD},
    {NULL, "relative/only", NULL, URLNORM_BAD},
    {NULL, "http://Host/a/./b/../c", "http://host/a/c", URLNORM_OK},
    {"mailto:x@y", "z", NULL, URLNORM_BAD},
};

TEST(urlnorm_table)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const row *r = &rows[i];
        char *out = (char *)1;
        urlnorm_status st = urlnorm_resolve(r->base, r->href, &out);
        if (st != r->st)
            test_fail(__FILE__, __LINE__, "row %zu (%s + %s): status %s, wanted %s", i,
                      r->base ? r->base : "NULL", r->href, urlnorm_strstatus(st),
                      urlnorm_strstatus(r->st));
        if (r->want) {
            CHECK(out != NULL);
            if (strcmp(out, r->want) != 0)
                test_fail(__FILE__, __LINE__, "row %zu (%s + %s): %s, wanted %s", i,
                          r->base ? r->base : "NULL", r->href, out, r->want);
        } else {
            CHECK(out == NULL);
        }
        free(out);
    }
}

TEST(urlnorm_idempotent)
{
    /* Normalising a normalised URL changes nothing: the de-dup key is stable. */
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        if (!rows[i].want)
            continue;
        char *again = NULL;
        CHECK_EQ(urlnorm(rows[i].want, &again), URLNORM_OK);
        CHECK_STR(again, rows[i].want);
        free(again);
    }
}

TEST(urlnorm_too_long)
{
    char *big = malloc(URLNORM_MAX + 100);
    CHECK(big);
    strcpy(big, "http://a/");
    memset(big + 9, 'x', URLNORM_MAX);
    big[9 + URLNORM_MAX] = '\0';
    char *out = NULL;
    CHECK_EQ(urlnorm(big, &out), URLNORM_TOO_LONG);
    CHECK(out == NULL);
    /* 8,000 octets (RFC 9110 4.1's minimum to support) are fine. */
    CHECK(URLNORM_MAX >= 8000);
    big[8000] = '\0';
    CHECK_EQ(urlnorm(big, &out), URLNORM_OK);
    CHECK_EQ(strlen(out), 8000);
    free(out);
    /* Resolved against a base, a long relative link is judged whole. */
    char *rel = big + 9 - 1; /* "/xxx...", 7,992 octets */
    CHECK_EQ(urlnorm_resolve("http://a/b", rel, &out), URLNORM_OK);
    free(out);
    free(big);
}

TEST(urlnorm_parts)
{
    char buf[64];
    CHECK(urlnorm_origin("http://u:p@h.example:81/a?b", buf, sizeof buf));
    CHECK_STR(buf, "http://h.example:81");
    CHECK(urlnorm_host("http://u:p@h.example:81/a?b", buf, sizeof buf));
    CHECK_STR(buf, "h.example");
    CHECK(urlnorm_host("http://[::1]:8080/", buf, sizeof buf));
    CHECK_STR(buf, "::1");
    CHECK_STR(urlnorm_path("http://h/a/b?c=d"), "/a/b?c=d");
    CHECK_STR(urlnorm_path("http://h"), "/");
    CHECK(!urlnorm_origin("nothing", buf, sizeof buf));
    CHECK(!urlnorm_origin("http://a-very-long-host-name-that-does-not-fit.example/", buf, 16));
}

TEST(urlnorm_redact_hides_userinfo)
{
    const char *cases[][2] = {
        {"http://user:secret@h/p?q@x", "http://***@h/p?q@x"},
        {"https://a@b@h:8080/", "https://***@h:8080/"},
        {"http://h/p@x", "http://h/p@x"},
        {"http://h", "http://h"},
        {"no scheme", "no scheme"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *r = urlnorm_redact(cases[i][0]);
        CHECK(r != NULL);
        CHECK_STR(r, cases[i][1]);
        free(r);
    }
}

/* The fast path of plain links must agree with the curl path, status and
 * URL, on every base and href: RFC 3986 5.4's bases and real-world ones
 * against hrefs pieced together at random from the bits that matter
 * (dot segments, escapes, schemes, ports, hosts, queries, fragments). */
TEST(urlnorm_fast_path_agrees_with_curl)
{
    static const char *bases[] = {
        "http://a/b/c/d;p?q",
        "http://a/b/c/d;p?q=1&r=%2F",
        "https://example.com/",
        "http://127.0.0.1:8080/page/3",
        "http://h/dir/",
        "https://h:8443/a/b?x",
        "http://h/",
        "http://h/a%20b/c",
        "http://H/a",
        "http://h:80/x",
        "http://u@h/x",
        "http://h/a/../b",
    };
    static const char *bits[] = {
        "a",           "b",         ".",     "..",      "/",        "?",       "#",
        "%2F",         "%41",       "%7e",   "%7E",     "%2e",      ":",       "@",
        "g;x",         "=",         "&",     "~",       "80",       "0",       "-",
        "_",           "!",         "'",     "(",       "*",        "+",       ",",
        "$",           "%",         "%zz",   "x y",     "\\",       "[",       "]",
        "%00",         "//",        "http:", "HTTP://", "https://", "mailto:", "javascript:",
        "Example.COM", "127.0.0.1", "1.2.3", "0x7f.1",  "h:80",     "h:443",   "h:08",
        "h:65536",     "xn--e1a",   "a..b",  ".com",    "\xc3\xa9",
    };
    uint64_t x = 0x9e3779b97f4a7c15ull;
    size_t checked = 0, fast_ok = 0;
    /* WEFT_URLNORM_ROUNDS=1000000 for a deep run. */
    const char *env = getenv("WEFT_URLNORM_ROUNDS");
    int rounds = env && atoi(env) > 0 ? atoi(env) : 3000;
    for (int round = 0; round < rounds; round++) {
        char href[128] = "";
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int nbits = 1 + (int)(x % 6);
        for (int k = 0; k < nbits; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            strncat(href, bits[x % (sizeof bits / sizeof bits[0])], sizeof href - strlen(href) - 1);
        }
        for (size_t b = 0; b < sizeof bases / sizeof bases[0]; b++) {
            char *fast = NULL, *slow = NULL;
            urlnorm_status fs = urlnorm_resolve(bases[b], href, &fast);
            urlnorm_status ss = urlnorm_resolve_curl(bases[b], href, &slow);
            if (fs != ss || (fs == URLNORM_OK && strcmp(fast, slow) != 0))
                test_fail(__FILE__, __LINE__, "base %s href %s: %s (%d) vs curl %s (%d)", bases[b],
                          href, fast ? fast : "-", fs, slow ? slow : "-", ss);
            fast_ok += fs == URLNORM_OK;
            checked++;
            free(fast);
            free(slow);
        }
    }
    CHECK(checked == (size_t)rounds * sizeof bases / sizeof bases[0]);
    CHECK(fast_ok > checked / 10); /* the comparison covered real resolutions */
}
