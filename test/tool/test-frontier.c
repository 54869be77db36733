/* test-frontier.c: the frontier conformance suite, driven by hand on one
 * thread: the de-dup set, the two-level window, moving a URL up when a
 * slower page finds it shallower, holding depth skips back to the end, the
 * page limit, robots rules applied at hand-out, Retry-After pauses, redirect
 * claims, teardown with items left. The same bodies run on every backend:
 * this file is the memory backend's run; test-frontier-sqlite.c includes it
 * with FRONTIER_SQLITE for the SQLite backend's. */
#include "crawl/frontier.h"
#include "crawl/state.h"
#include "test.h"

#include <weft.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#ifdef FRONTIER_SQLITE
/* One frontier at a time per test: its file and state. */
static char state_path[64];
static crawl_state *state;

static frontier *open_on(const frontier_opts *o, bool fresh)
{
    if (fresh) {
        snprintf(state_path, sizeof state_path, "/tmp/weft-frontier-XXXXXX");
        int fd = mkstemp(state_path);
        CHECK(fd >= 0);
        close(fd);
        unlink(state_path);
    }
    state_info info;
    char err[256];
    CHECK_OK(crawl_state_open(&state, state_path, NULL, 0, true, &info, err, sizeof err));
    frontier *f;
    CHECK_OK(frontier_new_sqlite(&f, o, state, "weft"));
    return f;
}

static frontier *open_frontier(const frontier_opts *o)
{
    return open_on(o, true);
}

/* Frees f and its state; the file stays for a reopen (drop removes it). */
static void close_frontier(frontier *f)
{
    frontier_free(f);
    crawl_state_close(state);
    state = NULL;
}

static void drop(frontier *f)
{
    close_frontier(f);
    char side[80];
    unlink(state_path);
    snprintf(side, sizeof side, "%s-wal", state_path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", state_path);
    unlink(side);
}
#elif defined(FRONTIER_REDIS)
/* A redis-server of the test's own, on a unix socket in a temporary
 * directory, killed with the test (PR_SET_PDEATHSIG) or by drop. */
#include "crawl/frontier-redis.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

static pid_t redis_pid;
static char redis_dir[64];
static redis_pool *rpool;

static void redis_start(void)
{
    snprintf(redis_dir, sizeof redis_dir, "/tmp/weft-redis-XXXXXX");
    CHECK(mkdtemp(redis_dir) != NULL);
    char sock[128];
    snprintf(sock, sizeof sock, "%s/r.sock", redis_dir);
    redis_pid = fork();
    CHECK(redis_pid >= 0);
    if (redis_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", sock, "--save", "",
               "--appendonly", "no", "--dir", redis_dir, (char *)NULL);
        _exit(127);
    }
    redis_addr a = {0};
    snprintf(a.path, sizeof a.path, "%s", sock);
    char err[256];
    /* Ready when it accepts a connection: the rpool's own retries wait for
     * the socket (bounded by the timeout). */
    atomic_bool never = false;
    int rc = EAGAIN;
    for (int i = 0; i < 500 && rc != 0; i++) {
        rc = redis_pool_new(&rpool, &a, 5, &never, err, sizeof err);
        if (rc != 0)
            weft_sleep(0.01);
    }
    if (rc != 0)
        fprintf(stderr, "redis-server: %s\n", err);
    CHECK_OK(rc);
}

static frontier *open_frontier(const frontier_opts *o)
{
    if (!rpool)
        redis_start();
    /* The crawl's description, as the CLI writes it when a crawl starts. */
    char err[256];
    redisReply *r = redis_script(rpool, RS_INIT, "weft:test:", 0, NULL, NULL, err, sizeof err);
    CHECK(r != NULL && r->type == REDIS_REPLY_ARRAY);
    CHECK_STR(r->element[0]->str, "new");
    freeReplyObject(r);
    frontier *f;
    CHECK_OK(frontier_new_redis(&f, o, rpool, "weft:test:", "weft", 10));
    return f;
}

static void drop(frontier *f)
{
    frontier_free(f);
    redis_pool_free(rpool);
    rpool = NULL;
    kill(redis_pid, SIGKILL);
    waitpid(redis_pid, NULL, 0);
    char path[128];
    snprintf(path, sizeof path, "%s/r.sock", redis_dir);
    unlink(path);
    rmdir(redis_dir);
}
#else
static frontier *open_frontier(const frontier_opts *o)
{
    frontier *f;
    CHECK_OK(frontier_new(&f, o));
    return f;
}

