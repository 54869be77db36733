/* fuzz-urlnorm.c: fuzz harness for tool/parse/urlnorm.c. Input: "base\nhref".
 * Invariants: never crash; a result is an http(s) URL without fragment, no
 * longer than URLNORM_MAX, and normalising it again changes nothing; the
 * fast path of plain links and the curl path agree, status and URL. */
#include "fuzz-main.h"
#include "parse/urlnorm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 2 * URLNORM_MAX)
        return 0;
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *nl = strchr(buf, '\n');
    const char *base = NULL, *href = buf;
    if (nl) {
        *nl = '\0';
        base = buf;
        href = nl + 1;
    }
    char *out = NULL;
    urlnorm_status st = urlnorm_resolve(base, href, &out);
    char *slow = NULL;
    urlnorm_status sst = urlnorm_resolve_curl(base, href, &slow);
    if (sst != st || (st == URLNORM_OK && strcmp(slow, out) != 0)) {
        fprintf(stderr, "fast and curl paths differ: %d %s / %d %s\n", st, out ? out : "-", sst,
                slow ? slow : "-");
        abort();
    }
    free(slow);
    if (st == URLNORM_OK) {
        if (!out || strlen(out) > URLNORM_MAX || strchr(out, '#') ||
            (strncmp(out, "http://", 7) != 0 && strncmp(out, "https://", 8) != 0))
            abort();
        char *again = NULL;
        if (urlnorm(out, &again) != URLNORM_OK || strcmp(again, out) != 0)
            abort();
        free(again);
        char tmp[URLNORM_MAX + 8];
        if (!urlnorm_origin(out, tmp, sizeof tmp))
            abort();
        urlnorm_host(out, tmp, sizeof tmp);
        if (urlnorm_path(out)[0] != '/' && urlnorm_path(out)[0] != '?')
            abort();
    } else if (out) {
        abort();
    }
    free(out);
    free(buf);
    return 0;
}
