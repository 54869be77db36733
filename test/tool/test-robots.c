/* test-robots.c: RFC 9309 as tool/parse/robots.c reads it: group selection by
 * product token, longest match, allow wins a tie, '*' and '$', the status
 * rules, Crawl-delay. */
#include "parse/robots.h"
#include "test.h"

static robots *parse(const char *txt)
{
    robots *r = NULL;
    CHECK_OK(robots_parse(txt, strlen(txt), "weft", &r));
    CHECK(r != NULL);
    return r;
}

TEST(robots_rfc_example)
{
    /* RFC 9309 section 5.1's example file. */
    const char *txt = "User-Agent: *\n"
                      "Disallow: *.gif$\n"
                      "Disallow: /example/\n"
                      "Allow: /publications/\n"
                      "\n"
                      "User-Agent: foobot\n"
                      "Disallow:/\n"
                      "Allow:/example/page.html\n"
                      "Allow:/example/allowed.gif\n"
                      "\n"
                      "User-Agent: barbot\n"
                      "User-Agent: bazbot\n"
                      "Disallow: /example/page.html\n"
                      "\n"
                      "User-Agent: quxbot\n"
                      "\n"
                      "EOF\n";
    robots *r = parse(txt);
    /* weft is not named: the * group applies. */
    CHECK(!robots_allowed(r, "/x/y.gif"));
    CHECK(robots_allowed(r, "/x/y.gif?z")); /* $ anchors: not the end */
    CHECK(!robots_allowed(r, "/example/a"));
    CHECK(robots_allowed(r, "/publications/a"));
    CHECK(robots_allowed(r, "/elsewhere"));
    robots_free(r);
    /* As foobot: its own group only. */
    CHECK_OK(robots_parse(txt, strlen(txt), "foobot", &r));
    CHECK(!robots_allowed(r, "/"));
    CHECK(!robots_allowed(r, "/publications/a"));
    CHECK(robots_allowed(r, "/example/page.html"));
    CHECK(robots_allowed(r, "/example/allowed.gif"));
    robots_free(r);
    /* bazbot shares barbot's group; quxbot's group is empty: all allowed. */
    CHECK_OK(robots_parse(txt, strlen(txt), "bazbot", &r));
    CHECK(!robots_allowed(r, "/example/page.html"));
    CHECK(robots_allowed(r, "/example/other.html"));
    robots_free(r);
    CHECK_OK(robots_parse(txt, strlen(txt), "quxbot", &r));
    CHECK(robots_allowed(r, "/example/page.html"));
    CHECK(robots_allowed(r, "/x.gif"));
    robots_free(r);
}

TEST(robots_longest_match_and_tie)
{
    robots *r = parse("User-agent: *\n"
                      "Disallow: /a\n"
                      "Allow: /a/b\n"
                      "Disallow: /a/b/c\n"
                      "Allow: /tie\n"
                      "Disallow: /tie\n"
                      "Disallow: /t2\n"
                      "Allow: /t2\n");
    CHECK(!robots_allowed(r, "/a"));
    CHECK(!robots_allowed(r, "/ax"));
    CHECK(robots_allowed(r, "/a/b"));
    CHECK(robots_allowed(r, "/a/bz"));
    CHECK(!robots_allowed(r, "/a/b/c/d"));
    CHECK(robots_allowed(r, "/tie"));
    CHECK(robots_allowed(r, "/t2x"));
    CHECK(robots_allowed(r, "/b"));
    robots_free(r);
}

