/* test-fuzz-html.c: the html fuzz harness as a plain test: its seeds in
 * fuzz-seeds/html/ and deterministic mutations of them (see fuzz-main.h). */
#define WEFT_FUZZ_AS_TEST
#include "fuzz-html.c"
#include "test.h"

TEST_T(fuzz_html_seeds, 60)
{
    char dir[4096];
    fuzz_seed_dir(dir, sizeof dir, __FILE__, "html");
    CHECK(fuzz_replay(dir, 3000) > 0);
}
