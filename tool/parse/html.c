/* html.c: title, word count and links of a page from libxml2's HTML push
 * parser, through SAX callbacks and without building a tree.
 *
 * DESIGN: see html.h. The callbacks keep a little state: how deep we are in
 * <title>, <script>/<style>, whether the last character seen was inside a
 * word (a word can be split over two callbacks when the body arrives in
 * chunks, but never over an element boundary). Error and warning callbacks
 * are no-ops, and the structured-error hook too, so nothing a page does can
 * print on stderr. */
#include "parse/html.h"

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlerror.h>

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct html_parser {
    htmlParserCtxtPtr ctxt;
    xmlSAXHandler sax;
    html_page page;
    size_t links_cap;
    size_t title_len;
    unsigned in_title, in_skip; /* open <title>, <script>/<style> elements */
    bool in_word;
    bool title_space; /* a space is owed before the next title character */
    bool nomem;
    bool finished;
};

static void silent(void *ctx, const char *msg, ...)
{
}

static void silent_structured(void *ctx, xmlErrorPtr err)
{
}

static bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* The six bytes HTML counts as whitespace, as a table: the word count
 * looks at every byte of a page's text. */
static const bool ws_byte[256] = {
    [' '] = true, ['\t'] = true, ['\n'] = true, ['\r'] = true, ['\f'] = true, ['\v'] = true,
};

/* libxml2's HTML parser lowercases element and attribute names, so the
 * first byte decides most comparisons without a call; strcasecmp for the
 * rest keeps any case working. */
static bool name_is(const xmlChar *name, const char *want)
{
    return name && (name[0] | 0x20) == want[0] && strcasecmp((const char *)name, want) == 0;
}

static void add_link(html_parser *p, const char *href)
{
    size_t n = strlen(href);
    if (n >= HTML_HREF_MAX || p->page.nlinks >= HTML_LINKS_MAX) {
        p->page.dropped++;
        return;
    }
    if (p->page.nlinks == p->links_cap) {
        size_t cap = p->links_cap ? 2 * p->links_cap : 16;
        char **l = realloc(p->page.links, cap * sizeof *l);
        if (!l) {
            p->nomem = true;
            p->page.dropped++;
            return;
        }
        p->page.links = l;
        p->links_cap = cap;
    }
    char *s = malloc(n + 1);
    if (!s) {
        p->nomem = true;
        p->page.dropped++;
        return;
    }
    memcpy(s, href, n + 1);
    p->page.links[p->page.nlinks++] = s;
}

static const char *attr(const xmlChar **atts, const char *name)
{
    for (size_t i = 0; atts && atts[i]; i += 2)
        if (name_is(atts[i], name))
            return atts[i + 1] ? (const char *)atts[i + 1] : "";
    return NULL;
}

static void on_start(void *ud, const xmlChar *name, const xmlChar **atts)
{
    html_parser *p = ud;
    p->in_word = false;
    if (name_is(name, "a")) {
        const char *href = attr(atts, "href");
        if (href)
            add_link(p, href);
    } else if (name_is(name, "base")) {
        const char *href = attr(atts, "href");
        if (href && !p->page.base && strlen(href) < HTML_HREF_MAX) {
            p->page.base = strdup(href);
            if (!p->page.base)
                p->nomem = true;
        }
    } else if (name_is(name, "title")) {
        p->in_title++;
    } else if (name_is(name, "script") || name_is(name, "style")) {
        p->in_skip++;
    }
}

static void on_end(void *ud, const xmlChar *name)
{
    html_parser *p = ud;
    p->in_word = false;
    if (name_is(name, "title")) {
        if (p->in_title)
            p->in_title--;
        p->title_space = true;
    } else if (name_is(name, "script") || name_is(name, "style")) {
        if (p->in_skip)
            p->in_skip--;
    }
}

static void title_text(html_parser *p, const unsigned char *s, int len)
{
    p->page.has_title = true;
    for (int i = 0; i < len; i++) {
        if (is_ws(s[i])) {
            p->title_space = true;
            continue;
        }
        size_t need = (p->title_space && p->title_len > 0) ? 2 : 1;
        if (p->title_len + need >= HTML_TITLE_MAX)
            return;
        if (need == 2)
            p->page.title[p->title_len++] = ' ';
        p->title_space = false;
        p->page.title[p->title_len++] = (char)s[i];
    }
}

static void on_text(void *ud, const xmlChar *ch, int len)
{
    html_parser *p = ud;
    if (p->in_skip)
        return;
    if (p->in_title) {
        title_text(p, ch, len);
        return;
    }
    /* A word starts at each non-space byte after a space (or after the
     * start of the node): counted without a branch per byte. */
    bool in = p->in_word;
    unsigned long words = 0;
    for (int i = 0; i < len; i++) {
        bool word = !ws_byte[ch[i]];
        words += word & !in;
        in = word;
    }
    p->in_word = in;
    p->page.words += words;
}

/* <script>/<style> bodies arrive here (libxml2 prefers cdataBlock for them). */
static void on_cdata(void *ud, const xmlChar *ch, int len)
{
}

void html_global_init(void)
{
    xmlInitParser();
}

