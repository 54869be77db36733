/* report.c: rows, summaries, the comparison and the progress bar of
 * `weft fetch`.
 *
 * DESIGN: see report.h. Numbers in JSON and CSV are plain (seconds with
 * microsecond precision, bytes as integers) so scripts need no parsing of
 * units; only the table and the summary are for eyes. */
#include "output/report.h"

#include <sys/resource.h>

#include <math.h>
#include <string.h>

/* Runs that need no escape go out with one fwrite each rather than a putc
 * per byte: a crawl writes thousands of records, and putc takes the
 * stream's lock every time (3.5% of a crawl's CPU). */
void report_json_string(FILE *out, const char *s)
{
    if (!s) {
        fputs("null", out);
        return;
    }
    putc('"', out);
    for (;;) {
        size_t n = 0;
        while (s[n] && s[n] != '"' && s[n] != '\\' && (unsigned char)s[n] >= 0x20 &&
               (unsigned char)s[n] != 0x7f)
            n++;
        if (n)
            fwrite(s, 1, n, out);
        s += n;
        if (!*s)
            break;
        unsigned char ch = (unsigned char)*s++;
        switch (ch) {
        case '"':
            fputs("\\\"", out);
            break;
        case '\\':
            fputs("\\\\", out);
            break;
        case '\n':
            fputs("\\n", out);
            break;
        case '\r':
            fputs("\\r", out);
            break;
        case '\t':
            fputs("\\t", out);
            break;
        default:
            fprintf(out, "\\u%04x", ch);
        }
    }
    putc('"', out);
}

void report_csv_field(FILE *out, const char *s)
{
    if (!s)
        return;
    if (strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s, out);
        return;
    }
    putc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            putc('"', out);
        putc(*s, out);
    }
    putc('"', out);
}

void report_bytes(char *buf, size_t n, long long bytes)
{
    if (bytes < 1000)
        snprintf(buf, n, "%lld B", bytes);
    else if (bytes < 1000000)
        snprintf(buf, n, "%.1f kB", bytes / 1e3);
    else if (bytes < 1000000000)
        snprintf(buf, n, "%.1f MB", bytes / 1e6);
    else
        snprintf(buf, n, "%.2f GB", bytes / 1e9);
}

void report_header(FILE *out, report_format fmt)
{
    switch (fmt) {
    case REPORT_TABLE:
        fprintf(out, "%6s %10s %8s %5s  %s\n", "STATUS", "BYTES", "TIME", "TRIES", "URL");
        break;
    case REPORT_CSV:
        fputs("index,url,ok,status,bytes,time,dns,connect,ttfb,attempts,worker,error,file,"
              "final_url,wire_bytes\n",
              out);
        break;
    case REPORT_JSON:
        break;
    }
}

void report_row(FILE *out, report_format fmt, const fetch_result *r)
{
    switch (fmt) {
    case REPORT_TABLE: {
        char status[24];
        if (r->cancelled)
            snprintf(status, sizeof status, "-");
        else if (r->status > 0 && r->curlcode == 0)
            snprintf(status, sizeof status, "%ld", r->status);
        else
            snprintf(status, sizeof status, "ERR");
        fprintf(out, "%6s %10lld %7.3fs %5u  %s", status, r->bytes, r->total, r->attempts, r->url);
        if (r->error[0])
            fprintf(out, "  (%s)", r->error);
        putc('\n', out);
        break;
    }
    case REPORT_JSON:
        fprintf(out, "{\"index\":%zu,\"url\":", r->index);
        report_json_string(out, r->url);
        fprintf(out,
                ",\"ok\":%s,\"cancelled\":%s,\"status\":%ld,\"bytes\":%lld,\"time\":%.6f,"
                "\"dns\":%.6f,\"connect\":%.6f,\"ttfb\":%.6f,\"attempts\":%u,\"worker\":%d,"
                "\"reused\":%s,\"start\":%.6f,\"end\":%.6f,\"error\":",
                r->ok ? "true" : "false", r->cancelled ? "true" : "false", r->status, r->bytes,
                r->total, r->dns, r->connect, r->ttfb, r->attempts, r->worker,
                r->reused ? "true" : "false", r->start, r->end);
        report_json_string(out, r->error[0] ? r->error : NULL);
        fputs(",\"file\":", out);
        report_json_string(out, r->file[0] ? r->file : NULL);
        fputs(",\"final_url\":", out);
        report_json_string(out, r->final_url);
        fprintf(out, ",\"wire_bytes\":%lld}\n", r->wire_bytes);
        break;
    case REPORT_CSV:
        fprintf(out, "%zu,", r->index);
        report_csv_field(out, r->url);
        fprintf(out, ",%s,%ld,%lld,%.6f,%.6f,%.6f,%.6f,%u,%d,", r->ok ? "true" : "false", r->status,
                r->bytes, r->total, r->dns, r->connect, r->ttfb, r->attempts, r->worker);
        report_csv_field(out, r->error);
        putc(',', out);
        report_csv_field(out, r->file);
        putc(',', out);
        report_csv_field(out, r->final_url ? r->final_url : "");
        fprintf(out, ",%lld\n", r->wire_bytes);
        break;
    }
}

