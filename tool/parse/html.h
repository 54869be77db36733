/* html.h: what the crawler wants from a page: its <title>, the number of
 * words of its visible text, its <a href> links and its <base href>, parsed
 * as the body arrives.
 *
 * DESIGN: libxml2's HTML push parser (htmlCreatePushParserCtxt) with our own
 * SAX callbacks and no tree: a page is never held whole, in text or as a
 * DOM, so memory per page is the parser's small window plus what we keep
 * (title, links). Parsing runs with HTML_PARSE_RECOVER | NOERROR | NOWARNING
 * | NONET: broken markup, bytes that are not UTF-8, and binary data served as
 * text/html all give some answer and never an error or a message on stderr.
 * Every thing kept is capped (title length, link length, number of links),
 * so hostile input costs bounded memory. One parser per page, used by one
 * thread at a time; different parsers run in parallel.
 *
 * Words: whitespace-separated tokens of the text nodes, each text node on
 * its own ("a<b>b</b>" is two words), outside <title>, <script> and <style>.
 * That is the site's definition (site.h), which the tests check against. */
#ifndef WEFT_TOOL_HTML_H
#define WEFT_TOOL_HTML_H

#include <stdbool.h>
#include <stddef.h>

#define HTML_TITLE_MAX 256 /* bytes kept of the title, with its NUL */
#define HTML_HREF_MAX                                                                              \
    65536 /* longer hrefs are dropped (counted); the crawler                                       \
           * reports those over URLNORM_MAX as too-long.                                           \
           * Memory stays bounded by the body limit. */
#define HTML_LINKS_MAX 10000

typedef struct html_page {
    char title[HTML_TITLE_MAX]; /* whitespace collapsed, trimmed, UTF-8 cut cleanly */
    bool has_title;
    unsigned long words;
    char **links; /* the raw href values of <a> elements, in document order */
    size_t nlinks;
    size_t dropped; /* links not kept: too long, or past HTML_LINKS_MAX */
    char *base;     /* the first <base href>, or NULL */
} html_page;

typedef struct html_parser html_parser;

/* Calls xmlInitParser. Call once from the main thread before any parser is
 * made on another thread (libxml2's rule). */
void html_global_init(void);

/* Makes a parser. charset (from Content-Type; may be NULL) is used when
 * libxml2 knows it; otherwise the page's own <meta> or UTF-8 is assumed.
 * Returns 0 or ENOMEM. */
int html_parser_new(html_parser **out, const char *charset);

/* Feeds the next n bytes of the body. Never fails: after input the parser
 * cannot make sense of, it keeps what it found so far and ignores the rest. */
void html_parser_feed(html_parser *p, const char *data, size_t n);

/* Ends the input and moves the results into *page (which the caller then
 * owns: html_page_free). The parser can only be freed afterwards. Returns 0,
 * or ENOMEM when memory ran out while parsing (page then holds what was
 * found before). */
int html_parser_finish(html_parser *p, html_page *page);

void html_parser_free(html_parser *p);

/* Frees what a page holds (not the struct) and zeroes it. */
void html_page_free(html_page *page);

/* Parses a whole buffer: new, feed, finish, free. */
int html_parse(const char *data, size_t n, const char *charset, html_page *page);

/* The charset parameter of a Content-Type value, into buf ("" if none). */
void html_content_charset(const char *content_type, char *buf, size_t n);

/* Whether a Content-Type names HTML (text/html, application/xhtml+xml). */
bool html_is_html_type(const char *content_type);

#endif
