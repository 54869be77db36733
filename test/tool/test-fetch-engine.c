/* The fetch engine against the embedded site, in-process: per-host limits,
 * Retry-After, timeouts, resets, redirect loops, malformed URLs, -o DIR, and
 * what the site saw. Timing checks are one-sided. */
#include "test.h"

#include "fetch/fetch.h"
#include "http/hostlimit.h"
#include "site/site.h"

#include <weft.h>

#include <curl/curl.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

static struct site *start_site(double latency)
{
    CHECK(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK);
    site_opts so;
    site_opts_default(&so);
    so.latency = latency;
    struct site *s;
    CHECK_OK(site_start(&s, &so));
    return s;
}

/* Runs the URLs (each "PATH" relative to the site) with o, rows as JSON
 * lines into *rows (malloc'd). */
static fetch_run_result run(struct site *s, fetch_opts *o, unsigned workers, const char **paths,
                            size_t n, char **rows)
{
    char **urls = calloc(n, sizeof *urls);
    CHECK(urls != NULL);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(site_base_url(s)) + strlen(paths[i]) + 1;
        urls[i] = malloc(len);
        snprintf(urls[i], len, "%s%s", site_base_url(s),
                 paths[i][0] == '/' ? paths[i] + 1 : paths[i]);
        /* Absolute URLs (with a scheme, or none at all) are passed as is. */
        if (strstr(paths[i], ":") || paths[i][0] == '!')
            snprintf(urls[i], len, "%s", paths[i] + (paths[i][0] == '!'));
    }
    o->urls = urls;
    o->nurls = n;
    o->format = REPORT_JSON;
    size_t sz = 0;
    FILE *f = open_memstream(rows, &sz);
    fetch_sinks sk = {.rows = f};
    fetch_run_result res;
    CHECK_OK(fetch_run(o, workers, true, NULL, &sk, &res));
    fclose(f);
    for (size_t i = 0; i < n; i++)
        free(urls[i]);
    free(urls);
    return res;
}

TEST(per_host_limit_holds_while_jobs_is_larger)
{
    struct site *s = start_site(0.05);
    fetch_opts o;
    fetch_opts_default(&o);
    o.per_host = 3;
    const char *paths[40];
    char buf[40][32];
    for (int i = 0; i < 40; i++) {
        snprintf(buf[i], sizeof buf[i], "/page/%d", i);
        paths[i] = buf[i];
    }
    char *rows;
    fetch_run_result r = run(s, &o, 16, paths, 40, &rows);
    CHECK_EQ(r.stats.ok, 40);
    CHECK_EQ(r.stats.failed, 0);
    unsigned peak = site_peak_concurrency(s, "127.0.0.1");
    CHECK(peak >= 1);
    CHECK(peak <= 3);
    free(rows);
    site_stop(s);
}

TEST(each_worker_keeps_its_connection_alive)
{
    /* One worker, one curl handle in its thread-local slot: every request
     * after the first reuses the connection. */
    struct site *s = start_site(0);
    fetch_opts o;
    fetch_opts_default(&o);
    const char *paths[5] = {"/page/0", "/page/1", "/page/2", "/page/3", "/page/4"};
    char *rows;
    fetch_run_result r = run(s, &o, 1, paths, 5, &rows);
    CHECK_EQ(r.stats.ok, 5);
    size_t reused = 0;
    for (const char *p = rows; (p = strstr(p, "\"reused\":true")); p++)
        reused++;
    CHECK_EQ(reused, 4);
    free(rows);
    site_stop(s);
}

TEST(no_per_host_limit_lets_all_workers_in)
{
    /* The converse, so the test above could fail: with no limit, 8 workers
     * on 8 slow requests overlap more than 3 at some point. */
    struct site *s = start_site(0.3);
    fetch_opts o;
    fetch_opts_default(&o);
    o.per_host = 0;
    const char *paths[8] = {"/page/0", "/page/1", "/page/2", "/page/3",
                            "/page/4", "/page/5", "/page/6", "/page/7"};
    char *rows;
    fetch_run_result r = run(s, &o, 8, paths, 8, &rows);
    CHECK_EQ(r.stats.ok, 8);
    CHECK(site_peak_concurrency(s, "127.0.0.1") > 3);
    free(rows);
    site_stop(s);
}

TEST(retry_after_is_honoured)
{
    struct site *s = start_site(0);
    fetch_opts o;
    fetch_opts_default(&o);
    o.retries = 1;
    const char *paths[] = {"/status/503?retry-after=2"};
    char *rows;
    fetch_run_result r = run(s, &o, 2, paths, 1, &rows);
    CHECK_EQ(r.stats.failed, 1); /* 503 every time: a failure after retries */
    CHECK_EQ(site_hits(s, "/status/503"), 2);
    /* As the server saw it: the retry came no sooner than Retry-After asked,
     * far later than the first backoff (at most 0.2 s). One-sided. */
    CHECK(site_hit_gap(s, "/status/503", 0) >= 2.0 - 0.05);
    CHECK(strstr(rows, "\"attempts\":2"));
    CHECK(strstr(rows, "\"error\":\"HTTP 503\""));
    free(rows);
    site_stop(s);
}