void report_stats_add(report_stats *s, const fetch_result *r)
{
    if (r->ok)
        s->ok++;
    else if (r->cancelled)
        s->cancelled++;
    else
        s->failed++;
    s->bytes += r->bytes;
}

void report_summary(FILE *out, const report_stats *s, const char *label)
{
    char b[32];
    report_bytes(b, sizeof b, s->bytes);
    size_t n = s->ok + s->failed;
    fprintf(out, "%s%s%zu succeeded, %zu failed", label ? label : "", label ? ": " : "", s->ok,
            s->failed);
    if (s->cancelled)
        fprintf(out, ", %zu cancelled", s->cancelled);
    fprintf(out, ", %s in %.2fs (%.1f requests/s", b, s->wall, s->wall > 0 ? n / s->wall : 0.0);
    if (s->cpu > 0)
        fprintf(out, ", %.2fs CPU", s->cpu);
    fputs(")\n", out);
}

double report_ideal(unsigned workers, size_t requests)
{
    size_t ideal = workers < requests ? workers : requests;
    return ideal ? (double)ideal : 1.0;
}

void report_compare(FILE *out, double seq, double thr, unsigned workers, size_t requests)
{
    double speedup = thr > 0 ? seq / thr : 0;
    double ideal = report_ideal(workers, requests);
    fprintf(out, "Sequential: %.2fs\n", seq);
    fprintf(out, "Threaded: %.2fs (%u workers)\n", thr, workers);
    fprintf(out, "Speedup: %.1fx (ideal %.1fx, efficiency %.0f%%)\n", speedup, ideal,
            100.0 * speedup / ideal);
    fprintf(out, "Time saved: %.2fs\n", seq - thr);
}

void progress_init(progress *p, bool enabled, double now)
{
    p->enabled = enabled;
    p->drawn = false;
    p->start = now;
    p->last = -INFINITY;
}

void progress_format(char *buf, size_t n, double elapsed, size_t done, size_t total,
                     size_t inflight, unsigned width)
{
    double rate = elapsed > 0 ? done / elapsed : 0;
    char eta[32] = "";
    if (total > 0 && rate > 0 && done <= total)
        snprintf(eta, sizeof eta, " ETA %.0fs", (double)(total - done) / rate);
    if (total > 0) {
        char bar[128];
        if (width > sizeof bar - 1)
            width = sizeof bar - 1;
        unsigned fill = (unsigned)((double)width * (done > total ? total : done) / total);
        memset(bar, '#', fill);
        memset(bar + fill, '.', width - fill);
        bar[width] = '\0';
        snprintf(buf, n, "[%s] %zu/%zu, %zu in flight, %.1f/s%s", bar, done, total, inflight, rate,
                 eta);
    } else {
        snprintf(buf, n, "%zu done, %zu in flight, %.1f/s", done, inflight, rate);
    }
}

void progress_draw(progress *p, double now, size_t done, size_t total, size_t inflight, bool force)
{
    if (!p->enabled || (!force && now - p->last < 1.0 / PROGRESS_HZ))
        return;
    p->last = now;
    char buf[256];
    progress_format(buf, sizeof buf, now - p->start, done, total, inflight, 30);
    fprintf(stderr, "\r\033[K%s", buf);
    fflush(stderr);
    p->drawn = true;
}

void progress_clear(progress *p)
{
    if (p->enabled && p->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        p->drawn = false;
    }
}

double report_cpu_seconds(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}