TEST(robots_wildcards)
{
    robots *r = parse("User-agent: *\n"
                      "Disallow: /*.php$\n"
                      "Disallow: /private*/secret\n"
                      "Disallow: /end$\n"
                      "Allow: /*?ok=1\n"
                      "Disallow: /*?\n");
    CHECK(!robots_allowed(r, "/x/index.php"));
    CHECK(robots_allowed(r, "/x/index.php5"));
    CHECK(!robots_allowed(r, "/x/index.php?x")); /* any query: the "/ *?" rule */
    CHECK(!robots_allowed(r, "/private-area/x/secret"));
    CHECK(!robots_allowed(r, "/private/secretary"));
    CHECK(robots_allowed(r, "/privat/secret"));
    CHECK(!robots_allowed(r, "/end"));
    CHECK(robots_allowed(r, "/endless"));
    CHECK(robots_allowed(r, "/q?ok=1"));
    robots_free(r);
    /* "/ *?" (no space) disallows any query; "/ *?ok=1" is longer and allows. */
    r = parse("User-agent: *\nDisallow: /*?\nAllow: /*?ok=1\n");
    CHECK(!robots_allowed(r, "/x?a"));
    CHECK(robots_allowed(r, "/x?ok=1"));
    CHECK(robots_allowed(r, "/x"));
    robots_free(r);
    /* Patterns that would explode a naive backtracking matcher. */
    r = parse("User-agent: *\nDisallow: /*a*a*a*a*a*a*a*a*a*a*a*a*b$\n");
    char path[2100];
    path[0] = '/';
    memset(path + 1, 'a', 2000);
    path[2001] = '\0';
    CHECK(robots_allowed(r, path));
    path[2000] = 'b';
    CHECK(!robots_allowed(r, path));
    robots_free(r);
}

TEST(robots_groups_and_syntax)
{
    /* Our group wins over *, its rules merged from two groups; case and
     * version in the user-agent line do not matter; comments, blank lines,
     * CRLF and unknown keys are fine; rules before any group are ignored. */
    robots *r = parse("Disallow: /orphan\r\n"
                      "# comment\r\n"
                      "User-agent: *\r\n"
                      "Disallow: /\r\n"
                      "\r\n"
                      "User-agent: WEFT/0.1 (+https://example.invalid)\r\n"
                      "Disallow: /one # trailing comment\r\n"
                      "Sitemap: http://x/sitemap.xml\r\n"
                      "User-agent: other\r\n"
                      "Disallow: /other\r\n"
                      "user-AGENT: weft\r\n"
                      "disallow: /two\r\n"
                      "Crawl-delay: 1.5\r\n");
    CHECK(robots_allowed(r, "/"));
    CHECK(robots_allowed(r, "/orphan"));
    CHECK(!robots_allowed(r, "/one"));
    CHECK(!robots_allowed(r, "/two/x"));
    CHECK(robots_allowed(r, "/other"));
    CHECK(robots_crawl_delay(r) == 1.5);
    CHECK_EQ(robots_rule_count(r), 2);
    robots_free(r);
    /* "weftbot" is another product, not us. */
    r = parse("User-agent: weftbot\nDisallow: /\n");
    CHECK(robots_allowed(r, "/x"));
    robots_free(r);
    /* An empty Disallow is no rule; /robots.txt is always allowed. */
    r = parse("User-agent: *\nDisallow:\n");
    CHECK(robots_allowed(r, "/x"));
    robots_free(r);
    r = parse("User-agent: *\nDisallow: /\n");
    CHECK(robots_allowed(r, "/robots.txt"));
    CHECK(!robots_allowed(r, "/"));
    robots_free(r);
}

TEST(robots_percent_encoding)
{
    /* Patterns and paths compare in one canonical form. */
    robots *r = parse("User-agent: *\nDisallow: /%7ejoe/\nDisallow: /caf\xc3\xa9\n"
                      "Disallow: /a%2fb\n");
    CHECK(!robots_allowed(r, "/~joe/x"));
    CHECK(!robots_allowed(r, "/%7Ejoe/x"));
    CHECK(!robots_allowed(r, "/caf%C3%A9"));
    CHECK(!robots_allowed(r, "/a%2Fb"));
    CHECK(robots_allowed(r, "/a/b"));
    robots_free(r);
}

TEST(robots_status_rules)
{
    robots *r;
    const char *body = "User-agent: *\nDisallow: /p\n";
    CHECK_OK(robots_from_response(200, body, strlen(body), "weft", &r));
    CHECK(!robots_allowed(r, "/p"));
    CHECK(robots_allowed(r, "/q"));
    robots_free(r);
    long allow_all[] = {400, 401, 403, 404, 410, 451};
    for (size_t i = 0; i < sizeof allow_all / sizeof allow_all[0]; i++) {
        CHECK_OK(robots_from_response(allow_all[i], body, strlen(body), "weft", &r));
        CHECK(robots_allowed(r, "/p"));
        robots_free(r);
    }
    long deny_all[] = {0, 500, 502, 503, 599};
    for (size_t i = 0; i < sizeof deny_all / sizeof deny_all[0]; i++) {
        CHECK_OK(robots_from_response(deny_all[i], body, strlen(body), "weft", &r));
        CHECK(!robots_allowed(r, "/q"));
        CHECK(!robots_allowed(r, "/"));
        CHECK(robots_allowed(r, "/robots.txt"));
        robots_free(r);
    }
}

