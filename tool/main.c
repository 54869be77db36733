/* main.c: the weft tool's entry point: global set-up, then one subcommand.
 *
 * libcurl's rule: curl_global_init runs here, before any thread exists. */
#include "commands.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *what;
} commands[] = {
    {"fetch", cmd_fetch, "download many URLs concurrently"},
    {"crawl", cmd_crawl, "crawl a site breadth-first, politely, concurrently"},
    {"serve", cmd_serve, "serve the synthetic test site on loopback"},
    {"demo", cmd_demo, "serve the embedded site and show the speedup of threads"},
};

static void usage(FILE *to)
{
    fprintf(to, "usage: weft <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(to, "  %-7s %s\n", commands[i].name, commands[i].what);
    fprintf(to, "\n'weft <command> --help' describes each command.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name) != 0)
            continue;
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            fprintf(stderr, "weft: curl_global_init failed\n");
            return 1;
        }
        int rc = commands[i].fn(argc - 1, argv + 1);
        curl_global_cleanup();
        return rc;
    }
    fprintf(stderr, "weft: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
