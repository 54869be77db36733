/* fuzz-robots.c: fuzz harness for tool/parse/robots.c. The input is a robots.txt
 * body; every rule value in it is also queried as a path. Invariants: never
 * crash; /robots.txt is always allowed; caps hold; the answer for a path
 * does not depend on which other paths were asked before. */
#include "fuzz-main.h"
#include "parse/robots.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    robots *r = NULL;
    if (robots_parse((const char *)data, size, "weft", &r) != 0)
        return 0;
    if (!robots_allowed(r, "/robots.txt") || robots_rule_count(r) > ROBOTS_MAX_RULES)
        abort();
    double d = robots_crawl_delay(r);
    if (!(d >= 0 && d <= ROBOTS_MAX_DELAY))
        abort();
    /* Query each line's text after ':' as a path, and some fixed ones. */
    const char *fixed[] = {"/", "/a", "/private/1", "/x.gif", "/a?b=c", "/%7Ex"};
    bool first[6];
    for (int i = 0; i < 6; i++)
        first[i] = robots_allowed(r, fixed[i]);
    size_t i = 0;
    while (i < size && i < 65536) {
        size_t e = i;
        while (e < size && data[e] != '\n')
            e++;
        const uint8_t *colon = memchr(data + i, ':', e - i);
        if (colon) {
            size_t k = (size_t)(data + e - colon - 1);
            char *path = malloc(k + 2);
            if (path) {
                path[0] = '/';
                memcpy(path + 1, colon + 1, k);
                path[k + 1] = '\0';
                robots_allowed(r, path);
                free(path);
            }
        }
        i = e + 1;
    }
    for (int j = 0; j < 6; j++)
        if (robots_allowed(r, fixed[j]) != first[j])
            abort();
    robots_free(r);
    return 0;
}
