/* urlnorm.h: resolving the links of a page and putting URLs in one canonical
 * form, so the crawler's de-duplication sees "http://H/a/../b#x" and
 * "HTTP://h:80/b" as the same page.
 *
 * DESIGN: curl's URL API (curl_url) does the parsing and the RFC 3986
 * reference resolution, so links are resolved exactly as the transfer will
 * see them. On top of it: the scheme is checked first by hand (mailto:,
 * javascript:, data:, tel: and every other non-http(s) scheme is refused
 * before curl sees it), the fragment is dropped, the host lower-cased, the
 * default port removed, dot segments resolved (curl's default), and
 * percent-escapes made canonical: hex digits upper-cased, escapes of
 * unreserved characters but "." decoded (RFC 3986 6.2.2), and userinfo
 * ("user:password@") removed: it names no other page. Leading and trailing
 * whitespace and embedded tabs and newlines are removed from a link first,
 * as browsers do. Pure functions, safe from any thread. */
#ifndef WEFT_TOOL_URLNORM_H
#define WEFT_TOOL_URLNORM_H

#include <stdbool.h>
#include <stddef.h>

/* Longest URL we accept, in bytes (RFC 9110 4.1 recommends supporting at
 * least 8,000 octets): longer ones are crawler traps or junk. */
#define URLNORM_MAX 8192

typedef enum urlnorm_status {
    URLNORM_OK = 0,
    URLNORM_SCHEME, /* a scheme other than http/https (mailto:, javascript:...) */
    URLNORM_BAD,    /* not a URL curl accepts, or no host */
    URLNORM_NOMEM,
    URLNORM_TOO_LONG, /* longer than URLNORM_MAX, before or after normalising */
} urlnorm_status;

/* Resolves href against base (an absolute http(s) URL; NULL when href must be
 * absolute) and normalises the result. On URLNORM_OK *out is a malloc'd
 * string (free() it); otherwise *out is NULL. */
urlnorm_status urlnorm_resolve(const char *base, const char *href, char **out);

/* urlnorm_resolve on curl's URL API alone: what the fast path of plain
 * links (see urlnorm.c) must agree with. For tests. */
urlnorm_status urlnorm_resolve_curl(const char *base, const char *href, char **out);

/* urlnorm_resolve(NULL, url, out). */
urlnorm_status urlnorm(const char *url, char **out);

/* A copy of url (malloc'd; NULL when out of memory) with any userinfo
 * replaced by three stars (http://STARS@h/), for output: credentials given on
 * the command line are used for the request, never printed. */
char *urlnorm_redact(const char *url);

/* The reason as a short word: "ok", "scheme", "bad", "nomem", "too-long". */
const char *urlnorm_strstatus(urlnorm_status s);

/* The origin of a normalised URL, "scheme://authority" (authority with any
 * userinfo removed), into buf. Returns false if it does not fit or url has
 * no "://". */
bool urlnorm_origin(const char *url, char *buf, size_t n);

/* The host of a normalised URL (no port, no brackets around IPv6), into buf.
 * Returns false if it does not fit or there is none. */
bool urlnorm_host(const char *url, char *buf, size_t n);

/* A pointer to the path-and-query of a normalised URL ("/" if none): what
 * robots.txt rules match against. */
const char *urlnorm_path(const char *url);

#endif
