/* robots.h: robots.txt as RFC 9309 reads it, for one crawler.
 *
 * DESIGN: parsing keeps only the rules of the groups that apply to us: the
 * groups whose user-agent line names our product token (case-insensitive,
 * the token being the line's value up to the first character that cannot be
 * in a token, so "weft/0.1" and "WEFT" both name "weft"), all of them merged;
 * or, when none does, the "*" groups merged; or nothing (everything
 * allowed). A rule's pattern may hold '*' (any run of characters) and end in
 * '$' (the path must end there); otherwise it matches any path it is a
 * prefix of. The longest matching pattern wins (in octets), and allow wins a
 * tie. Patterns and paths are compared in one canonical percent-encoding
 * (unreserved characters decoded, hex upper-cased, bytes >= 0x80 encoded),
 * the same form urlnorm gives paths. /robots.txt itself is always allowed.
 *
 * Status rules (RFC 9309 2.3.1): a 2xx body is parsed; a 4xx means no rules
 * (everything allowed); a 5xx or no answer at all means everything
 * disallowed. Crawl-delay (not in the RFC, but widely used) is kept from the
 * group that applies. Bounded: at most ROBOTS_MAX_BYTES of the body are read
 * (RFC 9309 asks for at least 500 KiB), at most ROBOTS_MAX_RULES rules kept.
 * A parsed robots is immutable: any thread may query it. */
#ifndef WEFT_TOOL_ROBOTS_H
#define WEFT_TOOL_ROBOTS_H

#include <stdbool.h>
#include <stddef.h>

#define ROBOTS_MAX_BYTES (512 * 1024)
#define ROBOTS_MAX_RULES 4096
#define ROBOTS_MAX_DELAY 60.0 /* Crawl-delay above this is taken as this */

typedef struct robots robots;

/* Parses a robots.txt body for the crawler whose product token is `product`
 * (e.g. "weft"). Returns 0 or ENOMEM. */
int robots_parse(const char *body, size_t n, const char *product, robots **out);

/* The product token robots.txt groups are matched against (RFC 9309
 * 2.2.1), from a User-Agent: its first token of [A-Za-z_-] characters
 * ("MyBot/1.0 (+https://x)" gives "MyBot"), into buf (n bytes). "weft" when
 * there is none. */
void robots_product_token(const char *user_agent, char *buf, size_t n);

/* Whether name is a valid product token: 1 to 63 of [A-Za-z_-]. */
bool robots_valid_token(const char *name);

/* The rules for a fetch of /robots.txt that ended with HTTP status `status`
 * (0: no response: connection refused, timeout...) and this body: parsed
 * for 2xx, allow-all for 4xx, disallow-all for 5xx and no response. (3xx
 * should not reach here: the fetch follows redirects; one that is still 3xx
 * counts as 4xx, as RFC 9309 does after five hops.) Returns 0 or ENOMEM. */
int robots_from_response(long status, const char *body, size_t n, const char *product,
                         robots **out);

/* Whether the crawler may fetch `path` (the path and query of a URL, from
 * "/"). */
bool robots_allowed(const robots *r, const char *path);

/* The Crawl-delay in seconds of the group that applies, 0 when none. */
double robots_crawl_delay(const robots *r);

/* Number of rules kept (for tests and the fuzz harness). */
size_t robots_rule_count(const robots *r);

void robots_free(robots *r);

#endif
