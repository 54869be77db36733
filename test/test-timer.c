/* weft_timer: fires after its delay, cancel before and after firing, the
 * timer thread's result and error, free, fault injection. */
#include "test.h"
#include "base-internal.h"

#include <math.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct shot {
    pthread_mutex_t m;
    pthread_cond_t c;
    bool started;
    bool release;
    double at;
    char name[64];
    int fail;
} shot;
#define SHOT_INIT                                                                                  \
    {                                                                                              \
        PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, true, 0, "", 0                 \
    }

static int fire(void *arg, void **result)
{
    shot *s = arg;
    pthread_mutex_lock(&s->m);
    s->at = weft_monotonic();
    snprintf(s->name, sizeof s->name, "%s", weft_thread_current_name());
    s->started = true;
    pthread_cond_broadcast(&s->c);
    while (!s->release)
        pthread_cond_wait(&s->c, &s->m);
    pthread_mutex_unlock(&s->m);
    *result = s;
    return s->fail ? weft_fail(s->fail, "late by %d", 3) : 0;
}

TEST(fires_after_delay_not_early)
{
    shot s = SHOT_INIT;
    weft_timer *t;
    double t0 = weft_monotonic();
    CHECK_OK(weft_timer_start(&t, 0.05, fire, &s, NULL));
    CHECK_OK(weft_timer_join(t, WEFT_FOREVER));
    CHECK(s.started);
    CHECK(s.at - t0 >= 0.05 - 1e-3);
    weft_thread *th = weft_timer_thread(t);
    CHECK(weft_thread_result(th) == &s);
    CHECK_EQ(weft_thread_error(th, NULL), 0);
    CHECK_RC(weft_timer_cancel(t), EALREADY);
    weft_timer_free(t);
}

TEST(zero_delay_fires)
{
    shot s = SHOT_INIT;
    weft_timer *t;
    CHECK_OK(weft_timer_start(&t, 0, fire, &s, NULL));
    CHECK_OK(weft_timer_join(t, WEFT_FOREVER));
    CHECK(s.started);
    weft_timer_free(t);
}

TEST(cancel_before_firing_ends_promptly)
{
    shot s = SHOT_INIT;
    weft_timer *t;
    CHECK_OK(weft_timer_start(&t, 60, fire, &s, NULL));
    /* Still waiting: a short join times out. */
    CHECK_RC(weft_timer_join(t, 0.01), ETIMEDOUT);
    double t0 = weft_monotonic();
    CHECK_OK(weft_timer_cancel(t));
    /* The thread is woken at once, not after 60 s. */
    CHECK_OK(weft_timer_join(t, 30));
    CHECK(weft_monotonic() - t0 < 30);
    CHECK(!s.started);
    CHECK(!weft_thread_is_alive(weft_timer_thread(t)));
    CHECK(weft_thread_result(weft_timer_thread(t)) == NULL);
    CHECK_EQ(weft_thread_error(weft_timer_thread(t), NULL), 0);
    CHECK_OK(weft_timer_cancel(t)); /* still "will never run" */
    weft_timer_free(t);
}

TEST(cancel_after_fire_is_ealready)
{
    shot s = SHOT_INIT;
    s.release = false;
    weft_timer *t;
    CHECK_OK(weft_timer_start(&t, 0, fire, &s, NULL));
    pthread_mutex_lock(&s.m);
    while (!s.started)
        pthread_cond_wait(&s.c, &s.m);
    pthread_mutex_unlock(&s.m);
    /* fn is running (blocked): too late, and cancel does not wait for it. */
    CHECK_RC(weft_timer_cancel(t), EALREADY);
    CHECK(weft_thread_is_alive(weft_timer_thread(t)));
    pthread_mutex_lock(&s.m);
    s.release = true;
    pthread_cond_broadcast(&s.c);
    pthread_mutex_unlock(&s.m);
    CHECK_OK(weft_timer_join(t, WEFT_FOREVER));
    CHECK_RC(weft_timer_cancel(t), EALREADY);
    weft_timer_free(t);
}

TEST(error_and_name_of_the_timer_thread)
{
    shot s = SHOT_INIT;
    s.fail = EIO;
    weft_thread_opts o = {.name = "tick"};
    weft_timer *t;
    CHECK_OK(weft_timer_start(&t, 0.001, fire, &s, &o));
    CHECK_OK(weft_timer_join(t, WEFT_FOREVER));
    weft_thread *th = weft_timer_thread(t);
    CHECK_STR(weft_thread_name(th), "tick");
    CHECK_STR(s.name, "tick");
    const char *msg;
    CHECK_EQ(weft_thread_error(th, &msg), EIO);
    CHECK_STR(msg, "late by 3");
    CHECK(weft_thread_result(th) == NULL);
    weft_timer_free(t);
}

static struct {
    pthread_mutex_t m;
    int calls;
    char who[64];
} hooked = {PTHREAD_MUTEX_INITIALIZER, 0, ""};

