/* site/routes.c: the embedded site's answers: pages, robots.txt, assets
 * and the zoo of misbehaving paths (see site.h for the URL space). */
#include "site/site-impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- answers ---- */

static enum MHD_Result queue(struct req *r, int status, struct MHD_Response *resp, uint64_t bytes)
{
    if (!resp)
        return MHD_NO;
    enum MHD_Result rc = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    if (rc == MHD_YES)
        site_count_answer(r->s, status, bytes, false);
    return rc;
}

static struct MHD_Response *from_buf(struct sbuf *b, const char *ctype)
{
    if (b->failed) {
        free(b->p);
        return NULL;
    }
    struct MHD_Response *resp;
    if (!b->p)
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    else
        resp = MHD_create_response_from_buffer(b->len, b->p, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(b->p);
        return NULL;
    }
    if (ctype)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    return resp;
}

static enum MHD_Result answer_buf_gz(struct req *r, int status, const char *ctype, struct sbuf *b,
                                     bool gzip)
{
    bool gz = gzip && site_gzip_buf(b) == 0;
    size_t len = b->len;
    struct MHD_Response *resp = from_buf(b, ctype);
    if (resp && gz)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    if (resp && (r->s->o.gzip || r->s->o.dir))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    return queue(r, status, resp, len);
}

static enum MHD_Result answer_buf(struct req *r, int status, const char *ctype, struct sbuf *b)
{
    return answer_buf_gz(r, status, ctype, b, site_gzip_wanted(r));
}

enum MHD_Result site_answer_file(struct req *r, const char *type, struct sbuf *b, bool compressible)
{
    return answer_buf_gz(r, 200, type, b, compressible && site_gzip_accepted(r));
}

static enum MHD_Result answer_text(struct req *r, int status, const char *ctype, const char *text,
                                   size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_PERSISTENT);
    if (resp && ctype)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    return queue(r, status, resp, len);
}

static enum MHD_Result answer_status(struct req *r, int status, const char *retry_after)
{
    struct sbuf b = {0};
    if (status != 204 && status != 304)
        sbuf_printf(&b,
                    "<!DOCTYPE html>\n<html><head><title>%d</title></head>"
                    "<body><p>status %d</p></body></html>\n",
                    status, status);
    struct MHD_Response *resp = from_buf(&b, "text/html; charset=utf-8");
    if (resp && retry_after)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, retry_after);
    return queue(r, status, resp, b.len);
}

static enum MHD_Result not_found(struct req *r)
{
    return answer_status(r, 404, NULL);
}

enum MHD_Result site_serve_stats(struct req *r)
{
    struct sbuf b = {0};
    site_stats_json(r->s, &b);
    struct MHD_Response *resp = from_buf(&b, "application/json");
    if (!resp)
        return MHD_NO;
    enum MHD_Result rc = MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    return rc; /* not counted: reading the counters must not move them */
}

enum MHD_Result site_answer_status(struct req *r, int status)
{
    return answer_status(r, status, NULL);
}

static enum MHD_Result redirect(struct req *r, int status, const char *location);

enum MHD_Result site_answer_redirect(struct req *r, int status, const char *location)
{
    return redirect(r, status, location);
}

static enum MHD_Result redirect(struct req *r, int status, const char *location)
{
    struct sbuf b = {0};
    sbuf_printf(&b, "<html><body><a href=\"%s\">moved</a></body></html>\n", location);
    struct MHD_Response *resp = from_buf(&b, "text/html; charset=utf-8");
    if (resp)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, location);
    return queue(r, status, resp, b.len);
}