int html_parser_new(html_parser **out, const char *charset)
{
    html_parser *p = calloc(1, sizeof *p);
    if (!p)
        return ENOMEM;
    p->sax.startElement = on_start;
    p->sax.endElement = on_end;
    p->sax.characters = on_text;
    p->sax.ignorableWhitespace = on_text;
    p->sax.cdataBlock = on_cdata;
    p->sax.warning = silent;
    p->sax.error = silent;
    p->sax.fatalError = silent;
    p->sax.serror = silent_structured;
    /* Errors reported outside a context go to the thread's generic handler. */
    xmlSetGenericErrorFunc(NULL, silent);
    xmlSetStructuredErrorFunc(NULL, silent_structured);
    p->ctxt = htmlCreatePushParserCtxt(&p->sax, p, NULL, 0, NULL, XML_CHAR_ENCODING_NONE);
    if (!p->ctxt) {
        free(p);
        return ENOMEM;
    }
    htmlCtxtUseOptions(p->ctxt, HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                    HTML_PARSE_NONET);
    if (charset && *charset) {
        xmlCharEncodingHandlerPtr h = xmlFindCharEncodingHandler(charset);
        if (h)
            xmlSwitchToEncoding(p->ctxt, h);
    }
    *out = p;
    return 0;
}

void html_parser_feed(html_parser *p, const char *data, size_t n)
{
    /* htmlParseChunk takes an int: feed big buffers in slices. */
    while (n > 0 && !p->finished) {
        int k = n > (1u << 20) ? 1 << 20 : (int)n;
        htmlParseChunk(p->ctxt, data, k, 0);
        data += k;
        n -= (size_t)k;
    }
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    size_t len;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return len;
}

/* The title goes into JSON and terminals: make it valid UTF-8 without
 * control characters. A sequence cut by the length cap is dropped; other
 * invalid bytes become '?'. */
static void clean_title(char *t, size_t len)
{
    unsigned char *s = (unsigned char *)t;
    size_t i = 0;
    while (i < len) {
        size_t k = utf8_seq(s + i, len - i);
        if (k == 0) {
            /* A truncated tail: cut it off. */
            if (s[i] >= 0xc2 && len - i < 4) {
                bool tail = true;
                for (size_t j = i + 1; j < len; j++)
                    if ((s[j] & 0xc0) != 0x80)
                        tail = false;
                if (tail) {
                    len = i;
                    break;
                }
            }
            s[i++] = '?';
            continue;
        }
        if (k == 1 && (s[i] < 0x20 || s[i] == 0x7f))
            s[i] = ' ';
        i += k;
    }
    t[len] = '\0';
}

int html_parser_finish(html_parser *p, html_page *page)
{
    if (!p->finished) {
        htmlParseChunk(p->ctxt, NULL, 0, 1);
        p->finished = true;
    }
    clean_title(p->page.title, p->title_len);
    *page = p->page;
    memset(&p->page, 0, sizeof p->page);
    p->links_cap = 0;
    p->title_len = 0;
    return p->nomem ? ENOMEM : 0;
}

void html_page_free(html_page *page)
{
    for (size_t i = 0; i < page->nlinks; i++)
        free(page->links[i]);
    free(page->links);
    free(page->base);
    memset(page, 0, sizeof *page);
}

void html_parser_free(html_parser *p)
{
    if (!p)
        return;
    if (p->ctxt) {
        /* A push context's document (none with our SAX) is not freed by
         * htmlFreeParserCtxt. */
        if (p->ctxt->myDoc)
            xmlFreeDoc(p->ctxt->myDoc);
        htmlFreeParserCtxt(p->ctxt);
    }
    html_page_free(&p->page);
    free(p);
}

int html_parse(const char *data, size_t n, const char *charset, html_page *page)
{
    html_parser *p;
    int rc = html_parser_new(&p, charset);
    if (rc != 0) {
        memset(page, 0, sizeof *page);
        return rc;
    }
    html_parser_feed(p, data, n);
    rc = html_parser_finish(p, page);
    html_parser_free(p);
    return rc;
}

void html_content_charset(const char *ct, char *buf, size_t n)
{
    if (n == 0)
        return;
    buf[0] = '\0';
    if (!ct)
        return;
    const char *p = ct;
    while ((p = strchr(p, ';')) != NULL) {
        p++;
        while (is_ws((unsigned char)*p))
            p++;
        if (strncasecmp(p, "charset=", 8) != 0)
            continue;
        p += 8;
        bool quoted = *p == '"';
        if (quoted)
            p++;
        size_t len = 0;
        while (p[len] && p[len] != ';' && p[len] != '"' && !is_ws((unsigned char)p[len]))
            len++;
        if (len + 1 > n)
            return;
        memcpy(buf, p, len);
        buf[len] = '\0';
        return;
    }
}

bool html_is_html_type(const char *ct)
{
    if (!ct)
        return false;
    while (is_ws((unsigned char)*ct))
        ct++;
    size_t n = strcspn(ct, "; \t");
    return (n == 9 && strncasecmp(ct, "text/html", 9) == 0) ||
           (n == 21 && strncasecmp(ct, "application/xhtml+xml", 21) == 0);
}
