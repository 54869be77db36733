/* crawl/records.c: a crawl's records as JSON lines, CSV rows or table rows,
 * and its summary with the per-depth table. */
#include "crawl/crawl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- output */

static void record_json(FILE *out, const crawl_record *r)
{
    fputs("{\"url\":", out);
    report_json_string(out, r->url);
    fputs(",\"parent\":", out);
    report_json_string(out, r->parent);
    fprintf(out, ",\"depth\":%u", r->depth);
    if (r->skip != SKIP_NONE) {
        fputs(",\"skipped\":", out);
        report_json_string(out, crawl_skip_name(r->skip));
        fputs("}\n", out);
        return;
    }
    fputs(",\"final_url\":", out);
    report_json_string(out, r->final_url);
    fprintf(out, ",\"status\":%ld,\"title\":", r->status);
    report_json_string(out, r->title);
    fprintf(out, ",\"words\":%lu,\"links\":%zu,\"links_new\":%zu,\"links_seen\":%zu,", r->words,
            r->links, r->links_new, r->links_seen);
    fputs("\"content_type\":", out);
    report_json_string(out, r->content_type);
    fprintf(out,
            ",\"bytes\":%lld,\"wire_bytes\":%lld,\"truncated\":%s,\"parsed\":%s,"
            "\"attempts\":%u,\"time\":%.6f,\"start\":%.6f,\"end\":%.6f,\"worker\":%d,"
            "\"error\":",
            r->bytes, r->wire_bytes, r->truncated ? "true" : "false", r->parsed ? "true" : "false",
            r->attempts, r->time, r->start, r->end, r->worker);
    report_json_string(out, r->error);
    fputs("}\n", out);
}

void crawl_record_json(FILE *out, const crawl_record *r)
{
    flockfile(out); /* one lock for the whole record: the calls inside recurse */
    record_json(out, r);
    funlockfile(out);
}

void crawl_csv_header(FILE *out)
{
    fputs("url,final_url,status,depth,parent,title,words,links,content_type,bytes,time,"
          "skipped,error,links_new,links_seen,wire_bytes\n",
          out);
}

void crawl_record_csv(FILE *out, const crawl_record *r)
{
    bool page = r->skip == SKIP_NONE;
    report_csv_field(out, r->url);
    putc(',', out);
    report_csv_field(out, page ? r->final_url : "");
    if (page)
        fprintf(out, ",%ld,%u,", r->status, r->depth);
    else
        fprintf(out, ",,%u,", r->depth);
    report_csv_field(out, r->parent ? r->parent : "");
    putc(',', out);
    report_csv_field(out, page ? r->title : "");
    if (page)
        fprintf(out, ",%lu,%zu,", r->words, r->links);
    else
        fputs(",,,", out);
    report_csv_field(out, page ? r->content_type : "");
    if (page)
        fprintf(out, ",%lld,%.6f,,", r->bytes, r->time);
    else
        fprintf(out, ",,,%s,", crawl_skip_name(r->skip));
    report_csv_field(out, r->error ? r->error : "");
    if (page)
        fprintf(out, ",%zu,%zu,%lld\n", r->links_new, r->links_seen, r->wire_bytes);
    else
        fputs(",,,\n", out);
}

void crawl_table_header(FILE *out)
{
    fprintf(out, "%6s %5s %6s %5s %8s  %-40s %s\n", "STATUS", "DEPTH", "WORDS", "LINKS", "TIME",
            "URL", "TITLE");
}

