/* weft_thread: start/join, results and errors, names and idents, unhandled
 * errors, stack sizes, fault injection, cancellation, many joiners and
 * stress. The rest is in test-thread-exit.c. */
#include "cancel-internal.h"
#include "test.h"
#include "error-internal.h"

#include <fcntl.h>
#include <link.h>
#include <math.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------ basics */

/* The seeds' download example: three threads, each "downloads" a file and
 * reports its size; the results are read after join. */
typedef struct download {
    const char *file;
    int seconds;
    size_t bytes;
} download;

static int download_fn(void *arg, void **result)
{
    download *d = arg;
    d->bytes = strlen(d->file) * 1000u + (size_t)d->seconds;
    *result = d;
    return 0;
}

TEST(start_join_download_example)
{
    download d[3] = {{"video.mp4", 3, 0}, {"music.mp3", 2, 0}, {"photo.jpg", 1, 0}};
    weft_thread *t[3];
    for (int i = 0; i < 3; i++)
        CHECK_OK(weft_thread_start(&t[i], download_fn, &d[i], NULL));
    for (int i = 0; i < 3; i++) {
        CHECK_OK(weft_thread_join(t[i], WEFT_FOREVER));
        CHECK(!weft_thread_is_alive(t[i]));
        CHECK(weft_thread_result(t[i]) == &d[i]);
        CHECK_EQ(weft_thread_error(t[i], NULL), 0);
        CHECK_EQ(d[i].bytes, strlen(d[i].file) * 1000u + (size_t)d[i].seconds);
    }
    for (int i = 0; i < 3; i++)
        weft_thread_free(t[i]);
}

static int fail_boom(void *arg, void **result)
{
    *result = arg; /* ignored: a failed thread has no result */
    return weft_fail(EIO, "boom %d", 7);
}

/* Options for a thread whose error the test reads itself. */
static const weft_thread_opts collect = {.collect_error = true};

TEST(error_and_message_after_join)
{
    weft_thread *t;
    int x;
    CHECK_OK(weft_thread_start(&t, fail_boom, &x, &collect));
    CHECK_OK(weft_thread_join(t, WEFT_FOREVER));
    const char *msg = NULL;
    CHECK_EQ(weft_thread_error(t, &msg), EIO);
    CHECK_STR(msg, "boom 7");
    CHECK(weft_thread_result(t) == NULL);
    CHECK_EQ(weft_thread_error(t, NULL), EIO);
    weft_thread_free(t);
}

static int fail_plain_ok(void *arg, void **result)
{
    return 0;
}

static int fail_plain(void *arg, void **result)
{
    /* A message left over from earlier code must not leak into this thread. */
    return ENOENT;
}

TEST(error_without_message_gets_code_text)
{
    weft_thread *t;
    CHECK_OK(weft_thread_start(&t, fail_plain, NULL, &collect));
    CHECK_OK(weft_thread_join(t, WEFT_FOREVER));
    const char *msg = NULL;
    CHECK_EQ(weft_thread_error(t, &msg), ENOENT);
    CHECK_STR(msg, weft_strerror(ENOENT));
    weft_thread_free(t);
}

TEST(success_has_no_error)
{
    gate g = GATE_INIT;
    weft_thread *t;
    CHECK_OK(weft_thread_start(&t, wait_gate, &g, NULL));
    const char *msg = "x";
    /* Still running: no error, no result yet. */
    CHECK_EQ(weft_thread_error(t, &msg), 0);
    CHECK(msg == NULL);
    CHECK(weft_thread_result(t) == NULL);
    gate_open(&g);
    CHECK_OK(weft_thread_join(t, WEFT_FOREVER));
    msg = "x";
    CHECK_EQ(weft_thread_error(t, &msg), 0);
    CHECK(msg == NULL);
    CHECK(weft_thread_result(t) == &g);
    weft_thread_free(t);
}

TEST(start_rejects_bad_arguments)
{
    weft_thread *t = (weft_thread *)&t;
    CHECK_RC(weft_thread_start(&t, NULL, NULL, NULL), EINVAL);
    CHECK(t == (weft_thread *)&t);
    weft_thread_free(NULL);
}

