/* report.h: what `weft fetch` prints: one row per URL (an aligned table,
 * JSON lines or CSV), the summary, the sequential/threaded comparison, and
 * the progress bar.
 *
 * DESIGN: rows stream out as results arrive, so nothing here keeps a list of
 * results; the table therefore has fixed column widths instead of measuring
 * every row first. Only the thread that drains the results calls these
 * functions (no locking). The progress bar goes to stderr, only when stderr
 * is a terminal, and redraws at most PROGRESS_HZ times a second. */
#ifndef WEFT_TOOL_REPORT_H
#define WEFT_TOOL_REPORT_H

#include "output/savename.h"

#include <stdbool.h>
#include <stdio.h>

typedef enum report_format {
    REPORT_TABLE = 0,
    REPORT_JSON,
    REPORT_CSV,
} report_format;

/* One URL's outcome: the row. */
typedef struct fetch_result {
    size_t index;   /* position in the input, from 0 */
    char *url;      /* owned */
    bool ok;        /* transfer completed with a status below 400 */
    bool cancelled; /* never attempted, or stopped by an interrupt */
    long status;    /* HTTP status of the last attempt, 0 when none */
    int curlcode;   /* CURLcode of the last attempt: the transfer failed */
    long long bytes;
    double dns, connect, ttfb, total; /* seconds, from curl, last attempt */
    unsigned attempts;
    bool reused;                 /* the last attempt ran on a kept-alive connection */
    int worker;                  /* executor worker index, -1 when not run on one */
    double start, end;           /* seconds since the run started */
    char error[256];             /* "" when ok */
    char file[SAVENAME_MAX + 1]; /* name under -o DIR, "" when not saved */
    char *final_url;             /* owned: where redirects ended (NULL: none requested) */
    long long wire_bytes;        /* body bytes on the wire (bytes are decoded) */
} fetch_result;

/* The column header (table, CSV); nothing for JSON. In JSON and CSV, "time"
 * is the last attempt's transfer time; "start" and "end" are seconds since
 * the run began, retries and waits included. */
void report_header(FILE *out, report_format fmt);
void report_row(FILE *out, report_format fmt, const fetch_result *r);

/* Every writer below treats s as hostile bytes from a server or a page:
 * invalid UTF-8 becomes U+FFFD and control characters (C0, DEL and C1,
 * which terminals read as escape sequences) never reach the output as
 * such: JSON escapes them, CSV and text replace them by U+FFFD (a tab by a
 * space). So every output is valid UTF-8 and safe on a terminal. */

/* Writes s as a JSON string literal, quotes included (NULL: null). */
void report_json_string(FILE *out, const char *s);
/* Writes s as one CSV field, quoted when it holds a comma or a quote (RFC
 * 4180; cleaning leaves no line break). NULL: an empty field. */
void report_csv_field(FILE *out, const char *s);
/* Writes s as cleaned text, for the table (NULL: nothing). */
void report_text(FILE *out, const char *s);
/* Copies s, cleaned, into buf (n bytes, NUL-terminated, cut at a whole
 * character), for text laid out with printf widths. Returns buf. */
const char *report_clean(const char *s, char *buf, size_t n);
/* The length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
size_t report_utf8_len(const char *s);

typedef struct report_stats {
    size_t ok, failed, cancelled;
    long long bytes;
    double wall; /* seconds */
    double cpu;  /* seconds of process CPU (user + system), 0 if unknown */
} report_stats;

void report_stats_add(report_stats *s, const fetch_result *r);

/* CPU seconds (user + system) this process has used so far; 0 if unknown. */
double report_cpu_seconds(void);
/* "12 succeeded, 1 failed, 0 cancelled, 1.2 MB in 2.01s (6.0 requests/s)". */
void report_summary(FILE *out, const report_stats *s, const char *label);

/* The seeds' comparison: "Sequential: 6.00s", "Threaded: 2.00s (N workers)",
 * "Speedup: 3.0x", with the efficiency against the ideal min(N, requests). */
void report_compare(FILE *out, double seq, double thr, unsigned workers, size_t requests);
/* The ideal speedup and the efficiency, for tests and the JSON summary. */
double report_ideal(unsigned workers, size_t requests);

/* Formats a byte count as "123 B", "1.2 kB", "3.4 MB". */
void report_bytes(char *buf, size_t n, long long bytes);

#define PROGRESS_HZ 10

typedef struct progress {
    bool enabled; /* stderr is a terminal and the user did not say --quiet */
    bool drawn;   /* a bar is on screen */
    double start, last;
} progress;

void progress_init(progress *p, bool enabled, double now);
/* Redraws "done/total, in flight, rate, ETA" unless it was drawn less than
 * 1/PROGRESS_HZ s ago (force: draw anyway). total 0: unknown (no ETA). */
void progress_draw(progress *p, double now, size_t done, size_t total, size_t inflight, bool force);
/* Formats the bar's text into buf (for tests). */
void progress_format(char *buf, size_t n, double elapsed, size_t done, size_t total,
                     size_t inflight, unsigned width);
/* Erases the bar, before a row is printed on a shared terminal or at exit. */
void progress_clear(progress *p);

#endif
