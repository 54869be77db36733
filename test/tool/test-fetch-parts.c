/* The parts of `weft fetch` that need no network: safe file names, the retry
 * policy, row and summary formats, the progress bar, timelines and traces,
 * and argument parsing. */
#include "test.h"

#include "fetch/fetch.h"
#include "output/report.h"
#include "http/retry.h"
#include "output/savename.h"
#include "output/timeline.h"

#include <curl/curl.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ savename */

static void check_safe(const char *name)
{
    CHECK(name[0] != '\0');
    CHECK(name[0] != '.');
    CHECK(strlen(name) <= SAVENAME_MAX);
    CHECK(strchr(name, '/') == NULL);
    CHECK(strcmp(name, ".") != 0 && strcmp(name, "..") != 0);
    for (const char *p = name; *p; p++)
        CHECK((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
}

TEST(savename_plain_paths)
{
    char n[SAVENAME_MAX + 1];
    savename_from_url("http://h/a/b.html", n, sizeof n);
    CHECK_STR(n, "b.html");
    savename_from_url("http://h/", n, sizeof n);
    CHECK_STR(n, "index.html");
    savename_from_url("http://h", n, sizeof n);
    CHECK_STR(n, "index.html");
    savename_from_url("http://h/dir/", n, sizeof n);
    CHECK_STR(n, "index.html");
    savename_from_url("http://h/page?id=3&x=y", n, sizeof n);
    CHECK_STR(n, "page_id_3_x_y");
}

TEST(savename_hostile_paths_stay_inside)
{
    static const char *hostile[] = {
        "http://h/../../x",  "http://h/%2e%2e/x",
        "http://h/%2e%2e",   "http://h/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "http://h/..",       "http://h/.hidden",
        "http://h/a%00b",    "http://h/a%0ab%0d",
        "http://h/%2f",      "http://h/..%5c..%5cwin",
        "not a url/../../x", "http://h/\x01\x02",
    };
    char n[SAVENAME_MAX + 1];
    for (size_t i = 0; i < sizeof hostile / sizeof *hostile; i++) {
        savename_from_url(hostile[i], n, sizeof n);
        check_safe(n);
    }
    savename_from_url("http://h/%2e%2e/x", n, sizeof n);
    CHECK_STR(n, "x");
}

TEST(savename_long_names_are_capped_and_distinct)
{
    char url1[2000] = "http://h/", url2[2000] = "http://h/";
    memset(url1 + 9, 'a', 1500);
    memset(url2 + 9, 'a', 1500);
    url2[9 + 1499] = 'b';
    char n1[SAVENAME_MAX + 1], n2[SAVENAME_MAX + 1];
    savename_from_url(url1, n1, sizeof n1);
    savename_from_url(url2, n2, sizeof n2);
    check_safe(n1);
    check_safe(n2);
    CHECK_EQ(strlen(n1), SAVENAME_MAX);
    CHECK(strcmp(n1, n2) != 0);
}

/* Lists dir's entries into buf (space separated, sorted order not needed). */
static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

/* A savename_dir goes on from the last suffix taken for a name (linear in
 * the number of files), still skips names that exist (made by someone
 * else, or symlinks) and never follows a link. */
TEST(savename_dir_remembers_the_next_suffix)
{
    char root[] = "/tmp/weft-savedir-XXXXXX";
    CHECK(mkdtemp(root) != NULL);
    int dirfd = open(root, O_RDONLY | O_DIRECTORY);
    CHECK(dirfd >= 0);
    savename_dir *d;
    CHECK_OK(savename_dir_new(&d, dirfd));
    char name[SAVENAME_MAX + 1], want[64];
    for (unsigned i = 0; i < 50; i++) {
        int fd = savename_dir_create(d, "http://h/x/", name, sizeof name);
        CHECK(fd >= 0);
        close(fd);
        if (i == 0)
            snprintf(want, sizeof want, "index.html");
        else
            snprintf(want, sizeof want, "index-%u.html", i);
        CHECK_STR(name, want);
        if (i == 10) {
            /* Someone else takes the next two names, one as a symlink. */
            int o = openat(dirfd, "index-11.html", O_WRONLY | O_CREAT | O_EXCL, 0644);
            CHECK(o >= 0);
            close(o);
            char target[300];
            snprintf(target, sizeof target, "%s/victim", root);
            CHECK(symlinkat(target, dirfd, "index-12.html") == 0);
            fd = savename_dir_create(d, "http://h/y/", name, sizeof name);
            CHECK(fd >= 0);
            close(fd);
            CHECK_STR(name, "index-13.html");
            CHECK(faccessat(dirfd, "victim", F_OK, 0) != 0);
            i = 13;
        }
    }
    /* Another name has its own counter. */
    int fd = savename_dir_create(d, "http://h/a.txt", name, sizeof name);
    CHECK(fd >= 0);
    close(fd);
    CHECK_STR(name, "a.txt");
    savename_dir_free(d);
    close(dirfd);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0);
}

TEST(savename_create_never_overwrites_or_follows_links)
{
    char root[] = "/tmp/weft-savename-XXXXXX";
    CHECK(mkdtemp(root) != NULL);
    char out[256];
    snprintf(out, sizeof out, "%s/out", root);
    CHECK(mkdir(out, 0755) == 0);
    int dirfd = open(out, O_RDONLY | O_DIRECTORY);
    CHECK(dirfd >= 0);

    char name[SAVENAME_MAX + 1];
    int fd = savename_create(dirfd, "http://h/a/b.html", name, sizeof name);
    CHECK(fd >= 0);
    CHECK_STR(name, "b.html");
    close(fd);
    fd = savename_create(dirfd, "http://h/c/b.html", name, sizeof name);
    CHECK(fd >= 0);
    CHECK_STR(name, "b-1.html");
    close(fd);
    fd = savename_create(dirfd, "http://h/b.html", name, sizeof name);
    CHECK(fd >= 0);
    CHECK_STR(name, "b-2.html");
    close(fd);

    /* A symlink planted under the next name is skipped, not followed. */
    char target[300], link[300];
    snprintf(target, sizeof target, "%s/victim", root);
    snprintf(link, sizeof link, "%s/evil.txt", out);
    CHECK(symlink(target, link) == 0);
    fd = savename_create(dirfd, "http://h/evil.txt", name, sizeof name);
    CHECK(fd >= 0);
    CHECK_STR(name, "evil-1.txt");
    CHECK(write(fd, "x", 1) == 1);
    close(fd);
    CHECK(access(target, F_OK) != 0);

    /* Hostile names land inside out/ and nothing appears beside it. */
    static const char *hostile[] = {"http://h/../../x", "http://h/%2e%2e/x", "http://h/%2e%2e",
                                    "http://h/..%2f..%2fy", "http://h/.."};
    for (size_t i = 0; i < sizeof hostile / sizeof *hostile; i++) {
        fd = savename_create(dirfd, hostile[i], name, sizeof name);
        CHECK(fd >= 0);
        check_safe(name);
        close(fd);
    }
    CHECK_EQ(count_entries(root), 1);    /* only out/ */
    CHECK_EQ(count_entries(out), 5 + 5); /* 3 b*, the link, evil-1, 5 hostile */
    close(dirfd);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0);
}

