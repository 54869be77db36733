/* test-frontier.c: the frontier alone, driven by hand on one thread: the
 * de-dup set, the two-level window, moving a URL up when a slower page finds
 * it shallower, holding depth skips back to the end, the page limit, robots
 * rules applied at hand-out, fault-free teardown with items left. */
#include "crawl/frontier.h"
#include "test.h"

#include <weft.h>

static frontier *make(unsigned max_depth, size_t max_pages)
{
    frontier_opts o = {.max_depth = max_depth, .max_pages = max_pages};
    frontier *f;
    CHECK_OK(frontier_new(&f, &o));
    return f;
}

static frontier_item take(frontier *f, frontier_kind kind, const char *url)
{
    frontier_item it;
    CHECK_OK(frontier_next(f, &it));
    CHECK_EQ(it.kind, kind);
    if (url)
        CHECK_STR(it.url, url);
    return it;
}

static frontier_link link_to(const char *url)
{
    return (frontier_link){.url = url};
}

TEST(frontier_dedup_and_order)
{
    frontier *f = make(5, 0);
    CHECK_OK(frontier_seed(f, "http://h/"));
    CHECK_RC(frontier_seed(f, "http://h/"), EEXIST);
    CHECK_RC(frontier_seed(f, "no-scheme"), EINVAL);
    frontier_item s = take(f, FRONTIER_PAGE, "http://h/");
    CHECK_EQ(s.depth, 0);
    CHECK(s.parent == NULL);
    frontier_link l[4] = {link_to("http://h/a"), link_to("http://h/b"), link_to("http://h/a"),
                          link_to("http://h/")};
    CHECK_OK(frontier_add_links(f, l, 4, s.url, s.depth));
    CHECK_EQ(l[0].result, SKIP_NONE);
    CHECK_EQ(l[1].result, SKIP_NONE);
    CHECK_EQ(l[2].result, SKIP_DUPLICATE);
    CHECK_EQ(l[3].result, SKIP_DUPLICATE);
    frontier_page_done(f, &s);
    frontier_item a = take(f, FRONTIER_PAGE, "http://h/a");
    frontier_item b = take(f, FRONTIER_PAGE, "http://h/b");
    CHECK_EQ(a.depth, 1);
    CHECK_STR(a.parent, "http://h/");
    frontier_page_done(f, &a);
    frontier_page_done(f, &b);
    frontier_item none;
    CHECK_RC(frontier_next(f, &none), ENOENT);
    CHECK_RC(frontier_next(f, &none), ENOENT);
    frontier_stats st;
    frontier_stats_get(f, &st);
    CHECK_EQ(st.seen, 3);
    CHECK_EQ(st.fetched, 3);
    CHECK_EQ(st.queued, 0);
    frontier_free(f);
}

TEST(frontier_moves_a_url_up_when_found_shallower)
{
    /* S (depth 0) is still in flight when A (depth 1, found by S) runs and
     * finds X at depth 2; then S finds X too: X's depth is 1, and A's
     * sighting becomes the duplicate. */
    frontier *f = make(5, 0);
    CHECK_OK(frontier_seed(f, "http://h/"));
    frontier_item s = take(f, FRONTIER_PAGE, "http://h/");
    frontier_link la = link_to("http://h/a");
    CHECK_OK(frontier_add_links(f, &la, 1, s.url, 0));
    frontier_item a = take(f, FRONTIER_PAGE, "http://h/a"); /* the window: level 1 */
    frontier_link lx = link_to("http://h/x");
    CHECK_OK(frontier_add_links(f, &lx, 1, a.url, a.depth));
    CHECK_EQ(lx.result, SKIP_NONE);
    CHECK(!lx.lowered);
    frontier_link lx2 = link_to("http://h/x");
    CHECK_OK(frontier_add_links(f, &lx2, 1, s.url, s.depth));
    CHECK_EQ(lx2.result, SKIP_NONE);
    CHECK(lx2.lowered);
    CHECK_STR(lx2.dup_parent, "http://h/a");
    CHECK_EQ(lx2.dup_depth, 2);
    frontier_page_done(f, &s);
    frontier_item x = take(f, FRONTIER_PAGE, "http://h/x");
    CHECK_EQ(x.depth, 1);
    CHECK_STR(x.parent, "http://h/");
    frontier_page_done(f, &x);
    frontier_page_done(f, &a);
    frontier_item none;
    CHECK_RC(frontier_next(f, &none), ENOENT);
    frontier_free(f);
}

