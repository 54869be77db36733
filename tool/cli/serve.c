/* serve.c: `weft serve`, the embedded test site (site.h) as a command.
 *
 * DESIGN: SIGINT and SIGTERM are blocked before the site starts, so every
 * thread libmicrohttpd and the site create inherits the mask and the signals
 * stay pending for the main thread, which just sigwait()s for one and then
 * stops the site. No handler runs asynchronously, so stopping is ordinary
 * code. The base URL is printed (and flushed) only once the socket listens,
 * so a script can read it and connect at once.
 */
#include "commands.h"
#include "site/site.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static void usage(FILE *to)
{
    fprintf(to, "usage: weft serve [options]\n"
                "\n"
                "Serves a synthetic web site on loopback for crawler tests and demos and\n"
                "prints its base URL; stops on SIGINT or SIGTERM.\n"
                "\n"
                "options:\n"
                "  --host ADDR          numeric address to bind (default 127.0.0.1)\n"
                "  --port N             port (default 0: any free port)\n"
                "  --pages N            pages in the link graph (default 200)\n"
                "  --seed N             seed of the graph, texts and error pages (default 1)\n"
                "  --links N            seeded links per page besides the next (default 3)\n"
                "  --latency S          seconds every request waits (default 0)\n"
                "  --jitter S           plus up to S random seconds (default 0)\n"
                "  --error-rate F       fraction of pages that always fail (default 0)\n"
                "  --transient-rate F   fraction whose first request answers 503 (default 0)\n"
                "  --robots-delay S     Crawl-delay in robots.txt (default: none)\n"
                "  --no-robots          robots.txt answers 404\n"
                "  --private-every N    page I links /private/I when I %% N == N/2 (default 10)\n"
                "  --threads N          polling threads (default 1)\n"
                "  --connection-limit N concurrent connections (default 10000)\n"
                "  --log                libmicrohttpd's error log on stderr\n"
                "  --help               this text\n"
                "\n"
                "Paths: /, /page/I, /private/I, /robots.txt, /zoo (an index of the special\n"
                "paths: /status/CODE, /reset, /redirect/N, /loop/a, /big/N, /slow/N?rate=R,\n"
                "/malformed, /latin1, /badutf8, /binary, /links, /flaky/NAME, /echo).\n"
                "?delay=S on any path sets that request's latency.\n");
}

static int bad(const char *opt, const char *value, const char *why)
{
    fprintf(stderr, "weft serve: bad value '%s' for %s: %s\n", value, opt, why);
    return 2;
}

static bool to_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    if (!*s || *s == '-' || *s == '+')
        return false;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v > max)
        return false;
    *out = v;
    return true;
}

static bool to_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    if (!*s)
        return false;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !(v >= lo && v <= hi))
        return false;
    *out = v;
    return true;
}

enum {
    O_HOST = 256,
    O_PORT,
    O_PAGES,
    O_SEED,
    O_LINKS,
    O_LATENCY,
    O_JITTER,
    O_ERROR_RATE,
    O_TRANSIENT_RATE,
    O_ROBOTS_DELAY,
    O_NO_ROBOTS,
    O_PRIVATE_EVERY,
    O_THREADS,
    O_CONN_LIMIT,
    O_LOG,
    O_HELP,
};

static const struct option longopts[] = {
    {"host", required_argument, NULL, O_HOST},
    {"port", required_argument, NULL, O_PORT},
    {"pages", required_argument, NULL, O_PAGES},
    {"seed", required_argument, NULL, O_SEED},
    {"links", required_argument, NULL, O_LINKS},
    {"latency", required_argument, NULL, O_LATENCY},
    {"jitter", required_argument, NULL, O_JITTER},
    {"error-rate", required_argument, NULL, O_ERROR_RATE},
    {"transient-rate", required_argument, NULL, O_TRANSIENT_RATE},
    {"robots-delay", required_argument, NULL, O_ROBOTS_DELAY},
    {"no-robots", no_argument, NULL, O_NO_ROBOTS},
    {"private-every", required_argument, NULL, O_PRIVATE_EVERY},
    {"threads", required_argument, NULL, O_THREADS},
    {"connection-limit", required_argument, NULL, O_CONN_LIMIT},
    {"log", no_argument, NULL, O_LOG},
    {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0},
};

/* Fills *o from argv; returns -1 to go on, else the exit status. */
static int parse(int argc, char **argv, site_opts *o)
{
    unsigned long u;
    double d;
    int c;
    optind = 0; /* glibc: full re-initialisation, cmd_serve may run twice */
    opterr = 0;
    int idx = -1;
    while ((c = getopt_long(argc, argv, "+:h", longopts, &idx)) != -1) {
        char opt[40];
        if (idx >= 0)
            snprintf(opt, sizeof opt, "--%s", longopts[idx].name);
        else
            snprintf(opt, sizeof opt, "%s", optind > 0 && optind <= argc ? argv[optind - 1] : "?");
        idx = -1;
        const char *v = optarg;
        switch (c) {
        case O_HOST:
            o->host = v;
            break;
        case O_PORT:
            if (!to_uint(v, 65535, &u))
                return bad(opt, v, "a port is 0..65535");
            o->port = (unsigned)u;
            break;
        case O_PAGES:
            if (!to_uint(v, 10000000, &u) || u < 1)
                return bad(opt, v, "between 1 and 10000000 pages");
            o->pages = (unsigned)u;
            break;
        case O_SEED:
            if (!to_uint(v, ~0UL, &u))
                return bad(opt, v, "a non-negative integer");
            o->seed = u;
            break;
        case O_LINKS:
            if (!to_uint(v, 64, &u))
                return bad(opt, v, "0..64 links");
            o->links = (unsigned)u;
            break;
        case O_LATENCY:
        case O_JITTER:
            if (!to_double(v, 0, 3600, &d))
                return bad(opt, v, "seconds between 0 and 3600");
            *(c == O_LATENCY ? &o->latency : &o->jitter) = d;
            break;
        case O_ERROR_RATE:
        case O_TRANSIENT_RATE:
            if (!to_double(v, 0, 1, &d))
                return bad(opt, v, "a fraction between 0 and 1");
            *(c == O_ERROR_RATE ? &o->error_rate : &o->transient_rate) = d;
            break;
        case O_ROBOTS_DELAY:
            if (!to_double(v, 0, 3600, &d))
                return bad(opt, v, "seconds between 0 and 3600");
            o->robots_delay = d;
            break;
        case O_NO_ROBOTS:
            o->robots_missing = true;
            break;
        case O_PRIVATE_EVERY:
            if (!to_uint(v, 1000000, &u))
                return bad(opt, v, "a non-negative integer");
            o->private_every = (unsigned)u;
            break;
        case O_THREADS:
            if (!to_uint(v, 64, &u) || u < 1)
                return bad(opt, v, "1..64 threads");
            o->threads = (unsigned)u;
            break;
        case O_CONN_LIMIT:
            if (!to_uint(v, 1000000, &u) || u < 1)
                return bad(opt, v, "1..1000000 connections");
            o->connection_limit = (unsigned)u;
            break;
        case O_LOG:
            o->log_errors = true;
            break;
        case O_HELP:
        case 'h':
            usage(stdout);
            return 0;
        case ':':
            fprintf(stderr, "weft serve: %s needs a value\n", opt);
            return 2;
        default:
            fprintf(stderr, "weft serve: unknown option '%s'\n\n", opt);
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "weft serve: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
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