static const char *arg(struct req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

static const char *req_host(struct req *r)
{
    const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    return h && *h ? h : r->s->base + strlen("http://");
}

/* The Host for absolute links: the request's, so a client stays on the host
 * name it chose (127.0.0.1 and localhost count as two hosts). */
static void link_host(struct req *r, char *out, size_t cap)
{
    const char *h = req_host(r);
    size_t n = strcspn(h, "/\"<> ");
    if (n >= cap)
        n = cap - 1;
    memcpy(out, h, n);
    out[n] = '\0';
}

/* Bodies generated by position: /big and /slow. */
static void fill_pattern(uint64_t pos, char *buf, size_t n)
{
    static const char head[] = "<!DOCTYPE html><html><body><p>";
    static const char cycle[] = "filler text ";
    const uint64_t hn = sizeof head - 1, cn = sizeof cycle - 1;
    while (n && pos < hn) {
        *buf++ = head[pos++];
        n--;
    }
    /* Whole copies of the cycle: /big/N may be a gigabyte. */
    while (n) {
        size_t off = (size_t)((pos - hn) % cn), k = cn - off < n ? cn - off : n;
        memcpy(buf, cycle + off, k);
        buf += k;
        pos += k;
        n -= k;
    }
}

static ssize_t big_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct req *r = cls;
    if (atomic_load(&r->s->stopping))
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (pos >= r->total)
        return MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = r->total - pos < max ? (size_t)(r->total - pos) : max;
    fill_pattern(pos, buf, n);
    return (ssize_t)n;
}

static ssize_t slow_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct req *r = cls;
    site_unsuspended(r);
    if (atomic_load(&r->s->stopping))
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (pos >= r->total)
        return MHD_CONTENT_READER_END_OF_STREAM;
    double now = site_now();
    if (r->t0 == 0)
        r->t0 = now;
    double due = r->t0 + (double)pos / r->rate;
    if (now < due) {
        if (site_suspend_until(r, due))
            return 0;
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t n = r->burst;
    if (n > max)
        n = max;
    if (n > r->total - pos)
        n = (size_t)(r->total - pos);
    fill_pattern(pos, buf, n);
    site_count_answer(r->s, -1, n, false);
    return (ssize_t)n;
}

static enum MHD_Result serve_page(struct req *r, unsigned i)
{
    const site_opts *o = &r->s->o;
    int e = site_page_error(o, i);
    if (e)
        return answer_status(r, e, e == 503 ? "1" : NULL);
    if (site_page_transient(o, i) && r->hit_no <= 1)
        return answer_status(r, 503, "0");
    char host[256];
    link_host(r, host, sizeof host);
    struct sbuf b = {0};
    unsigned w;
    site_render_page(&b, o, i, host, &w);
    return answer_buf(r, 200, "text/html; charset=utf-8", &b);
}

static enum MHD_Result serve_home(struct req *r)
{
    struct sbuf b = {0};
    sbuf_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                  "<title>weft test site</title></head>\n<body>\n<h1>weft test site</h1>\n"
                  "<p>A synthetic site for crawler tests.</p>\n"
                  "<p><a href=\"/page/0\">start</a></p>\n</body></html>\n");
    return answer_buf(r, 200, "text/html; charset=utf-8", &b);
}

static enum MHD_Result serve_private(struct req *r, unsigned i)
{
    struct sbuf b = {0};
    sbuf_printf(&b,
                "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                "<title>Private %u</title></head>\n<body>\n<h1>Private %u</h1>\n"
                "<p>Robots should not be here.</p>\n<p><a href=\"/\">home</a> "
                "<a href=\"/page/%u\">next</a></p>\n</body></html>\n",
                i, i, (i + 1) % r->s->o.pages);
    return answer_buf(r, 200, "text/html; charset=utf-8", &b);
}

static enum MHD_Result serve_robots(struct req *r)
{
    const site_opts *o = &r->s->o;
    if (o->robots_missing)
        return not_found(r);
    struct sbuf b = {0};
    if (o->robots_txt) {
        sbuf_puts(&b, o->robots_txt);
    } else {
        sbuf_puts(&b, "User-agent: *\nDisallow: /private/\n");
        if (o->robots_delay > 0)
            sbuf_printf(&b, "Crawl-delay: %g\n", o->robots_delay);
    }
    return answer_buf(r, 200, "text/plain; charset=utf-8", &b);
}