/* ------------------------------------------------------------ retry */

TEST(retry_classifies_transient_failures)
{
    CHECK(retry_should(CURLE_OK, 503));
    CHECK(retry_should(CURLE_OK, 500));
    CHECK(retry_should(CURLE_OK, 429));
    CHECK(retry_should(CURLE_OK, 408));
    CHECK(!retry_should(CURLE_OK, 200));
    CHECK(!retry_should(CURLE_OK, 404));
    CHECK(!retry_should(CURLE_OK, 403));
    CHECK(retry_should(CURLE_OPERATION_TIMEDOUT, 0));
    CHECK(retry_should(CURLE_COULDNT_CONNECT, 0));
    CHECK(retry_should(CURLE_RECV_ERROR, 0));
    CHECK(retry_should(CURLE_GOT_NOTHING, 0));
    CHECK(!retry_should(CURLE_TOO_MANY_REDIRECTS, 302));
    CHECK(!retry_should(CURLE_URL_MALFORMAT, 0));
    CHECK(!retry_should(CURLE_ABORTED_BY_CALLBACK, 0));
}

TEST(retry_backoff_is_full_jitter_under_a_growing_cap)
{
    for (unsigned a = 0; a < 40; a++) {
        double ceiling = RETRY_BASE * (double)(1ull << (a < 30 ? a : 30));
        if (ceiling > RETRY_CAP)
            ceiling = RETRY_CAP;
        CHECK(retry_backoff(a, 0.0) == 0.0);
        double hi = retry_backoff(a, 0.999999);
        CHECK(hi <= ceiling);
        CHECK(hi >= ceiling * 0.99);
        CHECK(retry_backoff(a, 0.5) <= hi);
    }
    CHECK(retry_backoff(0, 0.999) < retry_backoff(3, 0.999));
    CHECK(retry_backoff(100, 0.999) <= RETRY_CAP);
}