void crawl_table_row(FILE *out, const crawl_record *r)
{
    char status[24];
    if (r->status > 0)
        snprintf(status, sizeof status, "%ld", r->status);
    else
        snprintf(status, sizeof status, "ERR");
    /* URL, title and error are the server's and the page's bytes: cleaned
     * (report.h) before a terminal sees them. */
    fprintf(out, "%6s %5u %6lu %5zu %7.3fs  ", status, r->depth, r->words, r->links, r->time);
    size_t ul = strlen(r->url);
    char *url = malloc(ul * 3 + 1); /* each byte may become U+FFFD */
    if (url)
        fprintf(out, "%-40s ", report_clean(r->url, url, ul * 3 + 1));
    free(url);
    char title[256];
    report_clean(r->title, title, sizeof title);
    fprintf(out, "%.40s", title);
    if (r->error) {
        fputs("  (", out);
        report_text(out, r->error);
        putc(')', out);
    }
    putc('\n', out);
}

void crawl_summary(FILE *out, const crawl_result *r, const char *label)
{
    char b[32];
    report_bytes(b, sizeof b, r->bytes);
    fprintf(out, "%s%s%zu pages (%zu ok, %zu failed), %s", label ? label : "", label ? ": " : "",
            r->pages, r->pages - r->errors, r->errors, b);
    /* Rates are of one run: a resumed crawl's totals name this run's part;
     * --dump (no run) has none. */
    size_t run = r->run_pages ? r->run_pages : r->pages;
    if (r->wall > 0) {
        fprintf(out, " in %.2fs (", r->wall);
        if (r->run_pages)
            fprintf(out, "this run: %zu pages, ", r->run_pages);
        fprintf(out, "%.1f pages/s", run / r->wall);
        if (r->cpu > 0)
            fprintf(out, ", %.2fs CPU, %.2f ms CPU/page", r->cpu,
                    run ? 1e3 * r->cpu / (double)run : 0.0);
        fputc(')', out);
    }
    fputc('\n', out);
    size_t skipped = 0;
    for (int i = 1; i < SKIP_N; i++)
        skipped += r->skipped[i];
    fprintf(out, "Skipped %zu URLs:", skipped);
    for (int i = 1; i < SKIP_N; i++)
        fprintf(out, "%s %s %zu", i == 1 ? "" : ",", crawl_skip_name((crawl_skip)i), r->skipped[i]);
    fputc('\n', out);
    if (r->nlevels == 0)
        return;
    fprintf(out, "%5s %7s %7s %10s %8s\n", "DEPTH", "PAGES", "ERRORS", "BYTES", "TIME");
    for (size_t d = 0; d < r->nlevels; d++) {
        const crawl_level *l = &r->levels[d];
        if (l->pages == 0)
            continue;
        report_bytes(b, sizeof b, l->bytes);
        fprintf(out, "%5zu %7zu %7zu %10s %7.2fs\n", d, l->pages, l->errors, b,
                l->last > l->first ? l->last - l->first : 0.0);
    }
}

/* ------------------------------------------------------------- counting */

static crawl_level *level_of(crawl_result *r, unsigned depth)
{
    if (depth >= r->nlevels) {
        size_t n = (size_t)depth + 1;
        crawl_level *l = realloc(r->levels, n * sizeof *l);
        if (!l)
            return NULL;
        for (size_t i = r->nlevels; i < n; i++)
            l[i] = (crawl_level){.first = INFINITY, .last = 0};
        r->levels = l;
        r->nlevels = n;
    }
    return &r->levels[depth];
}

void crawl_result_count(crawl_result *r, const crawl_record *rec)
{
    if (rec->skip != SKIP_NONE) {
        r->skipped[rec->skip]++;
        return;
    }
    r->pages++;
    r->skipped[SKIP_DUPLICATE] += rec->dups;
    r->bytes += rec->bytes;
    r->checksum += frontier_hash(rec->url);
    bool failed = rec->error != NULL;
    if (failed)
        r->errors++;
    crawl_level *l = level_of(r, rec->depth);
    if (l) {
        l->pages++;
        l->errors += failed;
        l->bytes += rec->bytes;
        if (rec->start < l->first)
            l->first = rec->start;
        if (rec->end > l->last)
            l->last = rec->end;
    }
}
