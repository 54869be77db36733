/* test-frontier-sqlite.c: the frontier conformance suite on the SQLite
 * backend (the same test bodies as the memory backend's), then what only a
 * durable frontier does: a reopened file carries on where the last run
 * stopped, in-flight pages are queued again, hosts keep their robots.txt,
 * records are kept with their page, and nothing of an unfinished page's
 * batch is committed without the page. */
#define FRONTIER_SQLITE 1
#include "test-frontier.c"

static size_t dumped;
static void count_dump(void *ud, const crawl_record *r)
{
    (void)ud;
    (void)r;
    dumped++;
}

static size_t records_in_file(void)
{
    state_info info;
    char err[256];
    crawl_state *st;
    CHECK_OK(crawl_state_open(&st, state_path, NULL, 0, false, &info, err, sizeof err));
    dumped = 0;
    CHECK_OK(crawl_state_dump(st, count_dump, NULL, err, sizeof err));
    crawl_state_close(st);
    return dumped;
}

TEST(sqlite_reopen_requeues_in_flight_and_keeps_the_queue)
{
    frontier_opts o = {.max_depth = 5};
    frontier *f = open_frontier(&o);
    CHECK_OK(frontier_seed(f, "http://h/"));
    frontier_item s = take(f, FRONTIER_PAGE, "http://h/");
    frontier_link l[2] = {link_to("http://h/a"), link_to("http://h/b")};
    CHECK_OK(frontier_add_links(f, &s, l, 2));
    crawl_record rec = {.url = s.url, .depth = 0, .title = "t", .status = 200};
    CHECK_OK(frontier_records(f, &s, &rec, 1));
    frontier_page_done(f, &s);
    frontier_item a = take(f, FRONTIER_PAGE, "http://h/a");
    /* a is in flight when the run ends without giving it back (as after a
     * kill -9: the file cannot tell the difference). */
    CHECK_STR(a.parent, "http://h/");
    close_frontier(f);
    CHECK_EQ(records_in_file(), 1);

    f = open_on(&o, false);
    CHECK_RC(frontier_seed(f, "http://h/"), EEXIST); /* a resumed crawl: already there */
    frontier_stats st;
    frontier_stats_get(f, &st);
    CHECK_EQ(st.queued, 2); /* b, and a again */
    CHECK_EQ(st.fetched, 1);
    frontier_item x = take(f, FRONTIER_PAGE, NULL);
    frontier_item y = take(f, FRONTIER_PAGE, NULL);
    CHECK_EQ(x.depth, 1);
    CHECK_EQ(y.depth, 1);
    CHECK(strcmp(x.url, y.url) != 0);
    CHECK_STR(x.parent, "http://h/");
    /* The seed is done: a link back to it is a duplicate, not a new page. */
    frontier_link back = link_to("http://h/");
    CHECK_OK(frontier_add_links(f, &x, &back, 1));
    CHECK_EQ(back.result, SKIP_DUPLICATE);
    frontier_page_done(f, &x);
    frontier_page_done(f, &y);
    frontier_item none;
    CHECK_RC(frontier_next(f, &none), ENOENT);
    close_frontier(f);

    /* The finished crawl says so. */
    state_info info;
    char err[256];
    crawl_state *sst;
    CHECK_OK(crawl_state_open(&sst, state_path, NULL, 0, false, &info, err, sizeof err));
    CHECK(info.finished);
    CHECK_EQ(info.pages, 3);
    crawl_state_close(sst);
    f = open_on(&o, false);
    drop(f);
}

TEST(sqlite_robots_rules_survive_a_reopen)
{
    frontier_opts o = {.max_depth = 5, .robots = true};
    frontier *f = open_frontier(&o);
    CHECK_OK(frontier_seed(f, "http://h/"));
    frontier_item r = take(f, FRONTIER_ROBOTS, "http://h");
    const char *txt = "User-agent: *\nDisallow: /no\n";
    robots *rb;
    CHECK_OK(robots_parse(txt, strlen(txt), "weft", &rb));
    frontier_robots_done(f, &r, rb, 200, txt, strlen(txt));
    close_frontier(f);
    f = open_on(&o, false);
    /* No robots.txt item again: the rules came back from the file. */
    frontier_item s = take(f, FRONTIER_PAGE, "http://h/");
    frontier_link l[2] = {link_to("http://h/no/x"), link_to("http://h/yes")};
    CHECK_OK(frontier_add_links(f, &s, l, 2));
    CHECK_EQ(l[0].result, SKIP_ROBOTS);
    CHECK_EQ(l[1].result, SKIP_NONE);
    frontier_page_done(f, &s);
    frontier_item y = take(f, FRONTIER_PAGE, "http://h/yes");
    frontier_page_done(f, &y);
    drop(f);
}

/* More queued URLs than the cache holds: they come back from the file in
 * order, each once. */
TEST(sqlite_queue_spills_to_the_file)
{
    frontier_opts o = {.max_depth = 5};
    frontier *f = open_frontier(&o);
    CHECK_OK(frontier_seed(f, "http://h/"));
    frontier_item s = take(f, FRONTIER_PAGE, "http://h/");
    enum { N = 1000 };
    static char urls[N][32];
    static frontier_link l[N];
    for (int i = 0; i < N; i++) {
        snprintf(urls[i], sizeof urls[i], "http://h/p%04d", i);
        l[i] = link_to(urls[i]);
    }
    CHECK_OK(frontier_add_links(f, &s, l, N));
    frontier_page_done(f, &s);
    for (int i = 0; i < N; i++) {
        frontier_item it = take(f, FRONTIER_PAGE, urls[i]);
        frontier_page_done(f, &it);
    }
    frontier_item none;
    CHECK_RC(frontier_next(f, &none), ENOENT);
    drop(f);
}