TEST(flaky_path_succeeds_on_retry)
{
    struct site *s = start_site(0);
    fetch_opts o;
    fetch_opts_default(&o);
    o.retries = 2;
    const char *paths[] = {"/flaky/a?fail=1"};
    char *rows;
    fetch_run_result r = run(s, &o, 1, paths, 1, &rows);
    CHECK_EQ(r.stats.ok, 1);
    CHECK_EQ(site_hits(s, "/flaky/a"), 2);
    CHECK(strstr(rows, "\"attempts\":2"));
    free(rows);
    site_stop(s);
}

TEST_T(bad_urls_fail_one_by_one_and_the_run_goes_on, 20)
{
    struct site *s = start_site(0);
    fetch_opts o;
    fetch_opts_default(&o);
    /* The slow body needs 100 s; a page takes far less than 1 s even under
     * a sanitizer on a loaded machine. */
    o.timeout = 1;
    o.retries = 1;
    const char *paths[] = {
        "/slow/100000?rate=1000",
        "/reset",
        "/loop/a",
        "!http://exa mple/",
        "!ftp://h/x",
        "!not-a-url",
        "/page/1",
        "/status/404",
    };
    char *rows;
    fetch_run_result r = run(s, &o, 4, paths, 8, &rows);
    CHECK_EQ(r.stats.ok, 1);
    CHECK_EQ(r.stats.failed, 7);
    CHECK(strstr(rows, "timed out"));
    CHECK(strstr(rows, "too many redirects"));
    CHECK(strstr(rows, "malformed URL"));
    CHECK(strstr(rows, "unsupported scheme 'ftp'"));
    CHECK(strstr(rows, "\"error\":\"HTTP 404\""));
    /* The reset is retried once, then reported. */
    CHECK_EQ(site_hits(s, "/reset"), 2);
    /* 404 and redirect loops are not retried. */
    CHECK_EQ(site_hits(s, "/status/404"), 1);
    free(rows);
    site_stop(s);
}

static size_t entries(const char *dir)
{
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

TEST(output_dir_holds_every_body_and_nothing_escapes)
{
    struct site *s = start_site(0);
    char root[] = "/tmp/weft-fetch-o-XXXXXX";
    CHECK(mkdtemp(root) != NULL);
    char out[300];
    snprintf(out, sizeof out, "%s/out", root);
    CHECK(mkdir(out, 0755) == 0);
    fetch_opts o;
    fetch_opts_default(&o);
    o.outdir = out;
    char longpath[600] = "/page/1?";
    memset(longpath + 8, 'z', 500);
    const char *paths[] = {"/page/1", "/page/1",    "/../../x", "/%2e%2e/x", "/%2e%2e%2f%2e%2e%2fy",
                           longpath,  "/status/404"};
    char *rows;
    fetch_run_result r = run(s, &o, 3, paths, 7, &rows);
    CHECK_EQ(r.stats.failed, 4); /* x, x, y and the 404 */
    CHECK_EQ(entries(root), 1);  /* only out/ */
    /* The two /page/1 and the long name are saved; failures leave no file. */
    CHECK_EQ(entries(out), 3);
    CHECK(strstr(rows, "\"file\":\"1\""));
    CHECK(strstr(rows, "\"file\":\"1-1\""));
    free(rows);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0);
    site_stop(s);
}

TEST(hostlimit_counts_peaks_and_stops)
{
    hostlimit *h;
    atomic_bool stop = false;
    CHECK_OK(hostlimit_new(&h, 2, 0, &stop));
    CHECK_OK(hostlimit_enter(h, "a:80"));
    CHECK_OK(hostlimit_enter(h, "a:80"));
    CHECK_OK(hostlimit_enter(h, "b:80"));
    CHECK_EQ(hostlimit_peak(h), 2);
    /* A third on a full host waits; the stop flag ends the wait. */
    atomic_store(&stop, true);
    CHECK_RC(hostlimit_enter(h, "a:80"), ECANCELED);
    atomic_store(&stop, false);
    hostlimit_leave(h, "a:80");
    CHECK_OK(hostlimit_enter(h, "a:80"));
    hostlimit_leave(h, "a:80");
    hostlimit_leave(h, "a:80");
    hostlimit_leave(h, "b:80");
    hostlimit_free(h);
}

TEST(rate_limit_spaces_starts)
{
    hostlimit *h;
    CHECK_OK(hostlimit_new(&h, 0, 20, NULL)); /* 20/s: 50 ms apart */
    double t0 = weft_monotonic();
    for (int i = 0; i < 5; i++) {
        CHECK_OK(hostlimit_enter(h, "a:80"));
        hostlimit_leave(h, "a:80");
    }
    CHECK(weft_monotonic() - t0 >= 4 * 0.05 - 0.005);
    hostlimit_free(h);
}