TEST(retry_after_seconds_and_dates)
{
    time_t now = time(NULL);
    CHECK(retry_after_parse("1", now) == 1.0);
    CHECK(retry_after_parse(" 5 ", now) == 5.0);
    CHECK(retry_after_parse("0", now) == 0.0);
    CHECK(retry_after_parse("99999", now) == RETRY_AFTER_CAP);
    CHECK(retry_after_parse("", now) == -1);
    CHECK(retry_after_parse("abc", now) == -1);
    CHECK(retry_after_parse("1.5", now) == -1);
    CHECK(retry_after_parse("-3", now) == -1);
    CHECK(retry_after_parse(NULL, now) == -1);
    char date[64];
    time_t later = now + 10;
    struct tm tm;
    gmtime_r(&later, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    CHECK(retry_after_parse(date, now) == 10.0);
    CHECK(retry_after_parse("Wed, 21 Oct 2015 07:28:00 GMT", now) == 0.0);
    CHECK(retry_delay(0, 3.0, 0.9) == 3.0);
    CHECK(retry_delay(0, -1, 0.5) == retry_backoff(0, 0.5));
}

/* ------------------------------------------------------------ report */

static char *capture(void (*fn)(FILE *, void *), void *arg)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    CHECK(f != NULL);
    fn(f, arg);
    fclose(f);
    return buf;
}

static void json_weird(FILE *f, void *arg)
{
    report_json_string(f, "a\"b\\c\nd\te\x01");
}

static void csv_weird(FILE *f, void *arg)
{
    report_csv_field(f, "plain");
    putc('|', f);
    report_csv_field(f, "a,b \"q\"");
}

TEST(report_escapes_json_and_csv)
{
    char *s = capture(json_weird, NULL);
    CHECK_STR(s, "\"a\\\"b\\\\c\\nd\\te\\u0001\"");
    free(s);
    s = capture(csv_weird, NULL);
    CHECK_STR(s, "plain|\"a,b \"\"q\"\"\"");
    free(s);
}

/* Hostile bytes: invalid UTF-8 (a stray continuation, an overlong "/", a
 * surrogate, a truncated sequence), C0 (ESC), DEL and C1 (CSI, U+009B)
 * controls, beside valid 2-, 3- and 4-byte characters. */
static const char hostile[] = "ok\x80|\xc0\xaf|\xed\xa0\x80|\x1b[31m|\x7f|\xc2\x9b"
                              "2J|caf\xc3\xa9|\xe2\x82\xac|\xf0\x9f\x98\x80|\t|\xe2\x82";

static void json_hostile(FILE *f, void *arg)
{
    report_json_string(f, hostile);
}

static void csv_hostile(FILE *f, void *arg)
{
    report_csv_field(f, hostile);
}

