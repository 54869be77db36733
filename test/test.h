/* test.h: the tiny test harness shared by every test/test-*.c.
 *
 * DESIGN: each TEST() registers itself before main (a constructor). The runner
 * (runner.c) forks one child per case, so a crash or a leaked lock in one case
 * cannot poison the next, and arms a watchdog in the child: SIGALRM after
 * test_timeout() seconds kills it, so a deadlock fails the case instead of
 * hanging CI. WEFT_TEST_TIMEOUT_SCALE multiplies every limit (sanitizers are
 * slower); WEFT_TEST_NOFORK=1 runs cases in-process, for gdb.
 *
 * Checks print file:line and the failed expression, then end the case.
 * Nothing here sleeps to synchronise: use events, semaphores or barriers.
 */
#ifndef WEFT_TEST_H
#define WEFT_TEST_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void test_fn(void);
void test_register(const char *name, test_fn *fn, unsigned timeout_s);
void test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));
/* Seconds the watchdog allows per case, times WEFT_TEST_TIMEOUT_SCALE. */
double test_scale(void);

#define TEST_DEFAULT_TIMEOUT 10

/* TEST(name) { ... } with the default watchdog; TEST_T(name, secs) to set it. */
#define TEST_T(name, secs)                                                                         \
    static void test_##name(void);                                                                 \
    __attribute__((constructor)) static void test_reg_##name(void)                                 \
    {                                                                                              \
        test_register(#name, test_##name, (secs));                                                 \
    }                                                                                              \
    static void test_##name(void)
#define TEST(name) TEST_T(name, TEST_DEFAULT_TIMEOUT)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                                     \
    } while (0)

#define CHECK_INT(a, op, b)                                                                        \
    do {                                                                                           \
        long long test_a_ = (long long)(a), test_b_ = (long long)(b);                              \
        if (!(test_a_ op test_b_))                                                                 \
            test_fail(__FILE__, __LINE__, "CHECK_INT(%s %s %s): %lld vs %lld", #a, #op, #b,        \
                      test_a_, test_b_);                                                           \
    } while (0)
#define CHECK_EQ(a, b) CHECK_INT(a, ==, b)

/* An int-returning weft call that must give code `want` (0 = success). */
#define CHECK_RC(call, want)                                                                       \
    do {                                                                                           \
        int test_rc_ = (call);                                                                     \
        if (test_rc_ != (want))                                                                    \
            test_fail(__FILE__, __LINE__, "%s returned %d (%s), wanted %d", #call, test_rc_,       \
                      strerror(test_rc_), (int)(want));                                            \
    } while (0)
#define CHECK_OK(call) CHECK_RC(call, 0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *test_a_ = (a), *test_b_ = (b);                                                 \
        if (!test_a_ || !test_b_ || strcmp(test_a_, test_b_) != 0)                                 \
            test_fail(__FILE__, __LINE__, "CHECK_STR(%s, %s): \"%s\" vs \"%s\"", #a, #b,           \
                      test_a_ ? test_a_ : "(null)", test_b_ ? test_b_ : "(null)");                 \
    } while (0)

#endif