static void drop(frontier *f)
{
    frontier_free(f);
}
#endif

static frontier *make(unsigned max_depth, size_t max_pages)
{
    frontier_opts o = {.max_depth = max_depth, .max_pages = max_pages};
    return open_frontier(&o);
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
    CHECK_OK(frontier_add_links(f, &s, l, 4));
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
    drop(f);
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
    CHECK_OK(frontier_add_links(f, &s, &la, 1));
    frontier_item a = take(f, FRONTIER_PAGE, "http://h/a"); /* the window: level 1 */
    frontier_link lx = link_to("http://h/x");
    CHECK_OK(frontier_add_links(f, &a, &lx, 1));
    CHECK_EQ(lx.result, SKIP_NONE);
    CHECK(!lx.lowered);
    frontier_link lx2 = link_to("http://h/x");
    CHECK_OK(frontier_add_links(f, &s, &lx2, 1));
    CHECK_EQ(lx2.result, SKIP_NONE);
    CHECK(lx2.lowered);
    CHECK_STR(lx2.dup_parent, "http://h/a");
    CHECK_EQ(lx2.dup_depth, 2);
    free(lx2.dup_parent);
    frontier_page_done(f, &s);
    frontier_item x = take(f, FRONTIER_PAGE, "http://h/x");
    CHECK_EQ(x.depth, 1);
    CHECK_STR(x.parent, "http://h/");
    frontier_page_done(f, &x);
    frontier_page_done(f, &a);
    frontier_item none;
    CHECK_RC(frontier_next(f, &none), ENOENT);
    drop(f);
}

TEST(frontier_window_holds_level_plus_two)
{
    /* With S (level 0) in flight, level-2 items wait even when queued. */
    frontier *f = make(5, 0);
    CHECK_OK(frontier_seed(f, "http://h/"));
    frontier_item s = take(f, FRONTIER_PAGE, "http://h/");
    frontier_link l[2] = {link_to("http://h/a"), link_to("http://h/b")};
    CHECK_OK(frontier_add_links(f, &s, l, 2));
    frontier_item a = take(f, FRONTIER_PAGE, "http://h/a");
    frontier_link lx = link_to("http://h/x");
    CHECK_OK(frontier_add_links(f, &a, &lx, 1));
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
    drop(f);
}

TEST(frontier_depth_skips_held_to_the_end)
{
    frontier *f = make(1, 0);
    CHECK_OK(frontier_seed(f, "http://h/"));
    frontier_item s = take(f, FRONTIER_PAGE, "http://h/");
    frontier_link la = link_to("http://h/a");
    CHECK_OK(frontier_add_links(f, &s, &la, 1));
    frontier_item a = take(f, FRONTIER_PAGE, "http://h/a");
    /* From a (depth 1 = max): y and z would be depth 2: held back. */
    frontier_link l[2] = {link_to("http://h/y"), link_to("http://h/z")};
    CHECK_OK(frontier_add_links(f, &a, l, 2));
    CHECK_EQ(l[0].result, SKIP_NONE);
    CHECK_EQ(l[1].result, SKIP_NONE);
    /* S, still running, links y: depth 1 after all, fetched. */
    frontier_link ly = link_to("http://h/y");
    CHECK_OK(frontier_add_links(f, &s, &ly, 1));
    CHECK(ly.lowered);
    free(ly.dup_parent);
    frontier_page_done(f, &s);
    frontier_page_done(f, &a);
    frontier_item y = take(f, FRONTIER_PAGE, "http://h/y");
    CHECK_EQ(y.depth, 1);
    frontier_page_done(f, &y);
    /* z is reported for depth only now, at the end. */
    frontier_item z = take(f, FRONTIER_SKIP, "http://h/z");
    CHECK_EQ(z.skip, SKIP_DEPTH);
    CHECK_EQ(z.depth, 2);
    frontier_skip_done(f, &z);
    frontier_item none;
    CHECK_RC(frontier_next(f, &none), ENOENT);
    drop(f);
}