static void text_hostile(FILE *f, void *arg)
{
    report_text(f, hostile);
}

/* Valid UTF-8 through and through, with no C0 (but newline), DEL or C1. */
static bool clean_utf8(const char *s)
{
    for (size_t k; *s; s += k) {
        k = report_utf8_len(s);
        if (k == 0)
            return false;
        unsigned char c = (unsigned char)*s;
        if ((k == 1 && ((c < 0x20 && c != '\n') || c == 0x7f)) ||
            (k == 2 && c == 0xc2 && (unsigned char)s[1] < 0xa0))
            return false;
    }
    return true;
}

#define FFFD "\xef\xbf\xbd"

TEST(report_cleans_hostile_bytes_in_every_format)
{
    char *s = capture(json_hostile, NULL);
    CHECK(clean_utf8(s));
    CHECK_STR(s, "\"ok" FFFD "|" FFFD FFFD "|" FFFD FFFD FFFD "|\\u001b[31m|\\u007f|\\u009b"
                 "2J|caf\xc3\xa9|\xe2\x82\xac|\xf0\x9f\x98\x80|\\t|" FFFD FFFD "\"");
    free(s);
    s = capture(csv_hostile, NULL);
    CHECK(clean_utf8(s));
    CHECK_STR(s, "ok" FFFD "|" FFFD FFFD "|" FFFD FFFD FFFD "|" FFFD "[31m|" FFFD "|" FFFD
                 "2J|caf\xc3\xa9|\xe2\x82\xac|\xf0\x9f\x98\x80| |" FFFD FFFD);
    free(s);
    s = capture(text_hostile, NULL);
    CHECK(clean_utf8(s));
    CHECK(strstr(s, "\x1b") == NULL);
    free(s);
    char buf[16];
    /* report_clean cuts at a whole character. */
    report_clean("abcdefghijk\xe2\x82\xac", buf, 14);
    CHECK_STR(buf, "abcdefghijk");
    report_clean("a\x1b"
                 "b",
                 buf, sizeof buf);
    CHECK_STR(buf, "a" FFFD "b");
    /* Valid text, commas and quotes: CSV quotes it as RFC 4180 says. */
    CHECK_EQ(report_utf8_len("\xf4\x90\x80\x80"), 0); /* past U+10FFFF */
    CHECK_EQ(report_utf8_len("\xe0\x80\xaf"), 0);     /* overlong */
    CHECK_EQ(report_utf8_len("\xf0\x9f\x98\x80"), 4);
}

static fetch_result sample(void)
{
    fetch_result r;
    memset(&r, 0, sizeof r);
    r.index = 7;
    r.url = "http://h/x?a=\"1\",2";
    r.status = 503;
    r.bytes = 1234;
    r.total = 0.25;
    r.attempts = 3;
    r.worker = 2;
    snprintf(r.error, sizeof r.error, "HTTP 503");
    return r;
}

static void rows(FILE *f, void *arg)
{
    fetch_result r = sample();
    report_format fmt = *(report_format *)arg;
    report_header(f, fmt);
    report_row(f, fmt, &r);
    r.ok = true;
    r.status = 200;
    r.error[0] = '\0';
    report_row(f, fmt, &r);
}

TEST(report_rows_in_each_format)
{
    report_format fmt = REPORT_TABLE;
    char *s = capture(rows, &fmt);
    CHECK(strstr(s, "STATUS") == s);
    CHECK(strstr(s, "   503       1234   0.250s     3  http://h/x?a=\"1\",2  (HTTP 503)\n"));
    free(s);

    fmt = REPORT_JSON;
    s = capture(rows, &fmt);
    CHECK(strncmp(s, "{\"index\":7,\"url\":\"http://h/x?a=\\\"1\\\",2\",\"ok\":false", 50) == 0);
    CHECK(strstr(s, "\"error\":\"HTTP 503\""));
    CHECK(strstr(s, "\"error\":null"));
    free(s);

    fmt = REPORT_CSV;
    s = capture(rows, &fmt);
    CHECK(strncmp(s, "index,url,ok,status,bytes,time,", 31) == 0);
    CHECK(strstr(s, "\n7,\"http://h/x?a=\"\"1\"\",2\",false,503,1234,0.250000,"));
    free(s);
}