static enum MHD_Result serve_asset(struct req *r, const char *rest)
{
    /* An 8-byte PNG signature and an IHDR-like tail: enough to be "binary". */
    static const char png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";
    char num[24];
    size_t n = strcspn(rest, ".");
    uint64_t k;
    if (n == 0 || n >= sizeof num || strcmp(rest + n, ".png") != 0)
        return not_found(r);
    memcpy(num, rest, n);
    num[n] = '\0';
    if (!site_parse_u64(num, UINT32_MAX, &k) || k >= r->s->o.assets)
        return not_found(r);
    return answer_text(r, 200, "image/png", png, sizeof png - 1);
}

static enum MHD_Result serve_zoo(struct req *r)
{
    static const char *const paths[] = {"/status/404",
                                        "/status/500",
                                        "/status/503?retry-after=2",
                                        "/status/429?retry-after=1",
                                        "/status/503?retry-after=2&amp;date=1",
                                        "/reset",
                                        "/redirect/3",
                                        "/loop/a",
                                        "/big/100000",
                                        "/slow/1000?rate=2000",
                                        "/malformed",
                                        "/latin1",
                                        "/badutf8",
                                        "/binary",
                                        "/links",
                                        "/flaky/zoo?fail=1",
                                        "/echo",
                                        "/robots.txt",
                                        "/style.css",
                                        "/asset/0.png",
                                        "/private/5"};
    struct sbuf b = {0};
    sbuf_puts(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>zoo</title></head>"
                  "\n<body>\n<h1>The zoo</h1>\n<ul>\n");
    for (size_t k = 0; k < sizeof paths / sizeof paths[0]; k++)
        sbuf_printf(&b, "<li><a href=\"%s\">%s</a></li>\n", paths[k], paths[k]);
    sbuf_puts(&b, "</ul>\n</body></html>\n");
    return answer_buf(r, 200, "text/html; charset=utf-8", &b);
}

static enum MHD_Result serve_status(struct req *r, const char *rest)
{
    uint64_t code, secs;
    if (!site_parse_u64(rest, 599, &code) || code < 200)
        return not_found(r);
    const char *ra = arg(r, "retry-after");
    char value[64];
    if (ra && site_parse_u64(ra, 100000000, &secs)) {
        const char *date = arg(r, "date");
        if (date && strcmp(date, "1") == 0) {
            time_t t = time(NULL) + (time_t)secs;
            struct tm tm;
            gmtime_r(&t, &tm);
            static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
            static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
            snprintf(value, sizeof value, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
                     tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                     tm.tm_sec);
        } else {
            snprintf(value, sizeof value, "%" PRIu64, secs);
        }
        return answer_status(r, (int)code, value);
    }
    return answer_status(r, (int)code, NULL);
}

static enum MHD_Result serve_redirect(struct req *r, const char *rest)
{
    uint64_t n, code = 302;
    const char *c = arg(r, "code");
    if (!site_parse_u64(rest, MAX_REDIRECTS, &n) || n == 0)
        return not_found(r);
    if (c && (!site_parse_u64(c, 308, &code) ||
              (code != 301 && code != 302 && code != 303 && code != 307 && code != 308)))
        return not_found(r);
    char loc[512];
    const char *to = arg(r, "to");
    if (n == 1 && to)
        snprintf(loc, sizeof loc, "%s", to); /* anywhere: for hostile-redirect tests */
    else if (n == 1)
        snprintf(loc, sizeof loc, "/page/0");
    else if (c)
        snprintf(loc, sizeof loc, "/redirect/%" PRIu64 "?code=%" PRIu64, n - 1, code);
    else
        snprintf(loc, sizeof loc, "/redirect/%" PRIu64, n - 1);
    return redirect(r, (int)code, loc);
}

static enum MHD_Result serve_generated(struct req *r, const char *rest, bool slow)
{
    uint64_t n;
    if (!site_parse_u64(rest, MAX_BIG, &n))
        return not_found(r);
    r->total = n;
    struct MHD_Response *resp;
    if (slow) {
        double rate = 1000;
        const char *a = arg(r, "rate");
        if (a && (!site_parse_seconds(a, &rate) || rate < 1))
            return not_found(r);
        r->rate = rate;
        /* About twenty bursts a second: smooth enough, cheap enough. */
        r->burst = (size_t)(rate / 20) ? (size_t)(rate / 20) : 1;
        if (r->burst > BODY_BLOCK)
            r->burst = BODY_BLOCK;
        resp = MHD_create_response_from_callback(n, BODY_BLOCK, slow_reader, r, NULL);
        if (resp)
            MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
        return queue(r, 200, resp, 0);
    }
    resp = MHD_create_response_from_callback(n, BODY_BLOCK, big_reader, r, NULL);
    if (resp)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html");
    return queue(r, 200, resp, n);
}

