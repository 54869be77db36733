/* The tool's shared argument parsers: what they accept and refuse. */
#include "test.h"
#include "cli/args.h"

#include <stdio.h>
#include <string.h>

TEST(seconds_accepts_and_refuses)
{
    double v = -1;
    CHECK(args_seconds("2.5", &v) && v == 2.5);
    CHECK(args_seconds("0", &v) && v == 0);
    CHECK(args_seconds("1e6", &v) && v == 1e6);
    CHECK(args_seconds(".5", &v) && v == 0.5);
    v = 7;
    const char *bad[] = {"",   "x",    "-1", "1e7", "nan", "inf", "2s",   " 2",
                         "2 ", "0x10", "+1", ".",   "1e",  "e3",  "1..2", "1e999"};
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
    CHECK(!args_ull("2.5", 0, 10, &u));
    CHECK(!args_ull("1e3", 0, 10000, &u));
    CHECK(!args_ull("0x10", 0, 100, &u));
    CHECK(!args_ull("", 0, 100, &u));
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

TEST(bytes_take_binary_suffixes)
{
    long long b = -1;
    CHECK(args_bytes("4096", 1, 1ull << 40, &b) && b == 4096);
    CHECK(args_bytes("512K", 1, 1ull << 40, &b) && b == 512 * 1024);
    CHECK(args_bytes("10m", 1, 1ull << 40, &b) && b == 10LL << 20);
    CHECK(args_bytes("1G", 1, 1ull << 40, &b) && b == 1LL << 30);
    CHECK(args_bytes("1T", 1, 1ull << 40, &b) && b == 1LL << 40);
    b = 7;
    const char *bad[] = {"", "K", "2T", "1.5M", "-1", "0x10", "10MB", "10 M", "0", "99999999999T"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(!args_bytes(bad[i], 1, 1ull << 40, &b));
        CHECK(b == 7);
    }
}

/* A small table with one option of each kind, as a subcommand declares it. */
typedef struct parsed {
    bool flag, on;
    unsigned n;
    size_t sz;
    unsigned long long big;
    long long bytes;
    double secs, rate;
    const char *str;
    args_list list;
} parsed;

static int parse_with(parsed *p, char *out, size_t outsz, char *err, size_t errsz, size_t *nops,
                      int argc, char **argv)
{
    memset(p, 0, sizeof *p);
    p->on = true;
    p->n = 99;
    const args_opt opts[] = {
        {"flag", 'f', ARGS_FLAG, &p->flag, 0, 0, 0, 0, false, NULL, "a flag"},
        {"no-on", 0, ARGS_UNFLAG, &p->on, 0, 0, 0, 0, false, NULL, "turns on off"},
        {"num", 'n', ARGS_UINT, &p->n, 1, 100, 0, 0, false, "N", "a number\nsecond line"},
        {"size", 0, ARGS_SIZE, &p->sz, 0, 1000, 0, 0, false, "N", "a size_t"},
        {"big", 0, ARGS_U64, &p->big, 0, ~0ull, 0, 0, false, "N", "a 64-bit number"},
        {"bytes", 'b', ARGS_BYTES, &p->bytes, 1, 1ull << 30, 0, 0, false, "SIZE", "bytes"},
        {"secs", 's', ARGS_SECONDS, &p->secs, 0, 0, 0, 60, false, "S", "seconds"},
        {"rate", 0, ARGS_REAL, &p->rate, 0, 0, 0, 1e6, true, "R", "a rate above 0"},
        {"str", 0, ARGS_STRING, &p->str, 0, 0, 0, 0, false, "S", "a string"},
        {"item", 'i', ARGS_LIST, &p->list, 0, 0, 0, 0, false, "X", "repeatable"},
        {"a-very-long-option-name", 0, ARGS_STRING, &p->str, 0, 0, 0, 0, false, "VALUE",
         "help on its own line"},
        {"help", 'h', ARGS_HELP, NULL, 0, 0, 0, 0, false, NULL, "this text"},
    };
    const args_spec sp = {
        "t", "usage: weft t [options] X...\n", "tail\n", opts, sizeof opts / sizeof opts[0], 1, 3,
        "X"};
    FILE *o = fmemopen(out, outsz, "w"), *e = fmemopen(err, errsz, "w");
    CHECK(o && e);
    int rc = args_parse(&sp, argc, argv, nops, o, e);
    fclose(o);
    fclose(e);
    return rc;
}

#define ARGV(...) ((char *[]){"t", __VA_ARGS__, NULL})
#define ARGC(...) ((int)(sizeof((char *[]){"t", __VA_ARGS__}) / sizeof(char *)))
#define PARSE(...)                                                                                 \
    parse_with(&p, out, sizeof out, err, sizeof err, &nops, ARGC(__VA_ARGS__), ARGV(__VA_ARGS__))

TEST(table_parser_stores_every_kind)
{
    parsed p;
    char out[2048] = {0}, err[512] = {0};
    size_t nops = 0;
    char **av = ARGV("x1", "-fn", "7", "--size=12", "--big", "18446744073709551615", "-b10K", "x2",
                     "--secs", "2.5", "--rate=0.5", "--str", "s", "-i", "a", "--item=b", "--no-on",
                     "--", "-x3");
    int ac = 20;
    CHECK_EQ(parse_with(&p, out, sizeof out, err, sizeof err, &nops, ac, av), 0);
    CHECK_STR(err, "");
    CHECK(p.flag && !p.on);
    CHECK_EQ(p.n, 7u);
    CHECK_EQ(p.sz, (size_t)12);
    CHECK(p.big == ~0ull);
    CHECK(p.bytes == 10 * 1024);
    CHECK(p.secs == 2.5 && p.rate == 0.5);
    CHECK_STR(p.str, "s");
    CHECK_EQ(p.list.n, (size_t)2);
    CHECK_STR(p.list.v[0], "a");
    CHECK_STR(p.list.v[1], "b");
    /* Operands keep their order, moved to the front; "--" ends options. */
    CHECK_EQ(nops, (size_t)3);
    CHECK_STR(av[1], "x1");
    CHECK_STR(av[2], "x2");
    CHECK_STR(av[3], "-x3");
    args_list_free(&p.list);
}

/* Each kind of bad value is refused with a message naming the option as
 * typed and the value, and exit status 2. */
TEST(table_parser_refuses_bad_values_naming_the_option)
{
    parsed p;
    char out[2048], err[512];
    size_t nops;
#define REFUSE(line, ...)                                                                          \
    do {                                                                                           \
        memset(err, 0, sizeof err);                                                                \
        CHECK_EQ(PARSE(__VA_ARGS__), 2);                                                           \
        CHECK_STR(err, line "\nTry 'weft t --help'.\n");                                           \
        args_list_free(&p.list);                                                                   \
    } while (0)
    REFUSE("weft t: -n wants a whole number from 1 to 100, not '2.5'", "x", "-n", "2.5");
    REFUSE("weft t: --num wants a whole number from 1 to 100, not '-1'", "x", "--num", "-1");
    REFUSE("weft t: --num wants a whole number from 1 to 100, not '1e99'", "x", "--num=1e99");
    REFUSE("weft t: --num wants a whole number from 1 to 100, not '0x10'", "x", "--num", "0x10");
    REFUSE("weft t: --num wants a whole number from 1 to 100, not '5x'", "x", "--num", "5x");
    REFUSE("weft t: --num wants a whole number from 1 to 100, not '101'", "x", "--num", "101");
    REFUSE("weft t: --size wants a whole number from 0 to 1000, not ''", "x", "--size=");
    REFUSE("weft t: --big wants a whole number of at least 0, not '18446744073709551616'", "x",
           "--big", "18446744073709551616");
    REFUSE("weft t: -b wants a size in bytes (e.g. 4096, 512K, 10M, 1G) from 1 to 1073741824, "
           "not '2G'",
           "x", "-b", "2G");
    REFUSE("weft t: --secs wants seconds (e.g. 2.5) from 0 to 60, not '0x10'", "x", "--secs",
           "0x10");
    REFUSE("weft t: --secs wants seconds (e.g. 2.5) from 0 to 60, not 'nan'", "x", "--secs", "nan");
    REFUSE("weft t: -s wants seconds (e.g. 2.5) from 0 to 60, not '-1'", "x", "-s", "-1");
    REFUSE("weft t: --rate wants a number above 0, not '0'", "x", "--rate", "0");
    REFUSE("weft t: unknown option '--nope'", "x", "--nope");
    REFUSE("weft t: unknown option '-z'", "x", "-fz");
    REFUSE("weft t: option '--num' needs a value", "x", "--num");
    REFUSE("weft t: option '-s' needs a value", "x", "-s");
    REFUSE("weft t: option '--flag' takes no value", "x", "--flag=1");
    REFUSE("weft t: no X given", "-f");
    REFUSE("weft t: unexpected argument 'd'", "a", "b", "c", "d");
#undef REFUSE
}

TEST(table_parser_leaves_defaults_alone)
{
    parsed p;
    char out[2048] = {0}, err[512] = {0};
    size_t nops = 0;
    CHECK_EQ(PARSE("x"), 0);
    CHECK(p.on && !p.flag);
    CHECK_EQ(p.n, 99u);
    CHECK(p.str == NULL && p.list.n == 0);
}

/* The help is laid out from the table: one line per option (more for
 * multi-line help), help text in one column. */
TEST(table_parser_help_comes_from_the_table)
{
    parsed p;
    char out[2048] = {0}, err[512] = {0};
    size_t nops = 0;
    CHECK_EQ(PARSE("x", "--help"), 1);
    CHECK_STR(out, "usage: weft t [options] X...\n"
                   "\n"
                   "options:\n"
                   "  -f, --flag               a flag\n"
                   "      --no-on              turns on off\n"
                   "  -n, --num N              a number\n"
                   "                           second line\n"
                   "      --size N             a size_t\n"
                   "      --big N              a 64-bit number\n"
                   "  -b, --bytes SIZE         bytes\n"
                   "  -s, --secs S             seconds\n"
                   "      --rate R             a rate above 0\n"
                   "      --str S              a string\n"
                   "  -i, --item X             repeatable\n"
                   "      --a-very-long-option-name VALUE\n"
                   "                           help on its own line\n"
                   "  -h, --help               this text\n"
                   "\n"
                   "tail\n");
    CHECK_STR(err, "");
}
