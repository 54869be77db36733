/* test-fuzz-robots.c: the robots fuzz harness as a plain test: its seeds in
 * fuzz-seeds/robots/ and deterministic mutations of them (see fuzz-main.h). */
#define WEFT_FUZZ_AS_TEST
#include "fuzz-robots.c"
#include "test.h"

TEST_T(fuzz_robots_seeds, 60)
{
    char dir[4096];
    fuzz_seed_dir(dir, sizeof dir, __FILE__, "robots");
    CHECK(fuzz_replay(dir, 3000) > 0);
}