TEST(frontier_window_holds_level_plus_two)
{
    /* With S (level 0) in flight, level-2 items wait even when queued. */
    frontier *f = make(5, 0);
    CHECK_OK(frontier_seed(f, "http://h/"));
    frontier_item s = take(f, FRONTIER_PAGE, "http://h/");
    frontier_link l[2] = {link_to("http://h/a"), link_to("http://h/b")};
    CHECK_OK(frontier_add_links(f, l, 2, s.url, 0));
    frontier_item a = take(f, FRONTIER_PAGE, "http://h/a");
    frontier_link lx = link_to("http://h/x");
    CHECK_OK(frontier_add_links(f, &lx, 1, a.url, 1));
    frontier_page_done(f, &a);
    /* b (level 1) comes before x (level 2), and x only after S is done. */
    frontier_item b = take(f, FRONTIER_PAGE, "http://h/b");
    frontier_page_done(f, &b);
    frontier_stats st;
    frontier_stats_get(f, &st);
    CHECK_EQ(st.queued, 1);
    CHECK_EQ(st.level, 0);
    frontier_page_done(f, &s);
    frontier_item x = take(f, FRONTIER_PAGE, "http://h/x");
    CHECK_EQ(x.depth, 2);
    frontier_page_done(f, &x);
    frontier_free(f);
}

TEST(frontier_depth_skips_held_to_the_end)
{
    frontier *f = make(1, 0);
    CHECK_OK(frontier_seed(f, "http://h/"));
    frontier_item s = take(f, FRONTIER_PAGE, "http://h/");
    frontier_link la = link_to("http://h/a");
    CHECK_OK(frontier_add_links(f, &la, 1, s.url, 0));
    frontier_item a = take(f, FRONTIER_PAGE, "http://h/a");
    /* From a (depth 1 = max): y and z would be depth 2: held back. */
    frontier_link l[2] = {link_to("http://h/y"), link_to("http://h/z")};
    CHECK_OK(frontier_add_links(f, l, 2, a.url, 1));
    CHECK_EQ(l[0].result, SKIP_NONE);
    CHECK_EQ(l[1].result, SKIP_NONE);
    /* S, still running, links y: depth 1 after all, fetched. */
    frontier_link ly = link_to("http://h/y");
    CHECK_OK(frontier_add_links(f, &ly, 1, s.url, 0));
    CHECK(ly.lowered);
    frontier_page_done(f, &s);
    frontier_page_done(f, &a);
    frontier_item y = take(f, FRONTIER_PAGE, "http://h/y");
    CHECK_EQ(y.depth, 1);
    frontier_page_done(f, &y);
    /* z is reported for depth only now, at the end. */
    frontier_item z = take(f, FRONTIER_SKIP, "http://h/z");
    CHECK_EQ(z.skip, SKIP_DEPTH);
    CHECK_EQ(z.depth, 2);
    frontier_item none;
    CHECK_RC(frontier_next(f, &none), ENOENT);
    frontier_free(f);
}

TEST(frontier_page_limit)
{
    frontier *f = make(5, 2);
    CHECK_OK(frontier_seed(f, "http://h/"));
    frontier_item s = take(f, FRONTIER_PAGE, "http://h/");
    frontier_link l[3] = {link_to("http://h/a"), link_to("http://h/b"), link_to("http://h/c")};
    CHECK_OK(frontier_add_links(f, l, 3, s.url, 0));
    CHECK_EQ(l[0].result, SKIP_NONE);
    CHECK_EQ(l[1].result, SKIP_LIMIT); /* two accepted: the seed and a */
    CHECK_EQ(l[2].result, SKIP_LIMIT);
    frontier_page_done(f, &s);
    frontier_item a = take(f, FRONTIER_PAGE, "http://h/a");
    frontier_page_done(f, &a);
    frontier_item none;
    CHECK_RC(frontier_next(f, &none), ENOENT);
    frontier_free(f);
}