TEST(join_timeout_not_early)
{
    gate g = GATE_INIT;
    weft_thread *t;
    CHECK_OK(weft_thread_start(&t, wait_gate, &g, NULL));
    CHECK_RC(weft_thread_join(t, 0), ETIMEDOUT);
    double t0 = weft_monotonic();
    CHECK_RC(weft_thread_join(t, 0.1), ETIMEDOUT);
    CHECK(weft_monotonic() - t0 >= 0.1 - 1e-3);
    CHECK(weft_thread_is_alive(t));
    CHECK_RC(weft_thread_join(t, NAN), EINVAL);
    CHECK_RC(weft_thread_join(t, -2), EINVAL);
    gate_open(&g);
    CHECK_OK(weft_thread_join(t, WEFT_FOREVER));
    CHECK_OK(weft_thread_join(t, 0)); /* joining again is fine */
    weft_thread_free(t);
}

TEST(is_alive_transitions)
{
    gate g = GATE_INIT;
    weft_thread *t;
    CHECK_OK(weft_thread_start(&t, wait_gate, &g, NULL));
    CHECK(weft_thread_is_alive(t));
    gate_open(&g);
    CHECK_OK(weft_thread_join(t, WEFT_FOREVER));
    CHECK(!weft_thread_is_alive(t));
    weft_thread_free(t);
}

/* ------------------------------------------------------------ names, idents */

typedef struct seen {
    char name[64];
    char comm[32];
    unsigned long tid;
    unsigned long current_ident;
} seen;

static void read_comm(unsigned long tid, char *out, size_t n)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%lu/comm", tid);
    out[0] = '\0';
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return;
    ssize_t k = read(fd, out, n - 1);
    close(fd);
    if (k < 0)
        k = 0;
    out[k] = '\0';
    char *nl = strchr(out, '\n');
    if (nl)
        *nl = '\0';
}

static int look(void *arg, void **result)
{
    seen *s = arg;
    snprintf(s->name, sizeof s->name, "%s", weft_thread_current_name());
    s->tid = (unsigned long)gettid();
    s->current_ident = weft_thread_current_ident();
    read_comm(s->tid, s->comm, sizeof s->comm);
    return 0;
}

static weft_thread *run_look(seen *s, const weft_thread_opts *o)
{
    weft_thread *t;
    CHECK_OK(weft_thread_start(&t, look, s, o));
    CHECK_OK(weft_thread_join(t, WEFT_FOREVER));
    return t;
}

TEST(default_names_count_up)
{
    seen a = {0}, b = {0};
    weft_thread *ta = run_look(&a, NULL);
    weft_thread *tb = run_look(&b, NULL);
    unsigned na = 0, nb = 0;
    CHECK_EQ(sscanf(weft_thread_name(ta), "Thread-%u", &na), 1);
    CHECK_EQ(sscanf(weft_thread_name(tb), "Thread-%u", &nb), 1);
    CHECK(nb > na);
    CHECK_STR(a.name, weft_thread_name(ta));
    CHECK_STR(a.comm, weft_thread_name(ta));
    weft_thread_free(ta);
    weft_thread_free(tb);
}

TEST(custom_name_and_truncated_os_name)
{
    seen s = {0};
    weft_thread_opts o = {.name = "downloader-number-seven"};
    weft_thread *t = run_look(&s, &o);
    CHECK_STR(weft_thread_name(t), "downloader-number-seven");
    CHECK_STR(s.name, "downloader-number-seven");
    CHECK_STR(s.comm, "downloader-numb"); /* the first 15 bytes */
    weft_thread_free(t);

    /* 14 ASCII bytes then a 2-byte character: the OS name must not end in
     * half a character. */
    seen u = {0};
    o.name = "abcdefghijklmn\xc3\xa9xyz";
    t = run_look(&u, &o);
    CHECK_STR(u.comm, "abcdefghijklmn");
    weft_thread_free(t);
}

