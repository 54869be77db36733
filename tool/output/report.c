/* report.c: rows, summaries, the comparison and the progress bar of
 * `weft fetch`.
 *
 * DESIGN: see report.h. Numbers in JSON and CSV are plain (seconds with
 * microsecond precision, bytes as integers) so scripts need no parsing of
 * units; only the table and the summary are for eyes. */
#include "output/report.h"

#include <sys/resource.h>

#include <math.h>
#include <stdbool.h>
#include <string.h>

/* The length of the valid UTF-8 sequence at s (1 to 4 bytes; for ASCII,
 * 1), or 0 when the bytes there are not one: a stray continuation byte, an
 * overlong form, a surrogate, a code point past U+10FFFF, a truncated
 * sequence. */
size_t report_utf8_len(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t n;
    unsigned cp;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0; /* also catches the NUL of a truncated sequence */
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

/* Whether the n-byte sequence at s is a control character: C0, DEL, or C1
 * (U+0080..U+009F, which terminals read as 8-bit escapes such as CSI). */
static bool is_control(const unsigned char *s, size_t n)
{
    return (n == 1 && (s[0] < 0x20 || s[0] == 0x7f)) || (n == 2 && s[0] == 0xc2 && s[1] < 0xa0);
}

static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */

/* Runs that need no escape go out with one fwrite each rather than a putc
 * per byte: a crawl writes thousands of records, and putc takes the
 * stream's lock every time (3.5% of a crawl's CPU). Server- and page-made
 * bytes are hostile: invalid UTF-8 becomes U+FFFD, control characters
 * (C1 included) are escaped, so every line is valid JSON and valid UTF-8. */
void report_json_string(FILE *out, const char *s)
{
    if (!s) {
        fputs("null", out);
        return;
    }
    putc('"', out);
    for (;;) {
        size_t n = 0, k;
        while (s[n] && s[n] != '"' && s[n] != '\\' && (k = report_utf8_len(s + n)) != 0 &&
               !is_control((const unsigned char *)s + n, k))
            n += k;
        if (n)
            fwrite(s, 1, n, out);
        s += n;
        if (!*s)
            break;
        unsigned char ch = (unsigned char)*s;
        k = report_utf8_len(s);
        if (k == 0) {
            fputs(replacement, out);
            s++;
            continue;
        }
        s += k;
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
        default: /* C0, DEL, or C1 (k == 2) */
            fprintf(out, "\\u%04x", k == 2 ? (unsigned char)s[-1] : ch);
        }
    }
    putc('"', out);
}

/* Writes s with invalid UTF-8 and control characters replaced by U+FFFD
 * (a tab by a space); in a CSV field, a quote is doubled. */
static void put_clean(FILE *out, const char *s, bool csv)
{
    for (;;) {
        size_t n = 0, k;
        while (s[n] && (k = report_utf8_len(s + n)) != 0 &&
               !is_control((const unsigned char *)s + n, k) && !(csv && s[n] == '"'))
            n += k;
        if (n)
            fwrite(s, 1, n, out);
        s += n;
        if (!*s)
            break;
        k = report_utf8_len(s);
        if (k != 0 && *s == '"') {
            fputs("\"\"", out);
            s++;
        } else if (k != 0 && *s == '\t') {
            putc(' ', out);
            s++;
        } else {
            fputs(replacement, out);
            s += k ? k : 1;
        }
    }
}

void report_csv_field(FILE *out, const char *s)
{
    if (!s)
        return;
    if (strpbrk(s, ",\"") == NULL) {
        put_clean(out, s, false); /* no \r or \n survives the cleaning */
        return;
    }
    putc('"', out);
    put_clean(out, s, true);
    putc('"', out);
}

void report_text(FILE *out, const char *s)
{
    if (s)
        put_clean(out, s, false);
}

const char *report_clean(const char *s, char *buf, size_t n)
{
    if (n == 0)
        return buf;
    size_t o = 0;
    while (s && *s) {
        size_t k = report_utf8_len(s);
        const char *piece = s;
        size_t len = k;
        if (k == 0 || is_control((const unsigned char *)s, k)) {
            piece = *s == '\t' ? " " : replacement;
            len = strlen(piece);
            k = k ? k : 1;
        }
        if (o + len >= n)
            break;
        memcpy(buf + o, piece, len);
        o += len;
        s += k;
    }
    buf[o] = '\0';
    return buf;
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
        fprintf(out, "%6s %10lld %7.3fs %5u  ", status, r->bytes, r->total, r->attempts);
        report_text(out, r->url);
        if (r->error[0]) {
            fputs("  (", out);
            report_text(out, r->error);
            putc(')', out);
        }
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
