/* test-html.c: title, word count, links and <base> from tool/parse/html.c, on
 * well-formed, broken, mis-encoded and binary input, whole and in chunks. */
#include "parse/html.h"
#include "test.h"

static void parse(const char *s, html_page *pg)
{
    CHECK_OK(html_parse(s, strlen(s), NULL, pg));
}

TEST(html_title_words_links)
{
    html_page pg;
    parse("<!DOCTYPE html><html><head><title>  Hello \n  World </title>"
          "<style>p { color: red }</style><script>var a = 'not words';</script></head>"
          "<body><p>one two  three</p><p>four<b>five</b></p>"
          "<a href=\"/a\">six</a> <a href='b#x'>seven</a><a name=x>eight</a>"
          "<!-- not counted --></body></html>",
          &pg);
    CHECK(pg.has_title);
    CHECK_STR(pg.title, "Hello World");
    CHECK_EQ(pg.words, 8);
    CHECK_EQ(pg.nlinks, 2);
    CHECK_STR(pg.links[0], "/a");
    CHECK_STR(pg.links[1], "b#x");
    CHECK(pg.base == NULL);
    html_page_free(&pg);
}

TEST(html_base_first_only)
{
    html_page pg;
    parse("<html><head><base href=\"http://other.example/dir/\"><base href=\"/ignored/\">"
          "</head><body><a href=x>x</a></body></html>",
          &pg);
    CHECK_STR(pg.base, "http://other.example/dir/");
    CHECK_EQ(pg.nlinks, 1);
    CHECK(!pg.has_title);
    CHECK_STR(pg.title, "");
    html_page_free(&pg);
}

TEST(html_chunked_equals_whole)
{
    const char *doc = "<html><head><title>Chunked page</title></head><body>"
                      "alpha beta gamma <a href=\"/page/1\">delta</a> epsilon"
                      "<script>x y z</script> zeta eta</body></html>";
    html_page whole;
    parse(doc, &whole);
    size_t n = strlen(doc);
    /* Every split point, and one byte at a time. */
    for (size_t step = 1; step <= n; step = step < 8 ? step + 1 : step * 2) {
        html_parser *p;
        CHECK_OK(html_parser_new(&p, NULL));
        for (size_t i = 0; i < n; i += step)
            html_parser_feed(p, doc + i, i + step > n ? n - i : step);
        html_page pg;
        CHECK_OK(html_parser_finish(p, &pg));
        html_parser_free(p);
        CHECK_STR(pg.title, whole.title);
        CHECK_EQ(pg.words, whole.words);
        CHECK_EQ(pg.nlinks, whole.nlinks);
        CHECK_STR(pg.links[0], "/page/1");
        html_page_free(&pg);
    }
    CHECK_EQ(whole.words, 7);
    html_page_free(&whole);
}

TEST(html_malformed)
{
    html_page pg;
    parse("<html><title>Broken<body><p>one <b>two <i>three</b> four</i>"
          "<a href=/page/1>x<a href=\"/page/2\" <p>five <div><table><tr><td>six",
          &pg);
    CHECK(pg.nlinks >= 1);
    CHECK_STR(pg.links[0], "/page/1");
    html_page_free(&pg);
    /* Unclosed everything, an unterminated comment and attribute. */
    parse("<a href=\"/x<!-- never <title>t", &pg);
    html_page_free(&pg);
    parse("", &pg);
    CHECK_EQ(pg.words, 0);
    CHECK_EQ(pg.nlinks, 0);
    html_page_free(&pg);
}

TEST(html_encodings)
{
    /* Latin-1 bytes declared as such come out as UTF-8. */
    const char l1[] = "<html><head><title>caf\xe9</title></head><body>na\xefve text</body></html>";
    html_page pg;
    CHECK_OK(html_parse(l1, sizeof l1 - 1, "ISO-8859-1", &pg));
    CHECK_STR(pg.title, "caf\xc3\xa9");
    CHECK_EQ(pg.words, 2);
    html_page_free(&pg);
    /* Invalid UTF-8 with no charset: some title, valid UTF-8, no crash. */
    const char bad[] = "<html><head><title>bad \xff\xfe\xc3 utf8</title></head>"
                       "<body>a \xc3\x28 b <a href=\"/p\xff\">l</a></body></html>";
    CHECK_OK(html_parse(bad, sizeof bad - 1, NULL, &pg));
    for (const unsigned char *s = (const unsigned char *)pg.title; *s; s++)
        CHECK(*s >= 0x20);
    html_page_free(&pg);
}

TEST(html_binary)
{
    /* Random bytes with NULs, as if an image were served as text/html. */
    unsigned char buf[65536];
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < sizeof buf; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (unsigned char)x;
    }
    html_parser *p;
    CHECK_OK(html_parser_new(&p, NULL));
    for (size_t i = 0; i < sizeof buf; i += 1000)
        html_parser_feed(p, (const char *)buf + i, i + 1000 > sizeof buf ? sizeof buf - i : 1000);
    html_page pg;
    html_parser_finish(p, &pg);
    html_parser_free(p);
    CHECK(pg.nlinks <= HTML_LINKS_MAX);
    html_page_free(&pg);
}

TEST(html_caps)
{
    /* A title longer than the cap is cut on a character boundary. */
    size_t n = 3 * HTML_TITLE_MAX + 100;
    char *doc = malloc(n + 64);
    CHECK(doc);
    strcpy(doc, "<title>");
    size_t k = 7;
    while (k < n)
        k += (size_t)sprintf(doc + k, "\xc3\xa9");
    strcpy(doc + k, "</title>");
    html_page pg;
    parse(doc, &pg);
    CHECK(strlen(pg.title) < HTML_TITLE_MAX);
    CHECK_EQ(strlen(pg.title) % 2, 0);
    html_page_free(&pg);
    free(doc);
    /* Too many links: HTML_LINKS_MAX kept, the rest counted as dropped. */
    size_t nl = HTML_LINKS_MAX + 10;
    doc = malloc(nl * 16 + 16);
    CHECK(doc);
    k = 0;
    for (size_t i = 0; i < nl; i++)
        k += (size_t)sprintf(doc + k, "<a href=%zu>", i % 1000);
    parse(doc, &pg);
    CHECK_EQ(pg.nlinks, HTML_LINKS_MAX);
    CHECK_EQ(pg.dropped, 10);
    html_page_free(&pg);
    free(doc);
}

TEST(html_content_type)
{
    char cs[32];
    html_content_charset("text/html; charset=ISO-8859-1", cs, sizeof cs);
    CHECK_STR(cs, "ISO-8859-1");
    html_content_charset("text/html;charset=\"utf-8\"; x=y", cs, sizeof cs);
    CHECK_STR(cs, "utf-8");
    html_content_charset("text/html", cs, sizeof cs);
    CHECK_STR(cs, "");
    CHECK(html_is_html_type("text/html; charset=utf-8"));
    CHECK(html_is_html_type("TEXT/HTML"));
    CHECK(html_is_html_type("application/xhtml+xml"));
    CHECK(!html_is_html_type("text/htmlx"));
    CHECK(!html_is_html_type("image/png"));
    CHECK(!html_is_html_type(NULL));
}