static void hook(const char *who, int code, const char *message, void *ud)
{
    pthread_mutex_lock(&hooked.m);
    hooked.calls++;
    snprintf(hooked.who, sizeof hooked.who, "%s", who);
    pthread_mutex_unlock(&hooked.m);
}

TEST(unread_timer_error_reported_on_free)
{
    weft_set_error_hook(hook, NULL);
    shot s = SHOT_INIT;
    s.fail = EPIPE;
    weft_thread_opts o = {.name = "beat"};
    weft_timer *t;
    CHECK_OK(weft_timer_start(&t, 0, fire, &s, &o));
    CHECK_OK(weft_timer_join(t, WEFT_FOREVER));
    weft_timer_free(t);
    CHECK_EQ(hooked.calls, 1);
    CHECK_STR(hooked.who, "beat");
    weft_set_error_hook(NULL, NULL);
}

TEST(start_rejects_bad_arguments)
{
    weft_timer *t = NULL;
    shot s = SHOT_INIT;
    CHECK_RC(weft_timer_start(&t, 1, NULL, NULL, NULL), EINVAL);
    CHECK_RC(weft_timer_start(&t, NAN, fire, &s, NULL), EINVAL);
    CHECK_RC(weft_timer_start(&t, -1, fire, &s, NULL), EINVAL);
    CHECK_RC(weft_timer_start(&t, WEFT_FOREVER, fire, &s, NULL), EINVAL);
    CHECK(t == NULL);
    weft_timer_free(NULL);
}

static atomic_int fi_runs;

static int count_run(void *arg, void **result)
{
    atomic_fetch_add(&fi_runs, 1);
    return 0;
}

TEST(start_under_fault_injection)
{
    for (long n = 0;; n++) {
        weft_timer *t = NULL;
        weft__alloc_fail_after(n);
        int rc = weft_timer_start(&t, 0, count_run, NULL, NULL);
        weft__alloc_fail_reset();
        if (rc == 0) {
            CHECK_OK(weft_timer_join(t, WEFT_FOREVER));
            weft_timer_free(t);
            break;
        }
        CHECK_RC(rc, ENOMEM);
        CHECK(t == NULL);
        CHECK(n < 100);
    }
    CHECK_EQ(atomic_load(&fi_runs), 1);
}

/* Freeing a pending timer cancels it. Shown at process exit: the timer's
 * thread is non-daemon, so exit would wait out its 60 s delay (and the
 * watchdog would fire) if free had not cancelled and woken it. */
static int say_fired(void *arg, void **result)
{
    int fd = (int)(intptr_t)arg;
    if (write(fd, "fired\n", 6) < 0)
        return errno;
    return 0;
}

TEST(free_cancels_a_pending_timer)
{
    int fds[2];
    CHECK_OK(pipe(fds) == 0 ? 0 : errno);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        /* Our own watchdog: a hang must not outlive the test. */
        alarm((unsigned)(TEST_DEFAULT_TIMEOUT * test_scale()));
        close(fds[0]);
        weft_timer *t;
        if (weft_timer_start(&t, 60, say_fired, (void *)(intptr_t)fds[1], NULL))
            _exit(3);
        weft_timer_free(t);
        exit(0); /* joins the (cancelled) non-daemon timer thread */
    }
    close(fds[1]);
    char out[32] = "";
    ssize_t k = read(fds[0], out, sizeof out - 1);
    CHECK_EQ(k, 0); /* EOF: fn never ran */
    close(fds[0]);
    int status;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);
}

/* Many timers cancelled and fired concurrently: each fn runs iff its cancel
 * returned EALREADY. */
static atomic_int ran[64];

static int mark(void *arg, void **result)
{
    atomic_fetch_add(&ran[(intptr_t)arg], 1);
    return 0;
}

TEST_T(stress_cancel_races_firing, 20)
{
    enum { N = 64 };
    weft_timer *t[N];
    for (int i = 0; i < N; i++)
        CHECK_OK(weft_timer_start(&t[i], (i % 4) * 1e-4, mark, (void *)(intptr_t)i, NULL));
    int rc[N];
    for (int i = 0; i < N; i++)
        rc[i] = weft_timer_cancel(t[i]);
    for (int i = 0; i < N; i++) {
        CHECK_OK(weft_timer_join(t[i], WEFT_FOREVER));
        CHECK(rc[i] == 0 || rc[i] == EALREADY);
        CHECK_EQ(atomic_load(&ran[i]), rc[i] == EALREADY ? 1 : 0);
        weft_timer_free(t[i]);
    }
}

static int nothing_null_test(void *arg, void **result)
{
    return 0;
}

TEST(null_handles)
{
    CHECK_RC(weft_timer_start(NULL, 0, nothing_null_test, NULL, NULL), EINVAL);
    CHECK_RC(weft_timer_cancel(NULL), EINVAL);
    CHECK_RC(weft_timer_join(NULL, 0), EINVAL);
    CHECK(weft_timer_thread(NULL) == NULL);
    weft_timer_free(NULL);
}