TEST(robots_crawl_delay_rules)
{
    robots *r = parse("User-agent: *\nCrawl-delay: 2\n");
    CHECK(robots_crawl_delay(r) == 2);
    robots_free(r);
    r = parse("User-agent: *\nCrawl-delay: junk\n");
    CHECK(robots_crawl_delay(r) == 0);
    robots_free(r);
    r = parse("User-agent: *\nCrawl-delay: 100000\n");
    CHECK(robots_crawl_delay(r) == ROBOTS_MAX_DELAY);
    robots_free(r);
    /* The delay of our group, not the * group's. */
    r = parse("User-agent: *\nCrawl-delay: 5\n\nUser-agent: weft\nCrawl-delay: 0.25\n");
    CHECK(robots_crawl_delay(r) == 0.25);
    robots_free(r);
}

TEST(robots_bounded)
{
    /* A body of many rules keeps at most ROBOTS_MAX_RULES. */
    size_t n = 2 * ROBOTS_MAX_RULES;
    char *txt = malloc(n * 16 + 32);
    CHECK(txt);
    size_t k = (size_t)sprintf(txt, "User-agent: *\n");
    for (size_t i = 0; i < n; i++)
        k += (size_t)sprintf(txt + k, "Disallow: /%zu\n", i);
    robots *r = parse(txt);
    CHECK_EQ(robots_rule_count(r), ROBOTS_MAX_RULES);
    CHECK(!robots_allowed(r, "/1"));
    robots_free(r);
    free(txt);
}

/* RFC 9309 2.2.1: the product token comes from the User-Agent's first
 * token, and groups match it case-insensitively, whatever it is. */
TEST(robots_product_token_from_user_agent)
{
    char tok[64];
    const char *cases[][2] = {
        {"MyBot/1.0 (+https://example.invalid/bot)", "MyBot"},
        {"my_crawler-X/2", "my_crawler-X"},
        {"weft/0.1 (+https://example.invalid/weft)", "weft"},
        {"", "weft"},
        {"/1.0", "weft"},
        {"12monkeys/1", "weft"},
        {NULL, "weft"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        robots_product_token(cases[i][0], tok, sizeof tok);
        CHECK_STR(tok, cases[i][1]);
    }
    CHECK(robots_valid_token("MyBot"));
    CHECK(robots_valid_token("a_b-c"));
    CHECK(!robots_valid_token(""));
    CHECK(!robots_valid_token("My Bot"));
    CHECK(!robots_valid_token("bot/1"));
    CHECK(!robots_valid_token("b\xc3\xb6t"));
}

TEST(robots_groups_for_other_agents)
{
    const char *txt = "User-agent: MyBot\n"
                      "Disallow: /mine/\n"
                      "\n"
                      "User-agent: OTHERBOT\n"
                      "user-agent: thirdbot/2.0\n"
                      "Disallow: /other/\n"
                      "\n"
                      "User-agent: *\n"
                      "Disallow: /all/\n";
    struct {
        const char *product;
        const char *path;
        bool allowed;
    } cases[] = {
        {"mybot", "/mine/x", false},     {"MYBOT", "/mine/x", false},
        {"mybot", "/all/x", true},       {"mybot", "/other/x", true},
        {"otherbot", "/other/x", false}, {"OtherBot", "/mine/x", true},
        {"thirdbot", "/other/x", false}, {"thirdbot", "/all/x", true},
        {"weft", "/all/x", false},       {"weft", "/mine/x", true},
        {"mybo", "/mine/x", true},       {"mybotx", "/mine/x", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        robots *r;
        CHECK_OK(robots_parse(txt, strlen(txt), cases[i].product, &r));
        if (robots_allowed(r, cases[i].path) != cases[i].allowed)
            test_fail(__FILE__, __LINE__, "%s %s: expected %s", cases[i].product, cases[i].path,
                      cases[i].allowed ? "allowed" : "disallowed");
        robots_free(r);
    }
}
