/* fuzz-html.c: fuzz harness for tool/parse/html.c. The input is parsed whole and
 * fed in chunks whose sizes come from its first byte. Invariants: never
 * crash or hang; caps hold; the title is clean UTF-8 without controls. */
#include "fuzz-main.h"
#include "parse/html.h"

static void check(const html_page *pg)
{
    size_t n = strlen(pg->title);
    if (n >= HTML_TITLE_MAX || pg->nlinks > HTML_LINKS_MAX)
        abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)pg->title[i] < 0x20)
            abort();
    for (size_t i = 0; i < pg->nlinks; i++)
        if (strlen(pg->links[i]) >= HTML_HREF_MAX)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        html_global_init();
        init = 1;
    }
    html_page pg;
    html_parse((const char *)data, size, NULL, &pg);
    check(&pg);
    html_page_free(&pg);
    size_t step = size ? 1 + data[0] % 64 : 1;
    html_parser *p;
    if (html_parser_new(&p, size && data[0] & 1 ? "ISO-8859-1" : NULL) != 0)
        return 0;
    for (size_t i = 0; i < size; i += step)
        html_parser_feed(p, (const char *)data + i, i + step > size ? size - i : step);
    html_parser_finish(p, &pg);
    html_parser_free(p);
    check(&pg);
    html_page_free(&pg);
    return 0;
}
