/* demo.c: `weft demo`: the speedup of threads for I/O, shown with no
 * network and no setup.
 *
 * DESIGN: starts the embedded site (site.h) in this process with a
 * realistic latency (50 ms plus up to 50 ms of jitter per request), then
 * runs `weft fetch --compare --timeline` over its pages through cmd_fetch
 * itself, so the demo exercises exactly the code users run: first with one
 * worker, then with N, and prints the seeds' comparison and both timelines.
 * About 5 s sequential plus half a second threaded with the defaults. */
#include "cli/args.h"
#include "commands.h"
#include "crawl/crawl.h"
#include "site/site.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char demo_usage[] =
    "usage: weft demo [options]\n"
    "\n"
    "Starts the embedded test site on loopback (every request waits 50-100 ms,\n"
    "like a real server), fetches its pages with 1 worker and then with N, and\n"
    "prints both times, the speedup and a per-worker timeline. No network needed.\n";

int cmd_demo(int argc, char **argv)
{
    unsigned jobs = 10, pages = 60;
    double latency = 0.05, jitter = 0.05;
    const char *tracefile = NULL;
    const args_opt opts[] = {
        {"jobs", 'j', ARGS_UINT, &jobs, 1, 1000, 0, 0, false, "N",
         "workers for the threaded run (default 10)"},
        {"pages", 0, ARGS_UINT, &pages, 1, 10000, 0, 0, false, "N", "pages to fetch (default 60)"},
        {"latency", 0, ARGS_SECONDS, &latency, 0, 0, 0, 10, false, "S",
         "base latency per request in seconds (default 0.05)"},
        {"jitter", 0, ARGS_SECONDS, &jitter, 0, 0, 0, 10, false, "S",
         "plus up to S random seconds (default 0.05)"},
        {"trace", 0, ARGS_STRING, &tracefile, 0, 0, 0, 0, false, "FILE",
         "also write a Trace Event file (open in Perfetto)"},
        {"help", 'h', ARGS_HELP, NULL, 0, 0, 0, 0, false, NULL, "this text"},
    };
    const args_spec sp = {"demo", demo_usage, NULL, opts, sizeof opts / sizeof opts[0], 0, 0, NULL};
    int rc = args_parse(&sp, argc, argv, NULL, stdout, stderr);
    if (rc != 0)
        return rc == 1 ? 0 : rc;

    site_opts so;
    site_opts_default(&so);
    so.pages = (unsigned)pages;
    so.latency = latency;
    so.jitter = jitter;
    struct site *s;
    rc = site_start(&s, &so);
    if (rc) {
        fprintf(stderr, "weft demo: cannot start the embedded site: %s\n", strerror(rc));
        return 1;
    }
    unsigned n = (unsigned)pages;
    char jbuf[16];
    snprintf(jbuf, sizeof jbuf, "%u", (unsigned)jobs);
    /* "fetch" + options + URLs + NULL */
    size_t nargs = 12 + n;
    char **args = calloc(nargs, sizeof *args);
    char *urls = malloc((size_t)n * 256);
    if (!args || !urls) {
        free(args);
        free(urls);
        site_stop(s);
        return 1;
    }
    size_t k = 0;
    args[k++] = "fetch";
    args[k++] = "--compare";
    args[k++] = "--timeline";
    args[k++] = "--quiet";
    args[k++] = "-j";
    args[k++] = jbuf;
    args[k++] = "--per-host";
    args[k++] = "0"; /* our own loopback server: no politeness needed */
    if (tracefile) {
        args[k++] = "--trace";
        args[k++] = (char *)tracefile;
    }
    const char *base = site_base_url(s); /* ends with '/' */
    for (unsigned i = 0; i < n; i++) {
        char *u = urls + (size_t)i * 256;
        snprintf(u, 256, "%spage/%u", base, i);
        args[k++] = u;
    }
    printf("weft demo: %u pages from the embedded site at %s\n"
           "each request takes %.0f-%.0f ms, as a real server would; first with 1 worker,\n"
           "then with %u workers on a weft executor.\n\n",
           n, base, latency * 1e3, (latency + jitter) * 1e3, (unsigned)jobs);
    fflush(stdout);
    rc = cmd_fetch((int)k, args);
    if (rc == 0) {
        /* The seeds' main job: the web scraper with speedup measurement. */
        printf("\nweft demo: crawling the same site breadth-first from %s, 3 levels deep,\n"
               "first with 1 worker, then with %u (weft crawl --compare):\n\n",
               base, (unsigned)jobs);
        fflush(stdout);
        int crc = crawl_compare_report(base, (unsigned)jobs, 3, stdout);
        rc = crc == 0 ? 0 : 1;
    }
    site_stop(s);
    free(urls);
    free(args);
    if (rc == 0)
        printf("\nTry it on your own URLs: weft fetch --compare --timeline -j 10 URL...\n");
    return rc;
}
