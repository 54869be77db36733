/* timeline.c: per-worker timelines as ASCII and as Trace Event JSON.
 *
 * DESIGN: see timeline.h. The ASCII rows divide the wall time into `width`
 * cells and mark a cell busy when a request covers at least half of it, so a
 * sequential run of 60 requests reads as one solid bar and a threaded run as
 * short parallel bars: the picture of the speedup. */
#include "output/timeline.h"
#include "output/report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void timeline_init(timeline *t)
{
    memset(t, 0, sizeof *t);
}

void timeline_label(char *buf, size_t n, const char *url)
{
    const char *p = strstr(url, "://");
    p = p ? strchr(p + 3, '/') : NULL;
    report_clean(p ? p : url, buf, n);
}

int timeline_add(timeline *t, double start, double end, int worker, bool ok, const char *url)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        tl_span *s = realloc(t->spans, cap * sizeof *s);
        if (!s)
            return ENOMEM;
        t->spans = s;
        t->cap = cap;
    }
    tl_span *s = &t->spans[t->n++];
    s->start = start;
    s->end = end < start ? start : end;
    s->worker = worker;
    s->ok = ok;
    timeline_label(s->label, sizeof s->label, url ? url : "");
    if (worker + 1 > t->workers)
        t->workers = worker + 1;
    return 0;
}

void timeline_free(timeline *t)
{
    free(t->spans);
    timeline_init(t);
}

static int by_start(const void *a, const void *b)
{
    const tl_span *x = a, *y = b;
    return (x->start > y->start) - (x->start < y->start);
}

static void render_requests(const timeline *t, FILE *out)
{
    tl_span *s = malloc(t->n * sizeof *s);
    if (!s)
        return;
    memcpy(s, t->spans, t->n * sizeof *s);
    qsort(s, t->n, sizeof *s, by_start);
    double longest = 0;
    for (size_t i = 0; i < t->n; i++)
        if (s[i].end - s[i].start > longest)
            longest = s[i].end - s[i].start;
    for (size_t i = 0; i < t->n; i++) {
        /* Arrow length proportional to the duration, as in the seeds. */
        int len = longest > 0 ? (int)(20.0 * (s[i].end - s[i].start) / longest + 0.5) : 1;
        fprintf(out, "t=%.2fs fetch %-24s ", s[i].start, s[i].label);
        for (int k = 0; k < len; k++)
            fputs("\u2500", out);
        fprintf(out, "\u25ba %s at t=%.2fs\n", s[i].ok ? "done" : "failed", s[i].end);
    }
    free(s);
}

void timeline_render(const timeline *t, double wall, unsigned width, unsigned max_rows, FILE *out)
{
    if (t->n == 0) {
        fprintf(out, "(no requests)\n");
        return;
    }
    if (t->n <= 12) {
        render_requests(t, out);
        fprintf(out, "total: %.2fs\n", wall);
        return;
    }
    if (width == 0)
        width = 60;
    if (wall <= 0)
        wall = 1e-6;
    int rows = t->workers > 0 ? t->workers : 1;
    double *busy = calloc((size_t)rows * width, sizeof *busy);
    unsigned char *fail = calloc((size_t)rows * width, 1);
    size_t *count = calloc((size_t)rows, sizeof *count);
    if (!busy || !fail || !count)
        goto out;
    double cell = wall / width;
    for (size_t i = 0; i < t->n; i++) {
        const tl_span *s = &t->spans[i];
        int w = s->worker < 0 ? 0 : s->worker;
        count[w]++;
        unsigned a = (unsigned)(s->start / cell), b = (unsigned)(s->end / cell);
        for (unsigned c = a; c <= b && c < width; c++) {
            double lo = c * cell, hi = lo + cell;
            double from = s->start > lo ? s->start : lo, to = s->end < hi ? s->end : hi;
            if (to > from)
                busy[(size_t)w * width + c] += (to - from) / cell;
        }
        if (!s->ok) {
            unsigned c = b < width ? b : width - 1;
            fail[(size_t)w * width + c] = 1;
        }
    }
    fprintf(out,
            "Timeline: %d worker%s, %zu requests, %.2fs; one column = %.0f ms "
            "('#' busy, 'x' failed, '.' idle)\n",
            rows, rows == 1 ? "" : "s", t->n, wall, cell * 1e3);
    int shown = rows < (int)max_rows || max_rows == 0 ? rows : (int)max_rows;
    for (int w = 0; w < shown; w++) {
        fprintf(out, "worker %3d |", w);
        for (unsigned c = 0; c < width; c++) {
            size_t k = (size_t)w * width + c;
            putc(fail[k] ? 'x' : busy[k] >= 0.5 ? '#' : busy[k] > 0 ? '+' : '.', out);
        }
        fprintf(out, "| %zu\n", count[w]);
    }
    if (shown < rows)
        fprintf(out, "... and %d more workers\n", rows - shown);
    fprintf(out, "%11s0s%*s%.2fs\n", "", (int)width - 4, "", wall);
out:
    free(busy);
    free(fail);
    free(count);
}

int trace_open(trace *t, const char *path)
{
    t->f = fopen(path, "w");
    if (!t->f)
        return errno;
    t->first = true;
    fputs("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n", t->f);
    return 0;
}

static void sep(trace *t)
{
    if (!t->first)
        fputs(",\n", t->f);
    t->first = false;
}

void trace_process(trace *t, int pid, const char *name)
{
    if (!t->f)
        return;
    sep(t);
    fprintf(
        t->f,
        "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":0,\"args\":{\"name\":", pid);
    report_json_string(t->f, name);
    fputs("}}", t->f);
}

void trace_thread(trace *t, int pid, int worker)
{
    if (!t->f)
        return;
    sep(t);
    fprintf(t->f,
            "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,"
            "\"args\":{\"name\":\"worker %d\"}}",
            pid, worker, worker);
}

void trace_span(trace *t, int pid, int worker, double start, double end, const char *url,
                long status, const char *error)
{
    if (!t->f)
        return;
    char label[128];
    timeline_label(label, sizeof label, url ? url : "");
    sep(t);
    fputs("{\"name\":", t->f);
    report_json_string(t->f, label);
    fprintf(t->f,
            ",\"cat\":\"fetch\",\"ph\":\"X\",\"ts\":%.1f,\"dur\":%.1f,\"pid\":%d,\"tid\":%d,"
            "\"args\":{\"url\":",
            start * 1e6, (end > start ? end - start : 0) * 1e6, pid, worker);
    report_json_string(t->f, url);
    fprintf(t->f, ",\"status\":%ld,\"error\":", status);
    report_json_string(t->f, error && *error ? error : NULL);
    fputs("}}", t->f);
}

int trace_close(trace *t)
{
    if (!t->f)
        return 0;
    fputs("\n]}\n", t->f);
    int rc = ferror(t->f) ? EIO : 0;
    if (fclose(t->f) != 0 && rc == 0)
        rc = errno;
    t->f = NULL;
    return rc;
}