TEST(ident_is_the_thread_tid)
{
    seen s = {0};
    weft_thread *t;
    gate g = GATE_INIT;
    CHECK_OK(weft_thread_start(&t, wait_gate, &g, NULL));
    gate_open(&g);
    CHECK_OK(weft_thread_join(t, WEFT_FOREVER));
    CHECK(weft_thread_ident(t) != 0);
    CHECK(weft_thread_ident(t) != (unsigned long)gettid());
    weft_thread_free(t);

    t = run_look(&s, NULL);
    CHECK_EQ(weft_thread_ident(t), s.tid);
    CHECK_EQ(s.current_ident, s.tid);
    CHECK_EQ(weft_thread_current_ident(), (unsigned long)gettid());
    weft_thread_free(t);
}

static void *raw_look(void *arg)
{
    look(arg, &(void *){NULL});
    return NULL;
}

TEST(current_name_of_foreign_threads)
{
    /* Each case runs in a child forked from the runner's main thread. */
    CHECK_STR(weft_thread_current_name(), "MainThread");
    seen s = {0};
    pthread_t th;
    CHECK_OK(pthread_create(&th, NULL, raw_look, &s));
    pthread_join(th, NULL);
    char want[64];
    snprintf(want, sizeof want, "Dummy-%lu", s.tid);
    CHECK_STR(s.name, want);
}

static int rename_self(void *arg, void **result)
{
    seen *s = arg;
    CHECK_RC(weft_thread_set_current_name(NULL), EINVAL);
    CHECK_OK(weft_thread_set_current_name("first"));
    CHECK_OK(weft_thread_set_current_name("renamed-worker-thread"));
    return look(s, result);
}

static void *raw_rename(void *arg)
{
    rename_self(arg, &(void *){NULL});
    return NULL;
}

TEST(set_current_name_renames_in_os)
{
    seen s = {0};
    weft_thread *t;
    weft_thread_opts o = {.name = "orig"};
    CHECK_OK(weft_thread_start(&t, rename_self, &s, &o));
    CHECK_OK(weft_thread_join(t, WEFT_FOREVER));
    CHECK_STR(s.name, "renamed-worker-thread");
    CHECK_STR(s.comm, "renamed-worker-");
    /* The handle keeps the name it was started with. */
    CHECK_STR(weft_thread_name(t), "orig");
    weft_thread_free(t);

    /* Threads weft did not start can be renamed too (and the copy is freed
     * when they end: ASan checks). */
    seen r = {0};
    pthread_t th;
    CHECK_OK(pthread_create(&th, NULL, raw_rename, &r));
    pthread_join(th, NULL);
    CHECK_STR(r.name, "renamed-worker-thread");
    CHECK_STR(r.comm, "renamed-worker-");
}

/* ------------------------------------------------------------ self-join */

typedef struct selfjoin {
    gate ready;
    weft_thread *t;
    int rc;
} selfjoin;

static int join_self(void *arg, void **result)
{
    selfjoin *sj = arg;
    gate_wait(&sj->ready);
    sj->rc = weft_thread_join(sj->t, WEFT_FOREVER);
    return 0;
}

TEST(self_join_is_edeadlk)
{
    selfjoin sj = {GATE_INIT, NULL, -1};
    CHECK_OK(weft_thread_start(&sj.t, join_self, &sj, NULL));
    gate_open(&sj.ready);
    CHECK_OK(weft_thread_join(sj.t, WEFT_FOREVER));
    CHECK_EQ(sj.rc, EDEADLK);
    weft_thread_free(sj.t);
}

/* ------------------------------------------------------------ unhandled errors */

static struct {
    pthread_mutex_t m;
    pthread_cond_t c;
    int calls;
    char who[64];
    int code;
    char message[128];
} hooked = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, "", 0, ""};

static void hook(const char *who, int code, const char *message, void *ud)
{
    pthread_mutex_lock(&hooked.m);
    hooked.calls++;
    snprintf(hooked.who, sizeof hooked.who, "%s", who);
    hooked.code = code;
    snprintf(hooked.message, sizeof hooked.message, "%s", message);
    pthread_cond_broadcast(&hooked.c);
    pthread_mutex_unlock(&hooked.m);
}

static int hook_calls(void)
{
    pthread_mutex_lock(&hooked.m);
    int n = hooked.calls;
    pthread_mutex_unlock(&hooked.m);
    return n;
}

/* Python's excepthook: the failure is reported on the failing thread as it
 * ends, before join returns, naming the thread, whatever becomes of the
 * handle (here it is kept). The error stays readable; nothing more is
 * reported when the handle goes. */
