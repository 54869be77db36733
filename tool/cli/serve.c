/* serve.c: `weft serve`, the embedded test site (site.h) as a command.
 *
 * DESIGN: SIGINT and SIGTERM are blocked before the site starts, so every
 * thread libmicrohttpd and the site create inherits the mask and the signals
 * stay pending for the main thread, which just sigwait()s for one and then
 * stops the site. No handler runs asynchronously, so stopping is ordinary
 * code. The base URL is printed (and flushed) only once the socket listens,
 * so a script can read it and connect at once.
 */
#include "cli/args.h"
#include "commands.h"
#include "site/site.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static const char usage_head[] =
    "usage: weft serve [options]\n"
    "\n"
    "Serves a synthetic web site on loopback for crawler tests and demos and\n"
    "prints its base URL; stops on SIGINT or SIGTERM.\n";

static const char usage_tail[] =
    "Paths: /, /page/I, /private/I, /robots.txt, /zoo (an index of the special\n"
    "paths: /status/CODE, /reset, /redirect/N, /loop/a, /big/N, /slow/N?rate=R,\n"
    "/malformed, /latin1, /badutf8, /binary, /links, /flaky/NAME, /echo,\n"
    "/bomb/N: a gzip bomb of N MiB).\n"
    "?delay=S on any path sets that request's latency.\n";

/* Fills *o from argv; returns -1 to go on, else the exit status. */
static int parse(int argc, char **argv, site_opts *o)
{
    unsigned long long seed = o->seed;
    const args_opt opts[] = {
        {"host", 0, ARGS_STRING, &o->host, 0, 0, 0, 0, false, "ADDR",
         "numeric address to bind (default 127.0.0.1)"},
        {"port", 0, ARGS_UINT, &o->port, 0, 65535, 0, 0, false, "N",
         "port (default 0: any free port)"},
        {"pages", 0, ARGS_UINT, &o->pages, 1, 10000000, 0, 0, false, "N",
         "pages in the link graph (default 200)"},
        {"seed", 0, ARGS_U64, &seed, 0, ~0ull, 0, 0, false, "N",
         "seed of the graph, texts and error pages (default 1)"},
        {"links", 0, ARGS_UINT, &o->links, 0, 64, 0, 0, false, "N",
         "seeded links per page besides the next (default 3)"},
        {"latency", 0, ARGS_SECONDS, &o->latency, 0, 0, 0, 3600, false, "S",
         "seconds every request waits (default 0)"},
        {"jitter", 0, ARGS_SECONDS, &o->jitter, 0, 0, 0, 3600, false, "S",
         "plus up to S random seconds (default 0)"},
        {"error-rate", 0, ARGS_REAL, &o->error_rate, 0, 0, 0, 1, false, "F",
         "fraction of pages that always fail (default 0)"},
        {"transient-rate", 0, ARGS_REAL, &o->transient_rate, 0, 0, 0, 1, false, "F",
         "fraction whose first request answers 503 (default 0)"},
        {"robots-delay", 0, ARGS_SECONDS, &o->robots_delay, 0, 0, 0, 3600, false, "S",
         "Crawl-delay in robots.txt (default: none)"},
        {"no-robots", 0, ARGS_FLAG, &o->robots_missing, 0, 0, 0, 0, false, NULL,
         "robots.txt answers 404"},
        {"private-every", 0, ARGS_UINT, &o->private_every, 0, 1000000, 0, 0, false, "N",
         "page I links /private/I when I % N == N/2 (default 10)"},
        {"threads", 0, ARGS_UINT, &o->threads, 1, 64, 0, 0, false, "N",
         "polling threads (default 1)"},
        {"connection-limit", 0, ARGS_UINT, &o->connection_limit, 1, 1000000, 0, 0, false, "N",
         "concurrent connections (default 10000)"},
        {"dir", 0, ARGS_STRING, &o->dir, 0, 0, 0, 0, false, "DIR",
         "serve DIR's files instead of the synthetic site: types by\n"
         "extension, index.html for directories, 404 for the rest, 403\n"
         "out of the tree; text gzip-encoded when accepted"},
        {"gzip", 0, ARGS_FLAG, &o->gzip, 0, 0, 0, 0, false, NULL,
         "gzip-encode answers for clients that accept gzip"},
        {"log", 0, ARGS_FLAG, &o->log_errors, 0, 0, 0, 0, false, NULL,
         "libmicrohttpd's error log on stderr"},
        {"help", 'h', ARGS_HELP, NULL, 0, 0, 0, 0, false, NULL, "this text"},
    };
    const args_spec sp = {"serve", usage_head, usage_tail, opts, sizeof opts / sizeof opts[0],
                          0,       0,          NULL};
    int rc = args_parse(&sp, argc, argv, NULL, stdout, stderr);
    if (rc == 1)
        return 0;
    if (rc != 0)
        return rc;
    o->seed = seed;
    return -1;
}

int cmd_serve(int argc, char **argv)
{
    site_opts o;
    site_opts_default(&o);
    int rc = parse(argc, argv, &o);
    if (rc >= 0)
        return rc;

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigset_t old;
    pthread_sigmask(SIG_BLOCK, &set, &old);

    struct site *s;
    rc = site_start(&s, &o);
    if (rc) {
        fprintf(stderr, "weft serve: cannot start on %s port %u: %s\n", o.host, o.port,
                strerror(rc));
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return rc == EINVAL ? 2 : 1;
    }
    printf("%s\n", site_base_url(s));
    fflush(stdout);
    struct rlimit rl; /* site_start raised the soft limit as far as it goes */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)o.connection_limit + 64)
        fprintf(stderr,
                "weft serve: note: only %llu file descriptors (ulimit -n): fewer than %u "
                "concurrent connections\n",
                (unsigned long long)rl.rlim_cur, o.connection_limit);

    int sig = 0;
    while (sigwait(&set, &sig) != 0)
        ;
    site_stats c;
    site_counters(s, &c);
    site_stop(s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    fprintf(stderr, "weft serve: %s: stopped after %lu requests (peak %u at once)\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM", c.requests, c.peak);
    return 0;
}
