/* The tool's shared argument parsers: what they accept and refuse. */
#include "test.h"
#include "cli/args.h"

#include <stdio.h>

TEST(seconds_accepts_and_refuses)
{
    double v = -1;
    CHECK(args_seconds("2.5", &v) && v == 2.5);
    CHECK(args_seconds("0", &v) && v == 0);
    CHECK(args_seconds("1e6", &v) && v == 1e6);
    CHECK(args_seconds(".5", &v) && v == 0.5);
    v = 7;
    const char *bad[] = {"", "x", "-1", "1e7", "nan", "inf", "2s", " 2", "2 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(!args_seconds(bad[i], &v));
        CHECK(v == 7); /* untouched */
    }
}

TEST(integers_respect_bounds_and_syntax)
{
    unsigned long long u = 0;
    CHECK(args_ull("0", 0, 10, &u) && u == 0);
    CHECK(args_ull("10", 0, 10, &u) && u == 10);
    CHECK(!args_ull("11", 0, 10, &u));
    CHECK(!args_ull("0", 1, 10, &u));
    CHECK(!args_ull("-1", 0, 10, &u));
    CHECK(!args_ull("+1", 0, 10, &u));
    CHECK(!args_ull(" 1", 0, 10, &u));
    CHECK(!args_ull("1x", 0, 10, &u));
    CHECK(!args_ull("99999999999999999999999", 0, ~0ull, &u)); /* ERANGE */
    unsigned w = 3;
    CHECK(args_uint("4096", 1, 4096, &w) && w == 4096);
    CHECK(!args_uint("4097", 1, 4096, &w) && w == 4096);
}

TEST(usage_error_names_the_command_and_returns_2)
{
    char buf[256] = {0};
    FILE *f = fmemopen(buf, sizeof buf - 1, "w");
    CHECK(f != NULL);
    CHECK_EQ(args_usage_error(f, "crawl", "bad '%s'", "x"), 2);
    fclose(f);
    CHECK_STR(buf, "weft crawl: bad 'x'\nTry 'weft crawl --help'.\n");
}
