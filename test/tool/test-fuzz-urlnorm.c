/* test-fuzz-urlnorm.c: the urlnorm fuzz harness as a plain test: its seeds in
 * fuzz-seeds/urlnorm/ and deterministic mutations of them (see fuzz-main.h). */
#define WEFT_FUZZ_AS_TEST
#include "fuzz-urlnorm.c"
#include "test.h"

TEST_T(fuzz_urlnorm_seeds, 60)
{
    char dir[4096];
    fuzz_seed_dir(dir, sizeof dir, __FILE__, "urlnorm");
    CHECK(fuzz_replay(dir, 3000) > 0);
}