TEST(failure_reported_as_the_thread_ends)
{
    weft_set_error_hook(hook, NULL);
    weft_thread_opts o = {.name = "fetcher"};
    weft_thread *t;
    CHECK_OK(weft_thread_start(&t, fail_boom, NULL, &o));
    CHECK_OK(weft_thread_join(t, WEFT_FOREVER));
    CHECK_EQ(hook_calls(), 1);
    CHECK_STR(hooked.who, "fetcher");
    CHECK_EQ(hooked.code, EIO);
    CHECK_STR(hooked.message, "boom 7");
    const char *msg = NULL;
    CHECK_EQ(weft_thread_error(t, &msg), EIO);
    CHECK_STR(msg, "boom 7");
    weft_thread_free(t);
    CHECK_EQ(hook_calls(), 1);

    /* A success is not reported. */
    CHECK_OK(weft_thread_start(&t, fail_plain_ok, NULL, &o));
    CHECK_OK(weft_thread_join(t, WEFT_FOREVER));
    weft_thread_free(t);
    CHECK_EQ(hook_calls(), 1);
    weft_set_error_hook(NULL, NULL);
}

/* collect_error: the creator reads the error after join; it is reported only
 * when the last handle is freed with it unread. */
TEST(collected_error_reported_when_last_handle_freed_unread)
{
    weft_set_error_hook(hook, NULL);
    weft_thread_opts o = {.name = "collector", .collect_error = true};
    weft_thread *t;
    CHECK_OK(weft_thread_start(&t, fail_boom, NULL, &o));
    CHECK_OK(weft_thread_join(t, WEFT_FOREVER));
    CHECK_EQ(hook_calls(), 0);
    weft_thread *again = weft_thread_ref(t);
    CHECK(again == t);
    weft_thread_free(t);
    CHECK_EQ(hook_calls(), 0); /* one handle left */
    weft_thread_free(again);
    CHECK_EQ(hook_calls(), 1);
    CHECK_STR(hooked.who, "collector");
    CHECK_EQ(hooked.code, EIO);
    CHECK_STR(hooked.message, "boom 7");

    /* Read errors are handled: nothing more is reported. */
    CHECK_OK(weft_thread_start(&t, fail_boom, NULL, &o));
    CHECK_OK(weft_thread_join(t, WEFT_FOREVER));
    CHECK_EQ(weft_thread_error(t, NULL), EIO);
    weft_thread_free(t);
    CHECK_EQ(hook_calls(), 1);
    weft_set_error_hook(NULL, NULL);
}

typedef struct late_fail {
    gate go;
    bool fail;
} late_fail;

static int fail_after_gate(void *arg, void **result)
{
    late_fail *lf = arg;
    gate_wait(&lf->go);
    return lf->fail ? weft_fail(ECONNRESET, "peer went away") : 0;
}

TEST(detached_thread_failure_reported)
{
    weft_set_error_hook(hook, NULL);
    late_fail lf = {GATE_INIT, true};
    weft_thread_opts o = {.name = "detached"};
    weft_thread *t;
    CHECK_OK(weft_thread_start(&t, fail_after_gate, &lf, &o));
    weft_thread_free(t); /* still running: detached */
    CHECK_EQ(hook_calls(), 0);
    gate_open(&lf.go);
    pthread_mutex_lock(&hooked.m);
    while (hooked.calls == 0)
        pthread_cond_wait(&hooked.c, &hooked.m);
    pthread_mutex_unlock(&hooked.m);
    CHECK_EQ(hooked.calls, 1);
    CHECK_STR(hooked.who, "detached");
    CHECK_EQ(hooked.code, ECONNRESET);
    CHECK_STR(hooked.message, "peer went away");
    weft_set_error_hook(NULL, NULL);
}

