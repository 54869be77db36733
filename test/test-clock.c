/* Deadlines, weft_sleep, weft_monotonic, error texts and messages. */
#include "test.h"
#include "cancel-internal.h"

#include <math.h>

TEST(monotonic_advances)
{
    double a = weft_monotonic();
    double b = weft_monotonic();
    CHECK(b >= a);
    CHECK(a > 0);
}

TEST(deadline_rejects_bad_timeouts)
{
    weft__deadline d;
    CHECK_RC(weft__deadline_init(&d, NAN), EINVAL);
    CHECK_RC(weft__deadline_init(&d, -0.5), EINVAL);
    CHECK_RC(weft__deadline_init(&d, -2.0), EINVAL);
    CHECK_OK(weft__deadline_init(&d, WEFT_FOREVER));
    CHECK(d.forever);
    CHECK(!weft__deadline_passed(&d));
    CHECK(weft__deadline_remaining(&d) == WEFT_FOREVER);
}

TEST(deadline_zero_has_passed)
{
    weft__deadline d;
    CHECK_OK(weft__deadline_init(&d, 0));
    CHECK(weft__deadline_passed(&d));
    CHECK(weft__deadline_remaining(&d) == 0);
}

TEST(deadline_huge_saturates)
{
    weft__deadline d;
    CHECK_OK(weft__deadline_init(&d, 1e300));
    CHECK(!d.forever);
    CHECK(d.at.tv_sec > 0); /* no overflow into the past */
    CHECK(!weft__deadline_passed(&d));
    CHECK(weft__deadline_remaining(&d) > 1e9);
    CHECK_OK(weft__deadline_init(&d, INFINITY));
    CHECK(d.at.tv_sec > 0);
    CHECK(!weft__deadline_passed(&d));
}

TEST(timed_cond_wait_not_early)
{
    pthread_mutex_t m;
    pthread_cond_t c;
    weft__mutex_init(&m);
    weft__cond_init(&c);
    weft__deadline d;
    CHECK_OK(weft__deadline_init(&d, 0.05));
    double t0 = weft_monotonic();
    weft__lock(&m);
    int rc = 0;
    while (rc != ETIMEDOUT)
        rc = weft__cond_wait(&c, &m, &d);
    weft__unlock(&m);
    CHECK(weft_monotonic() - t0 >= 0.05 - 1e-3);
    pthread_cond_destroy(&c);
    pthread_mutex_destroy(&m);
}

TEST(sleep_not_early_and_rejects_bad)
{
    double t0 = weft_monotonic();
    CHECK_OK(weft_sleep(0.02));
    CHECK(weft_monotonic() - t0 >= 0.02 - 1e-3);
    CHECK_OK(weft_sleep(0));
    CHECK_RC(weft_sleep(NAN), EINVAL);
    CHECK_RC(weft_sleep(-1), EINVAL);
    CHECK_RC(weft_sleep(WEFT_FOREVER), EINVAL);
}

TEST(cancelled_false_outside_tasks)
{
    CHECK(!weft_cancelled());
}

static void *request_later(void *arg)
{
    /* Cancel the sleeper; it may not have started sleeping yet, and the
     * flag alone must still make it return. */
    weft__cancel_request(arg);
    return NULL;
}

TEST(sleep_is_cancellable)
{
    weft__cancel tok;
    weft__cancel_init(&tok);
    weft__cancel_swap(&tok);
    pthread_t th;
    CHECK_OK(pthread_create(&th, NULL, request_later, &tok));
    double t0 = weft_monotonic();
    CHECK_RC(weft_sleep(60), ECANCELED);
    CHECK(weft_monotonic() - t0 < 30);
    CHECK(weft_cancelled());
    pthread_join(th, NULL);
    weft__cancel_swap(NULL);
    CHECK(!weft_cancelled());
    weft__cancel_destroy(&tok);
}

TEST(strerror_texts)
{
    CHECK_STR(weft_strerror(0), "success");
    CHECK_STR(weft_strerror(ETIMEDOUT), "timed out");
    CHECK(strcmp(weft_strerror(WEFT_EFAILED), weft_strerror(ETIMEDOUT)) != 0);
    CHECK(strcmp(weft_strerror(WEFT_EBROKEN), weft_strerror(EINVAL)) != 0);
    CHECK(weft_strerror(ENOENT) != NULL);
    CHECK(weft_strerror(123456) != NULL);
    CHECK(weft_strerror(-1) != NULL);
}

TEST(fail_message_is_attached_to_its_code_only)
{
    weft__error_clear();
    CHECK_EQ(weft_fail(EIO, "GET %s: %d", "/x", 500), EIO);
    char *m = weft__error_take(EIO);
    CHECK_STR(m, "GET /x: 500");
    weft__free(m);
    /* Taken once: the next failure without a message gets the plain text. */
    m = weft__error_take(EIO);
    CHECK_STR(m, weft_strerror(EIO));
    weft__free(m);
    /* A message set for another code is not attached. */
    weft_fail(EPIPE, "pipe");
    m = weft__error_take(ENOENT);
    CHECK_STR(m, weft_strerror(ENOENT));
    weft__free(m);
}

static int hook_calls;
static char hook_line[256];
static void hook(const char *who, int code, const char *message, void *ud)
{
    hook_calls++;
    snprintf(hook_line, sizeof hook_line, "%s|%d|%s|%s", who, code, message, (char *)ud);
}

TEST(error_hook_receives_reports)
{
    weft_set_error_hook(hook, "ud");
    weft_report_unhandled("Thread-1", EIO, "boom");
    CHECK_EQ(hook_calls, 1);
    CHECK_STR(hook_line, "Thread-1|5|boom|ud");
    weft_report_unhandled(NULL, EIO, NULL);
    CHECK_EQ(hook_calls, 2);
    weft_set_error_hook(NULL, NULL);
}

TEST(alloc_fault_injection)
{
    weft__alloc_fail_after(1);
    void *a = weft__malloc(8);
    void *b = weft__malloc(8);
    CHECK(a != NULL);
    CHECK(b == NULL);
    CHECK_EQ(weft__alloc_count(), 2);
    weft__alloc_fail_reset();
    b = weft__malloc(8);
    CHECK(b != NULL);
    weft__free(a);
    weft__free(b);
}