TEST(frontier_page_limit)
{
    frontier *f = make(5, 2);
    CHECK_OK(frontier_seed(f, "http://h/"));
    frontier_item s = take(f, FRONTIER_PAGE, "http://h/");
    frontier_link l[3] = {link_to("http://h/a"), link_to("http://h/b"), link_to("http://h/c")};
    CHECK_OK(frontier_add_links(f, &s, l, 3));
    CHECK_EQ(l[0].result, SKIP_NONE);
    CHECK_EQ(l[1].result, SKIP_LIMIT); /* two accepted: the seed and a */
    CHECK_EQ(l[2].result, SKIP_LIMIT);
    frontier_page_done(f, &s);
    frontier_item a = take(f, FRONTIER_PAGE, "http://h/a");
    frontier_page_done(f, &a);
    frontier_item none;
    CHECK_RC(frontier_next(f, &none), ENOENT);
    drop(f);
}

TEST(frontier_robots_first_then_rules)
{
    frontier_opts o = {.max_depth = 5, .robots = true};
    frontier *f = open_frontier(&o);
    CHECK_OK(frontier_seed(f, "http://h/"));
    frontier_item r = take(f, FRONTIER_ROBOTS, "http://h");
    const char *txt = "User-agent: *\nDisallow: /no\nCrawl-delay: 0.05\n";
    robots *rb;
    CHECK_OK(robots_parse(txt, strlen(txt), "weft", &rb));
    frontier_robots_done(f, &r, rb, 200, txt, strlen(txt));
    double t0 = weft_monotonic();
    frontier_item s = take(f, FRONTIER_PAGE, "http://h/");
    /* The robots.txt request counts for the Crawl-delay. */
    CHECK(weft_monotonic() - t0 >= 0.05 - 0.01);
    frontier_link l[2] = {link_to("http://h/no/1"), link_to("http://h/yes")};
    CHECK_OK(frontier_add_links(f, &s, l, 2));
    CHECK_EQ(l[0].result, SKIP_ROBOTS);
    CHECK_EQ(l[1].result, SKIP_NONE);
    frontier_page_done(f, &s);
    frontier_item y = take(f, FRONTIER_PAGE, "http://h/yes");
    frontier_page_done(f, &y);
    drop(f);
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
    drop(f);
}

TEST(frontier_free_with_items_left)
{
    frontier *f = make(1, 0);
    CHECK_OK(frontier_seed(f, "http://h/"));
    frontier_item s = take(f, FRONTIER_PAGE, "http://h/");
    frontier_link l[2] = {link_to("http://h/a"), link_to("http://other/b")};
    CHECK_OK(frontier_add_links(f, &s, l, 2));
    frontier_giveback(f, &s);
    drop(f); /* ASan: nothing queued leaks */
}

/* A redirect hop is claimed only on a host whose robots.txt is in, and
 * only when the rules allow it and it is new. */
TEST(frontier_claim)
{
    frontier_opts o = {.max_depth = 5, .robots = true};
    frontier *f = open_frontier(&o);
    CHECK_OK(frontier_seed(f, "http://h/"));
    frontier_item r = take(f, FRONTIER_ROBOTS, "http://h");
    /* Before robots.txt is in: not claimed, not marked seen. */
    CHECK_EQ(frontier_claim(f, &r, "http://h/x"), CLAIM_UNKNOWN_HOST);
    CHECK_EQ(frontier_claim(f, &r, "http://other/x"), CLAIM_UNKNOWN_HOST);
    CHECK_EQ(frontier_claim(f, &r, "no-origin"), CLAIM_BAD);
    const char *txt = "User-agent: *\nDisallow: /no\n";
    robots *rb;
    CHECK_OK(robots_parse(txt, strlen(txt), "weft", &rb));
    frontier_robots_done(f, &r, rb, 200, txt, strlen(txt));
    frontier_item s = take(f, FRONTIER_PAGE, "http://h/");
    CHECK_EQ(frontier_claim(f, &s, "http://h/x"), CLAIM_OK);
    CHECK_EQ(frontier_claim(f, &s, "http://h/x"), CLAIM_SEEN);
    CHECK_EQ(frontier_claim(f, &s, "http://h/"), CLAIM_SEEN); /* the seed */
    CHECK_EQ(frontier_claim(f, &s, "http://h/no/1"), CLAIM_ROBOTS);
    CHECK_EQ(frontier_claim(f, &s, "http://h/no/1"), CLAIM_SEEN);
    frontier_page_done(f, &s);
    frontier_item none;
    CHECK_RC(frontier_next(f, &none), ENOENT);
    drop(f);
}

/* Raw hrefs are reported once. */
TEST(frontier_mark_once)
{
    frontier *f = make(5, 0);
    CHECK_OK(frontier_seed(f, "http://h/"));
    frontier_item s = take(f, FRONTIER_PAGE, "http://h/");
    CHECK(frontier_mark(f, &s, "mailto:a@b"));
    CHECK(!frontier_mark(f, &s, "mailto:a@b"));
    frontier_page_done(f, &s);
    drop(f);
}