TEST(detached_collected_failure_reported_at_end)
{
    weft_set_error_hook(hook, NULL);
    late_fail lf = {GATE_INIT, true};
    weft_thread_opts o = {.name = "detached", .collect_error = true};
    weft_thread *t;
    CHECK_OK(weft_thread_start(&t, fail_after_gate, &lf, &o));
    weft_thread_free(t); /* still running: detached, nobody can read it */
    CHECK_EQ(hook_calls(), 0);
    gate_open(&lf.go);
    pthread_mutex_lock(&hooked.m);
    while (hooked.calls == 0)
        pthread_cond_wait(&hooked.c, &hooked.m);
    pthread_mutex_unlock(&hooked.m);
    CHECK_EQ(hooked.calls, 1);
    CHECK_STR(hooked.who, "detached");
    CHECK_EQ(hooked.code, ECONNRESET);
    weft_set_error_hook(NULL, NULL);
}

static atomic_int detached_done;

static int succeed_and_count(void *arg, void **result)
{
    gate_wait(arg);
    atomic_fetch_add(&detached_done, 1);
    return 0;
}

TEST(detached_success_not_reported)
{
    weft_set_error_hook(hook, NULL);
    gate g = GATE_INIT;
    weft_thread *t, *t2;
    CHECK_OK(weft_thread_start(&t, succeed_and_count, &g, NULL));
    weft_thread_free(t);
    /* A second thread, joined, that finishes after the detached one. */
    CHECK_OK(weft_thread_start(&t2, wait_gate, &g, NULL));
    gate_open(&g);
    CHECK_OK(weft_thread_join(t2, WEFT_FOREVER));
    weft_thread_free(t2);
    while (atomic_load(&detached_done) == 0)
        sched_yield();
    CHECK_EQ(hook_calls(), 0);
    weft_set_error_hook(NULL, NULL);
}

/* ------------------------------------------------------------ stacks */

TEST(stack_size_honoured)
{
    size_t got = 0;
    weft_thread_opts o = {.stack_size = 256 * 1024 + 1};
    weft_thread *t;
    CHECK_OK(weft_thread_start(&t, stack_probe, &got, &o));
    CHECK_OK(weft_thread_join(t, WEFT_FOREVER));
    CHECK_EQ(weft_thread_error(t, NULL), 0);
    CHECK(got >= 256 * 1024 + 1);
    CHECK(got < 8 * 1024 * 1024); /* not the 8 MiB default */
    weft_thread_free(t);

    /* A tiny request is rounded up to the minimum and works. */
    o.stack_size = 1;
    CHECK_OK(weft_thread_start(&t, stack_probe, &got, &o));
    CHECK_OK(weft_thread_join(t, WEFT_FOREVER));
    CHECK_EQ(weft_thread_error(t, NULL), 0);
    CHECK(got >= (size_t)PTHREAD_STACK_MIN);
    weft_thread_free(t);
}

/* ------------------------------------------------------------ fault injection */

static atomic_int fi_runs;

static int count_run(void *arg, void **result)
{
    atomic_fetch_add(&fi_runs, 1);
    return 0;
}

TEST(start_under_fault_injection)
{
    weft_thread_opts named = {.name = "fi"};
    for (int pass = 0; pass < 2; pass++) {
        atomic_store(&fi_runs, 0);
        for (long n = 0;; n++) {
            weft_thread *t = NULL;
            weft__alloc_fail_after(n);
            int rc = weft_thread_start(&t, count_run, NULL, pass ? &named : NULL);
            weft__alloc_fail_reset();
            if (rc == 0) {
                CHECK_OK(weft_thread_join(t, WEFT_FOREVER));
                weft_thread_free(t);
                break;
            }
            CHECK_RC(rc, ENOMEM);
            CHECK(t == NULL);
            CHECK(n < 100);
        }
        /* Only the successful start ever ran fn: no thread was left behind. */
        CHECK_EQ(atomic_load(&fi_runs), 1);
    }
}

/* ------------------------------------------------------------ cancellation */

static void *cancel_soon(void *arg)
{
    weft__cancel_request(arg);
    return NULL;
}

TEST(join_is_cancellable)
{
    gate g = GATE_INIT;
    weft_thread *t;
    CHECK_OK(weft_thread_start(&t, wait_gate, &g, NULL));
    weft__cancel tok;
    weft__cancel_init(&tok);
    weft__cancel_swap(&tok);
    pthread_t th;
    CHECK_OK(pthread_create(&th, NULL, cancel_soon, &tok));
    CHECK_RC(weft_thread_join(t, WEFT_FOREVER), ECANCELED);
    pthread_join(th, NULL);
    weft__cancel_swap(NULL);
    weft__cancel_destroy(&tok);
    CHECK(weft_thread_is_alive(t));
    gate_open(&g);
    CHECK_OK(weft_thread_join(t, WEFT_FOREVER));
    weft_thread_free(t);
}