static enum MHD_Result serve_links(struct req *r)
{
    char h[256];
    link_host(r, h, sizeof h);
    struct sbuf b = {0};
    sbuf_printf(&b,
                "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>links</title></head>\n"
                "<body id=\"top\">\n<ul>\n"
                "<li><a href=\"page/1\">relative</a></li>\n"
                "<li><a href=\"/page/2\">root-relative</a></li>\n"
                "<li><a href=\"http://%s/page/3\">absolute</a></li>\n"
                "<li><a href=\"//%s/page/4\">protocol-relative</a></li>\n"
                "<li><a href=\"./page/1#frag\">dot with fragment</a></li>\n"
                "<li><a href=\"page/../page/2\">dot-dot</a></li>\n"
                "<li><a href=\"/page/3#x\">root-relative with fragment</a></li>\n"
                "<li><a href=\"HTTP://%s/page/4\">upper-case scheme</a></li>\n"
                "<li><a href=\"http://user:secret@%s/page/3\">userinfo</a></li>\n"
                "<li><a href=\"#top\">fragment only</a></li>\n"
                "<li><a href=\"\">empty</a></li>\n"
                "<li><a href=\"mailto:webmaster@example.invalid\">mailto</a></li>\n"
                "<li><a href=\"javascript:alert(1)\">javascript</a></li>\n"
                "<li><a href=\"data:text/html,hello\">data</a></li>\n"
                "<li><a href=\"tel:+15550100\">tel</a></li>\n"
                "<li><a>no href</a></li>\n"
                "</ul>\n</body></html>\n",
                h, h, h, h);
    return answer_buf(r, 200, "text/html; charset=utf-8", &b);
}

static enum MHD_Result serve_flaky(struct req *r)
{
    uint64_t fail = 1, code = 503;
    const char *a = arg(r, "fail"), *c = arg(r, "code"), *ra = arg(r, "retry-after");
    if ((a && !site_parse_u64(a, 1000000, &fail)) ||
        (c && (!site_parse_u64(c, 599, &code) || code < 200)))
        return not_found(r);
    if (r->hit_no <= fail)
        return answer_status(r, (int)code, ra ? ra : "0");
    struct sbuf b = {0};
    sbuf_printf(&b, "<html><body><p>ok after %" PRIu64 " failures</p></body></html>\n", fail);
    return answer_buf(r, 200, "text/html; charset=utf-8", &b);
}

static enum MHD_Result serve_echo(struct req *r, const char *url, const char *method)
{
    const char *ua = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "User-Agent");
    const char *host = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Host");
    struct sbuf b = {0};
    sbuf_printf(&b, "method: %s\npath: %s\nhost: %s\nuser-agent: %s\n", method, url,
                host ? host : "", ua ? ua : "");
    return answer_buf(r, 200, "text/plain; charset=utf-8", &b);
}

static const char malformed_html[] =
    "<html><head><title>Malformed<body>\n"
    "<p>unclosed <b><i>misnested</b></i> text\n"
    "<a href=/page/1>unquoted</a> <div><table><tr><td>cell</div></table>\n"
    "<a href='/page/2'>no end tag\n"
    "<p>stray < and > and & here <br/></br> <img src=x alt=\"a\"b>\n"
    "<p title=\"unterminated>the rest\n";

static const char latin1_html[] =
    "<!DOCTYPE html>\n<html><head><meta http-equiv=\"Content-Type\" "
    "content=\"text/html; charset=ISO-8859-1\"><title>Caf\xe9</title></head>\n"
    "<body><p>Caf\xe9 cr\xe8me br\xfbl\xe9"
    "e na\xefve \xa9 \xbd</p>\n"
    "<a href=\"/page/1\">suivant</a></body></html>\n";