/* Per-host cap: the second page of a host waits for the first. */
TEST(frontier_per_host_cap)
{
    frontier_opts o = {.max_depth = 5, .per_host = 1};
    frontier *f = open_frontier(&o);
    CHECK_OK(frontier_seed(f, "http://h/"));
    CHECK_OK(frontier_seed(f, "http://g/"));
    frontier_item s = take(f, FRONTIER_PAGE, NULL);
    frontier_item t = take(f, FRONTIER_PAGE, NULL);
    CHECK(strcmp(s.url, t.url) != 0); /* one per host: both hosts at once */
    frontier_link l[2] = {link_to("http://h/a"), link_to("http://g/b")};
    CHECK_OK(frontier_add_links(f, &s, l, 2));
    frontier_stats st;
    frontier_stats_get(f, &st);
    CHECK_EQ(st.queued, 2);
    char host_s[16], host_a[16];
    snprintf(host_s, sizeof host_s, "%.8s", s.url); /* s.url is gone once s is done */
    frontier_page_done(f, &s);
    /* Only s's host is free: its page comes next, t's host still busy. */
    frontier_item a = take(f, FRONTIER_PAGE, NULL);
    snprintf(host_a, sizeof host_a, "%.8s", a.url);
    CHECK_STR(host_a, host_s);
    frontier_page_done(f, &a);
    frontier_page_done(f, &t);
    frontier_item b = take(f, FRONTIER_PAGE, NULL);
    frontier_page_done(f, &b);
    frontier_item none;
    CHECK_RC(frontier_next(f, &none), ENOENT);
    drop(f);
}

#ifdef FRONTIER_REDIS
/* A plain command's answer, as a number (-1: neither a number nor a
 * string). */
static long long redis_int(const char *a, const char *b, const char *c)
{
    const char *argv[] = {a, b, c};
    char err[256];
    redisReply *r = redis_argv(rpool, c ? 3 : 2, argv, NULL, err, sizeof err);
    CHECK(r != NULL);
    long long v = r->type == REDIS_REPLY_INTEGER  ? r->integer
                  : r->type == REDIS_REPLY_STRING ? atoll(r->str)
                                                  : -1;
    freeReplyObject(r);
    return v;
}

static redisReply *next_with(const char *token)
{
    const char *argv[] = {"0", "0", "10000", token, "0"};
    char err[256];
    redisReply *r = redis_script(rpool, RS_NEXT, "weft:test:", 5, argv, NULL, err, sizeof err);
    CHECK(r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements > 0);
    return r;
}

/* NEXT retried with its token after its answer was lost (Redis went down
 * after running it): the same item comes back, and only one lease and one
 * page in flight are counted. Leasing a second item under the token would
 * orphan the first, in flight forever: a crawl that never ends. */
TEST(frontier_redis_next_retried_with_its_token)
{
    frontier *f = make(5, 0);
    CHECK_OK(frontier_seed(f, "http://h/"));
    redisReply *a = next_with("tok-retry");
    CHECK_STR(a->element[0]->str, "page");
    CHECK_STR(a->element[1]->str, "http://h/");
    redisReply *b = next_with("tok-retry");
    CHECK_STR(b->element[0]->str, "page");
    CHECK_STR(b->element[1]->str, "http://h/");
    CHECK_EQ(b->element[3]->integer, a->element[3]->integer); /* depth */
    CHECK_STR(b->element[7]->str, "tok-retry");
    CHECK_EQ(redis_int("ZCARD", "weft:test:L", NULL), 1); /* one lease */
    CHECK_EQ(redis_int("HGET", "weft:test:c", "f0"), 1);  /* one page in flight */
    freeReplyObject(a);
    freeReplyObject(b);
    /* Another token gets nothing: the only page is out. */
    redisReply *c = next_with("tok-other");
    CHECK_STR(c->element[0]->str, "wait");
    freeReplyObject(c);
    drop(f);
}

/* DONE for a page with one record (opaque to the script) and no redirect
 * hops, after `adds` ADD calls under token. */
static redisReply *done_with(const char *token, const char *hash, const char *adds)
{
    const char *dv[] = {token, hash, "0", adds, "a record"};
    char err[256];
    redisReply *d = redis_script(rpool, RS_DONE, "weft:test:", 5, dv, NULL, err, sizeof err);
    CHECK(d != NULL && d->type == REDIS_REPLY_STRING);
    return d;
}