TEST(frontier_robots_first_then_rules)
{
    frontier_opts o = {.max_depth = 5, .robots = true};
    frontier *f;
    CHECK_OK(frontier_new(&f, &o));
    CHECK_OK(frontier_seed(f, "http://h/"));
    frontier_item r = take(f, FRONTIER_ROBOTS, "http://h");
    const char *txt = "User-agent: *\nDisallow: /no\nCrawl-delay: 0.05\n";
    robots *rb;
    CHECK_OK(robots_parse(txt, strlen(txt), "weft", &rb));
    frontier_robots_done(f, &r, rb);
    double t0 = weft_monotonic();
    frontier_item s = take(f, FRONTIER_PAGE, "http://h/");
    /* The robots.txt request counts for the Crawl-delay. */
    CHECK(weft_monotonic() - t0 >= 0.05 - 0.01);
    frontier_link l[2] = {link_to("http://h/no/1"), link_to("http://h/yes")};
    CHECK_OK(frontier_add_links(f, l, 2, s.url, 0));
    CHECK_EQ(l[0].result, SKIP_ROBOTS);
    CHECK_EQ(l[1].result, SKIP_NONE);
    frontier_page_done(f, &s);
    frontier_item y = take(f, FRONTIER_PAGE, "http://h/yes");
    frontier_page_done(f, &y);
    frontier_free(f);
}

TEST(frontier_retry_pauses_host)
{
    frontier *f = make(5, 0);
    CHECK_OK(frontier_seed(f, "http://h/"));
    frontier_item s = take(f, FRONTIER_PAGE, "http://h/");
    double t0 = weft_monotonic();
    frontier_retry(f, &s, 0.1);
    frontier_item again = take(f, FRONTIER_PAGE, "http://h/");
    CHECK(weft_monotonic() - t0 >= 0.1 - 0.001);
    CHECK_EQ(again.attempt, 1);
    frontier_page_done(f, &again);
    frontier_item none;
    CHECK_RC(frontier_next(f, &none), ENOENT);
    frontier_free(f);
}

TEST(frontier_free_with_items_left)
{
    frontier *f = make(1, 0);
    CHECK_OK(frontier_seed(f, "http://h/"));
    frontier_item s = take(f, FRONTIER_PAGE, "http://h/");
    frontier_link l[2] = {link_to("http://h/a"), link_to("http://other/b")};
    CHECK_OK(frontier_add_links(f, l, 2, s.url, 0));
    frontier_free(f); /* ASan: nothing leaks */
}

/* A redirect hop is claimed only on a host whose robots.txt is in, and
 * only when the rules allow it and it is new. */
TEST(frontier_claim)
{
    frontier_opts o = {.max_depth = 5, .robots = true};
    frontier *f;
    CHECK_OK(frontier_new(&f, &o));
    CHECK_OK(frontier_seed(f, "http://h/"));
    /* Before robots.txt is in: not claimed, not marked seen. */
    CHECK_EQ(frontier_claim(f, "http://h/x"), CLAIM_UNKNOWN_HOST);
    CHECK_EQ(frontier_claim(f, "http://other/x"), CLAIM_UNKNOWN_HOST);
    CHECK_EQ(frontier_claim(f, "no-origin"), CLAIM_BAD);
    frontier_item r = take(f, FRONTIER_ROBOTS, "http://h");
    const char *txt = "User-agent: *\nDisallow: /no\n";
    robots *rb;
    CHECK_OK(robots_parse(txt, strlen(txt), "weft", &rb));
    frontier_robots_done(f, &r, rb);
    CHECK_EQ(frontier_claim(f, "http://h/x"), CLAIM_OK);
    CHECK_EQ(frontier_claim(f, "http://h/x"), CLAIM_SEEN);
    CHECK_EQ(frontier_claim(f, "http://h/"), CLAIM_SEEN); /* the seed */
    CHECK_EQ(frontier_claim(f, "http://h/no/1"), CLAIM_ROBOTS);
    CHECK_EQ(frontier_claim(f, "http://h/no/1"), CLAIM_SEEN);
    frontier_item s = take(f, FRONTIER_PAGE, "http://h/");
    frontier_page_done(f, &s);
    frontier_free(f);
}