static void compare(FILE *f, void *arg)
{
    report_compare(f, 6.0, 2.0, 3, 3);
}

static void summary(FILE *f, void *arg)
{
    report_stats st = {.ok = 9, .failed = 1, .bytes = 2500000, .wall = 2.0};
    report_summary(f, &st, "Summary");
}

TEST(report_compare_and_summary_read_like_the_seeds)
{
    char *s = capture(compare, NULL);
    CHECK(strstr(s, "Sequential: 6.00s\n"));
    CHECK(strstr(s, "Threaded: 2.00s (3 workers)\n"));
    CHECK(strstr(s, "Speedup: 3.0x (ideal 3.0x, efficiency 100%)\n"));
    free(s);
    s = capture(summary, NULL);
    CHECK_STR(s, "Summary: 9 succeeded, 1 failed, 2.5 MB in 2.00s (5.0 requests/s)\n");
    free(s);
    CHECK(report_ideal(10, 3) == 3.0);
    CHECK(report_ideal(4, 100) == 4.0);
    CHECK(report_ideal(4, 0) == 1.0);
}

TEST(progress_bar_text)
{
    char buf[256];
    progress_format(buf, sizeof buf, 2.0, 5, 10, 3, 10);
    CHECK_STR(buf, "[#####.....] 5/10, 3 in flight, 2.5/s ETA 2s");
    progress_format(buf, sizeof buf, 2.0, 4, 0, 1, 10);
    CHECK_STR(buf, "4 done, 1 in flight, 2.0/s");
    /* Not a terminal: drawing is a no-op. */
    progress p;
    progress_init(&p, false, 0);
    progress_draw(&p, 1, 1, 2, 1, true);
    CHECK(!p.drawn);
}

/* ------------------------------------------------------------ timeline */

static timeline *tl_arg;

static void render(FILE *f, void *arg)
{
    timeline_render(tl_arg, *(double *)arg, 20, 8, f);
}

TEST(timeline_few_requests_read_like_the_seeds)
{
    timeline t;
    timeline_init(&t);
    CHECK_OK(timeline_add(&t, 0.0, 2.0, 0, true, "http://site1.com/"));
    CHECK_OK(timeline_add(&t, 0.0, 2.0, 1, false, "http://site2.com/x"));
    tl_arg = &t;
    double wall = 2.0;
    char *s = capture(render, &wall);
    CHECK(strstr(s, "t=0.00s fetch /"));
    CHECK(strstr(s, "done at t=2.00s\n"));
    CHECK(strstr(s, "failed at t=2.00s\n"));
    CHECK(strstr(s, "total: 2.00s\n"));
    free(s);
    timeline_free(&t);
}

TEST(timeline_rows_per_worker)
{
    timeline t;
    timeline_init(&t);
    /* Worker 0 busy the first half, worker 1 the second half. */
    for (int i = 0; i < 10; i++) {
        CHECK_OK(timeline_add(&t, i * 0.1, i * 0.1 + 0.1, 0, true, "http://h/a"));
        CHECK_OK(timeline_add(&t, 1.0 + i * 0.1, 1.1 + i * 0.1, 1, i != 9, "http://h/b"));
    }
    tl_arg = &t;
    double wall = 2.0;
    char *s = capture(render, &wall);
    CHECK(strstr(s, "2 workers, 20 requests"));
    CHECK(strstr(s, "worker   0 |##########..........| 10\n"));
    CHECK(strstr(s, "worker   1 |..........#########x| 10\n"));
    free(s);
    timeline_free(&t);
}