static redisReply *add_with(const char *call, const char *parent_hash, char link_hash[2][17])
{
    char pre[8];
    snprintf(pre, sizeof pre, "%d", (int)SKIP_ROBOTS);
    const char *argv[] = {"0",          "http://h/",  parent_hash,  "5",          "0",        "0",
                          "0",          call,         link_hash[0], "http://h/x", "http://h", "0",
                          link_hash[1], "http://h/r", "http://h",   pre};
    char err[256];
    redisReply *r = redis_script(rpool, RS_ADD, "weft:test:", 16, argv, NULL, err, sizeof err);
    CHECK(r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 8);
    return r;
}

/* A crawl of http://h/ whose root is leased under token (not through the
 * frontier: as a process would have it), with the hashes of the root and
 * of its two links, http://h/x and http://h/r. */
static frontier *root_leased(const char *token, char ph[17], char lh[2][17])
{
    frontier *f = make(5, 0);
    CHECK_OK(frontier_seed(f, "http://h/"));
    redisReply *n = next_with(token);
    CHECK_STR(n->element[0]->str, "page");
    freeReplyObject(n);
    snprintf(ph, 17, "%016llx", frontier_hash("http://h/"));
    snprintf(lh[0], 17, "%016llx", frontier_hash("http://h/x"));
    snprintf(lh[1], 17, "%016llx", frontier_hash("http://h/r"));
    return f;
}

/* ADD sent again after its answer was lost: the same answer (the link it
 * queued is not called a duplicate, the skipped one keeps its reason),
 * while a new call of the same page sees both as seen. */
TEST(frontier_redis_add_retried_gets_its_answer)
{
    char ph[17], lh[2][17];
    frontier *f = root_leased("tok-add", ph, lh);
    redisReply *a = add_with("tok-add:1", ph, lh);
    CHECK_EQ(a->element[0]->integer, SKIP_NONE);
    CHECK_EQ(a->element[4]->integer, SKIP_ROBOTS);
    redisReply *b = add_with("tok-add:1", ph, lh);
    for (int i = 0; i < 8; i += 4)
        CHECK_EQ(b->element[i]->integer, a->element[i]->integer);
    CHECK_EQ(redis_int("HGET", "weft:test:c", "q1"), 1); /* queued once */
    redisReply *c = add_with("tok-add:2", ph, lh);
    CHECK_EQ(c->element[0]->integer, SKIP_DUPLICATE);
    CHECK_EQ(c->element[4]->integer, SKIP_DUPLICATE);
    freeReplyObject(a);
    freeReplyObject(b);
    freeReplyObject(c);
    /* The page's end (its two ADD calls in) forgets the kept answer. */
    CHECK_EQ(redis_int("HEXISTS", "weft:test:ar", "tok-add"), 1);
    redisReply *d = done_with("tok-add", ph, "2");
    CHECK_STR(d->str, "ok");
    freeReplyObject(d);
    CHECK_EQ(redis_int("HEXISTS", "weft:test:ar", "tok-add"), 0);
    CHECK_EQ(redis_int("LLEN", "weft:test:rec", NULL), 1);
    drop(f);
}

/* Redis went back to a save made after a page was leased but before its
 * links went in (a restart without AOF), while the page's end reaches the
 * restored Redis: finished, the page would take its links with it, and
 * the pages only it linked would be missing or found deeper. DONE says
 * "again" and the page is queued to be fetched again, its record dropped. */