static const char badutf8_html[] = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                                   "<title>bad \xff utf-8</title></head>\n"
                                   "<body><p>bad \xff\xfe bytes \xc3\x28 and \xe2\x82 cut \xc0\xaf"
                                   " overlong \xed\xa0\x80 surrogate</p>\n"
                                   "<a href=\"/page/2\">next</a></body></html>\n";

static enum MHD_Result serve_binary(struct req *r)
{
    struct sbuf b = {0};
    char chunk[4096];
    for (size_t k = 0; k < sizeof chunk; k++)
        chunk[k] = (char)(site_mix(k) & 0xff);
    chunk[10] = '\0';
    sbuf_put(&b, chunk, sizeof chunk);
    return answer_buf(r, 200, "text/html", &b);
}

static bool prefix(const char *s, const char *p, const char **rest)
{
    size_t n = strlen(p);
    if (strncmp(s, p, n) != 0)
        return false;
    *rest = s + n;
    return true;
}

enum MHD_Result site_route(struct req *r, const char *url, const char *method)
{
    struct site *s = r->s;
    const char *rest;
    uint64_t n;
    if (s->o.dir)
        return site_serve_dir(r, url);
    if (strcmp(url, "/") == 0)
        return serve_home(r);
    if (prefix(url, "/page/", &rest))
        return site_parse_u64(rest, UINT32_MAX, &n) && n < s->o.pages ? serve_page(r, (unsigned)n)
                                                                      : not_found(r);
    if (prefix(url, "/private/", &rest))
        return site_parse_u64(rest, UINT32_MAX, &n) && n < s->o.pages
                   ? serve_private(r, (unsigned)n)
                   : not_found(r);
    if (strcmp(url, "/robots.txt") == 0)
        return serve_robots(r);
    if (strcmp(url, "/style.css") == 0) {
        static const char css[] = "body { font-family: serif; }\np { margin: 1em; }\n";
        return answer_text(r, 200, "text/css", css, sizeof css - 1);
    }
    if (prefix(url, "/asset/", &rest))
        return serve_asset(r, rest);
    if (strcmp(url, "/zoo") == 0)
        return serve_zoo(r);
    if (prefix(url, "/status/", &rest))
        return serve_status(r, rest);
    if (strcmp(url, "/reset") == 0) {
        site_count_answer(s, 0, 0, true);
        return MHD_NO; /* MHD closes the connection without answering */
    }
    if (prefix(url, "/redirect/", &rest))
        return serve_redirect(r, rest);
    if (strcmp(url, "/loop/a") == 0)
        return redirect(r, 302, "/loop/b");
    if (strcmp(url, "/loop/b") == 0)
        return redirect(r, 302, "/loop/a");
    if (prefix(url, "/bomb/", &rest))
        return site_parse_u64(rest, 1u << 20, &n) && n > 0 ? site_serve_bomb(r, n) : not_found(r);
    if (prefix(url, "/big/", &rest))
        return serve_generated(r, rest, false);
    if (prefix(url, "/slow/", &rest))
        return serve_generated(r, rest, true);
    if (strcmp(url, "/malformed") == 0)
        return answer_text(r, 200, "text/html", malformed_html, sizeof malformed_html - 1);
    if (strcmp(url, "/latin1") == 0)
        return answer_text(r, 200, "text/html; charset=ISO-8859-1", latin1_html,
                           sizeof latin1_html - 1);
    if (strcmp(url, "/badutf8") == 0)
        return answer_text(r, 200, "text/html; charset=utf-8", badutf8_html,
                           sizeof badutf8_html - 1);
    if (strcmp(url, "/binary") == 0)
        return serve_binary(r);
    if (strcmp(url, "/links") == 0)
        return serve_links(r);
    if (prefix(url, "/flaky/", &rest) && *rest)
        return serve_flaky(r);
    if (strcmp(url, "/echo") == 0)
        return serve_echo(r, url, method);
    return not_found(r);
}
