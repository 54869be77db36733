/* bench-html.c: the CPU that parsing costs alone: every file named on stdin
 * (one path a line) is read into memory first, then parsed ROUNDS times
 * with the crawler's own parser (tool/parse/html.c: libxml2's HTML push
 * parser with SAX callbacks, fed 16 KiB at a time as libcurl delivers a
 * body). Prints one JSON line: files, MB, links found, and the CPU seconds
 * of one pass (the median of ROUNDS). bench/bench_realhtml.py runs it on
 * the pages a crawl fetched, to show how much of the crawl's CPU is the
 * HTML parser's floor.
 *
 *   find DIR -name '*.html' | bench-html [ROUNDS]
 */
#include "parse/html.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHUNK 16384

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 5;
    if (rounds < 1 || rounds > 1000) {
        fprintf(stderr, "usage: bench-html [ROUNDS 1..1000] < list-of-files\n");
        return 2;
    }
    size_t n = 0, cap = 0, total = 0;
    char **buf = NULL;
    size_t *len = NULL;
    char path[4096];
    while (fgets(path, sizeof path, stdin)) {
        path[strcspn(path, "\n")] = '\0';
        FILE *f = fopen(path, "rb");
        if (!f) {
            fprintf(stderr, "bench-html: %s: cannot open\n", path);
            continue;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            buf = realloc(buf, cap * sizeof *buf);
            len = realloc(len, cap * sizeof *len);
            if (!buf || !len)
                return 1;
        }
        fseek(f, 0, SEEK_END);
        long sz = ftell(f);
        rewind(f);
        buf[n] = malloc(sz > 0 ? (size_t)sz : 1);
        len[n] = sz > 0 ? fread(buf[n], 1, (size_t)sz, f) : 0;
        fclose(f);
        total += len[n];
        n++;
    }
    html_global_init();
    double *t = calloc((size_t)rounds, sizeof *t);
    size_t links = 0;
    for (int r = 0; r < rounds; r++) {
        double t0 = cpu_now();
        links = 0;
        for (size_t i = 0; i < n; i++) {
            html_parser *p;
            if (html_parser_new(&p, NULL) != 0)
                return 1;
            for (size_t o = 0; o < len[i]; o += CHUNK)
                html_parser_feed(p, buf[i] + o, len[i] - o < CHUNK ? len[i] - o : CHUNK);
            html_page pg;
            html_parser_finish(p, &pg);
            links += pg.nlinks;
            html_page_free(&pg);
            html_parser_free(p);
        }
        t[r] = cpu_now() - t0;
    }
    qsort(t, (size_t)rounds, sizeof *t, cmp_double);
    printf("{\"files\": %zu, \"mb\": %.2f, \"links\": %zu, \"cpu_s\": %.4f}\n", n, total / 1e6,
           links, t[rounds / 2]);
    for (size_t i = 0; i < n; i++)
        free(buf[i]);
    free(buf);
    free(len);
    free(t);
    return 0;
}