TEST(frontier_redis_done_without_its_links_fetches_again)
{
    char ph[17], lh[2][17];
    frontier *f = root_leased("tok-lost", ph, lh);
    /* The client made one ADD call, which the restored Redis never saw. */
    redisReply *d = done_with("tok-lost", ph, "1");
    CHECK_STR(d->str, "again");
    freeReplyObject(d);
    CHECK_EQ(redis_int("LLEN", "weft:test:rec", NULL), 0);
    CHECK_EQ(redis_int("ZCARD", "weft:test:L", NULL), 0); /* the lease ended */
    CHECK_EQ(redis_int("HGET", "weft:test:c", "f0"), 0);
    CHECK_EQ(redis_int("HGET", "weft:test:c", "q0"), 1);
    /* The page comes back, at its depth, and this time its links go in. */
    redisReply *n = next_with("tok-again");
    CHECK_STR(n->element[0]->str, "page");
    CHECK_STR(n->element[1]->str, "http://h/");
    CHECK_EQ(n->element[3]->integer, 0);
    freeReplyObject(n);
    /* A second ADD call whose first is missing: the same refusal. Sent
     * again (its answer lost), it still gets its own answer back. */
    redisReply *a = add_with("tok-again:2", ph, lh);
    redisReply *a2 = add_with("tok-again:2", ph, lh);
    CHECK_EQ(a->element[0]->integer, SKIP_NONE);
    CHECK_EQ(a2->element[0]->integer, SKIP_NONE);
    freeReplyObject(a);
    freeReplyObject(a2);
    d = done_with("tok-again", ph, "2");
    CHECK_STR(d->str, "again");
    freeReplyObject(d);
    n = next_with("tok-third");
    CHECK_STR(n->element[1]->str, "http://h/");
    freeReplyObject(n);
    a = add_with("tok-third:1", ph, lh);
    freeReplyObject(a);
    d = done_with("tok-third", ph, "1");
    CHECK_STR(d->str, "ok");
    freeReplyObject(d);
    /* The same DONE sent again (its answer lost): finished already. */
    d = done_with("tok-third", ph, "1");
    CHECK_STR(d->str, "dup");
    freeReplyObject(d);
    CHECK_EQ(redis_int("LLEN", "weft:test:rec", NULL), 1);
    CHECK_EQ(redis_int("HGET", "weft:test:c", "q0"), 0);
    CHECK_EQ(redis_int("HGET", "weft:test:c", "q1"), 1); /* its link, queued */
    drop(f);
}

/* Everything but the crawl's description, gone from Redis. */
static void lose_all_but_meta(void)
{
    const char *kv[] = {"KEYS", "weft:test:*"};
    char err[256];
    redisReply *k = redis_argv(rpool, 2, kv, NULL, err, sizeof err);
    CHECK(k != NULL && k->type == REDIS_REPLY_ARRAY);
    for (size_t i = 0; i < k->elements; i++)
        if (strcmp(k->element[i]->str, "weft:test:meta") != 0)
            CHECK_EQ(redis_int("DEL", k->element[i]->str, NULL), 1);
    freeReplyObject(k);
}

/* Redis went back to a save made before the seeds went in: nothing is
 * queued, nothing was ever seen. That is not a finished crawl: the
 * process gives its seeds again and the crawl starts. */
TEST(frontier_redis_lost_seeds_are_given_again)
{
    frontier *f = make(5, 0);
    CHECK_OK(frontier_seed(f, "http://h/"));
    lose_all_but_meta();
    frontier_item it;
    CHECK_OK(frontier_next(f, &it));
    CHECK_EQ(it.kind, FRONTIER_PAGE);
    CHECK_STR(it.url, "http://h/");
    CHECK_EQ(it.depth, 0);
    frontier_page_done(f, &it);
    CHECK_EQ(frontier_next(f, &it), ENOENT);
    CHECK_EQ(redis_int("HGET", "weft:test:meta", "finished"), 1);
    drop(f);
}

/* A seed given again that this process knows robots.txt disallows still
 * comes out as a robots skip (with its record), not as nothing at all. */
TEST(frontier_redis_lost_seed_disallowed_is_skipped_with_a_record)
{
    frontier_opts o = {.max_depth = 5, .robots = true};
    frontier *f = open_frontier(&o);
    CHECK_OK(frontier_seed(f, "http://h/no"));
    const char *txt = "User-agent: *\nDisallow: /no\n";
    frontier_item r = take(f, FRONTIER_ROBOTS, "http://h");
    robots *rb;
    CHECK_OK(robots_parse(txt, strlen(txt), "weft", &rb));
    frontier_robots_done(f, &r, rb, 200, txt, strlen(txt));
    lose_all_but_meta();
    r = take(f, FRONTIER_ROBOTS, "http://h"); /* the host's state went too */
    CHECK_OK(robots_parse(txt, strlen(txt), "weft", &rb));
    frontier_robots_done(f, &r, rb, 200, txt, strlen(txt));
    frontier_item s = take(f, FRONTIER_SKIP, "http://h/no");
    CHECK_EQ(s.skip, SKIP_ROBOTS);
    frontier_skip_done(f, &s);
    CHECK_EQ(redis_int("LLEN", "weft:test:rec", NULL), 1);
    frontier_item none;
    CHECK_RC(frontier_next(f, &none), ENOENT);
    drop(f);
}
#endif