TEST(trace_is_valid_json)
{
    char path[] = "/tmp/weft-trace-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    trace tr;
    CHECK_OK(trace_open(&tr, path));
    trace_process(&tr, 1, "run \"one\"");
    trace_thread(&tr, 1, 0);
    trace_span(&tr, 1, 0, 0.0, 0.1, "http://h/a\"b", 200, NULL);
    trace_span(&tr, 1, 0, 0.1, 0.3, "http://h/c", 0, "timed out\n");
    CHECK_OK(trace_close(&tr));
    char cmd[128];
    snprintf(cmd, sizeof cmd, "python3 -m json.tool %s >/dev/null", path);
    CHECK_EQ(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "grep -q '\"ph\":\"X\"' %s", path);
    CHECK_EQ(system(cmd), 0);
    unlink(path);
}

/* ------------------------------------------------------------ arguments */

static int parse(fetch_opts *o, const char *line)
{
    static char store[1024];
    static char *argv[64];
    snprintf(store, sizeof store, "%s", line);
    int argc = 0;
    for (char *tok = strtok(store, " "); tok && argc < 63; tok = strtok(NULL, " "))
        argv[argc++] = tok;
    argv[argc] = NULL;
    FILE *devnull = fopen("/dev/null", "w");
    int rc = fetch_parse_args(argc, argv, o, devnull, devnull);
    fclose(devnull);
    return rc;
}

TEST(fetch_args_parse_and_validate)
{
    fetch_opts o;
    CHECK_EQ(parse(&o, "fetch http://a/ http://b/"), 0);
    CHECK_EQ(o.nurls, 2);
    CHECK_EQ(o.jobs, FETCH_DEFAULT_JOBS);
    CHECK_EQ(o.per_host, FETCH_DEFAULT_PER_HOST);
    CHECK_EQ(o.format, REPORT_TABLE);

    CHECK_EQ(parse(&o, "fetch -j 100 --json --timeout 0.2 --retries 0 --per-host 0 "
                       "--rate 50 -o d --compare --timeline --trace t.json -i urls.txt"),
             0);
    CHECK_EQ(o.jobs, 100);
    CHECK_EQ(o.format, REPORT_JSON);
    CHECK(o.timeout == 0.2);
    CHECK_EQ(o.retries, 0);
    CHECK_EQ(o.per_host, 0);
    CHECK(o.rate == 50);
    CHECK_STR(o.outdir, "d");
    CHECK(o.compare && o.timeline);
    CHECK_STR(o.trace, "t.json");
    CHECK_STR(o.input, "urls.txt");
    CHECK_EQ(o.nurls, 0);

    /* Options after the URLs count too. */
    CHECK_EQ(parse(&o, "fetch http://a/ --csv"), 0);
    CHECK_EQ(o.format, REPORT_CSV);
    CHECK_EQ(o.nurls, 1);

    CHECK_EQ(parse(&o, "fetch --help"), 1);
    CHECK_EQ(parse(&o, "fetch"), 2);
    CHECK_EQ(parse(&o, "fetch -j 0 http://a/"), 2);
    CHECK_EQ(parse(&o, "fetch -j x http://a/"), 2);
    CHECK_EQ(parse(&o, "fetch -j -3 http://a/"), 2);
    CHECK_EQ(parse(&o, "fetch --timeout abc http://a/"), 2);
    CHECK_EQ(parse(&o, "fetch --timeout -1 http://a/"), 2);
    CHECK_EQ(parse(&o, "fetch --timeout nan http://a/"), 2);
    CHECK_EQ(parse(&o, "fetch --rate 0 http://a/"), 2);
    CHECK_EQ(parse(&o, "fetch --retries 1000 http://a/"), 2);
    CHECK_EQ(parse(&o, "fetch --json --csv http://a/"), 2);
    CHECK_EQ(parse(&o, "fetch -i f http://a/"), 2);
    CHECK_EQ(parse(&o, "fetch --bogus http://a/"), 2);
    CHECK_EQ(parse(&o, "fetch http://a/ --timeout"), 2);
}