/* ------------------------------------------------------------ many joiners, stress */

typedef struct joiner {
    weft_thread *t;
    pthread_barrier_t *b;
    int rc;
    bool saw_dead;
} joiner;

static void *join_it(void *arg)
{
    joiner *j = arg;
    pthread_barrier_wait(j->b);
    j->rc = weft_thread_join(j->t, WEFT_FOREVER);
    j->saw_dead = !weft_thread_is_alive(j->t);
    return NULL;
}

TEST(many_joiners_of_one_thread)
{
    enum { N = 8 };
    gate g = GATE_INIT;
    weft_thread *t;
    CHECK_OK(weft_thread_start(&t, wait_gate, &g, NULL));
    pthread_barrier_t b;
    pthread_barrier_init(&b, NULL, N + 1);
    joiner j[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        j[i] = (joiner){t, &b, -1, false};
        CHECK_OK(pthread_create(&th[i], NULL, join_it, &j[i]));
    }
    pthread_barrier_wait(&b);
    gate_open(&g);
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ(j[i].rc, 0);
        CHECK(j[i].saw_dead);
    }
    pthread_barrier_destroy(&b);
    CHECK(weft_thread_result(t) == &g);
    weft_thread_free(t);
}

static atomic_long stress_sum;

static int add_arg(void *arg, void **result)
{
    atomic_fetch_add(&stress_sum, (long)(intptr_t)arg);
    *result = arg;
    return (intptr_t)arg % 7 == 0 ? weft_fail(EIO, "seven %ld", (long)(intptr_t)arg) : 0;
}

typedef struct starter {
    pthread_barrier_t *b;
    int base;
    int n;
    int bad;
} starter;

static void *start_many(void *arg)
{
    starter *s = arg;
    pthread_barrier_wait(s->b);
    for (int i = 0; i < s->n; i += 4) {
        weft_thread *t[4];
        int k = 0;
        for (; k < 4 && i + k < s->n; k++) {
            weft_thread_opts o = {.daemon = (k & 1) ? WEFT_DAEMON_YES : WEFT_DAEMON_NO,
                                  .stack_size = 64 * 1024,
                                  .collect_error = true};
            if (weft_thread_start(&t[k], add_arg, (void *)(intptr_t)(s->base + i + k), &o)) {
                s->bad++;
                return NULL;
            }
        }
        for (int m = 0; m < k; m++) {
            intptr_t v = s->base + i + m;
            if (weft_thread_join(t[m], WEFT_FOREVER) != 0)
                s->bad++;
            const char *msg;
            int code = weft_thread_error(t[m], &msg);
            if (v % 7 == 0) {
                char want[32];
                snprintf(want, sizeof want, "seven %ld", (long)v);
                if (code != EIO || strcmp(msg, want) != 0 || weft_thread_result(t[m]))
                    s->bad++;
            } else if (code != 0 || weft_thread_result(t[m]) != (void *)v) {
                s->bad++;
            }
            /* Free some before joining would matter: the rest after. */
            weft_thread_free(t[m]);
        }
    }
    return NULL;
}

TEST_T(stress_start_join_from_many_threads, 20)
{
    enum { S = 4, PER = 150 };
    pthread_barrier_t b;
    pthread_barrier_init(&b, NULL, S);
    pthread_t th[S];
    starter s[S];
    for (int i = 0; i < S; i++) {
        s[i] = (starter){&b, 1 + i * PER, PER, 0};
        CHECK_OK(pthread_create(&th[i], NULL, start_many, &s[i]));
    }
    long want = 0;
    for (int i = 1; i <= S * PER; i++)
        want += i;
    for (int i = 0; i < S; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ(s[i].bad, 0);
    }
    CHECK_EQ(atomic_load(&stress_sum), want);
    pthread_barrier_destroy(&b);
}
