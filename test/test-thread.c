/* weft_thread: start/join, results and errors, names and idents, unhandled
 * errors, stack sizes, fault injection, exit-time joining, stress. */
#include "cancel-internal.h"
#include "test.h"
#include "error-internal.h"

#include <fcntl.h>
#include <link.h>
#include <math.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

static int wait_gate(void *arg, void **result)
{
    gate_wait(arg);
    *result = arg;
    return 0;
}

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

static int stack_probe(void *arg, void **result)
{
    size_t *size = arg;
    pthread_attr_t a;
    CHECK_OK(pthread_getattr_np(pthread_self(), &a));
    CHECK_OK(pthread_attr_getstacksize(&a, size));
    pthread_attr_destroy(&a);
    /* Use some of it. */
    volatile char buf[2048];
    memset((char *)buf, 1, sizeof buf);
    return buf[100] == 1 ? 0 : EIO;
}

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

static int free_race_fn(void *arg, void **result)
{
    return (intptr_t)arg ? weft_fail(EIO, "race") : 0;
}

static atomic_int race_reports;

static void count_hook(const char *who, int code, const char *message, void *ud)
{
    atomic_fetch_add(&race_reports, 1);
}

/* ------------------------------------------------------------ process exit */

static int exit_pipe = -1;
static gate exit_gate = GATE_INIT;

static int say_after_gate(void *arg, void **result)
{
    gate_wait(&exit_gate);
    /* Some work after main has returned. The test does not rely on its
     * length: with the exit-time join the order below is guaranteed, and
     * without it this makes the missing line near certain. */
    weft_sleep(0.02);
    const char *line = arg;
    if (write(exit_pipe, line, strlen(line)) < 0)
        return errno;
    return 0;
}

static int block_forever(void *arg, void **result)
{
    gate never = GATE_INIT;
    gate_wait(&never);
    return 0;
}

static int nothing(void *arg, void **result)
{
    return 0;
}

/* Runs after main returns, before weft's exit handler (it is registered
 * after it): only then may the non-daemon worker finish. */
static void open_exit_gate(void)
{
    gate_open(&exit_gate);
}

/* Forks a child that runs body() and returns from it with exit(0); returns
 * everything the child wrote to exit_pipe, and its exit status. */
static int run_child(void (*body)(void), char *out, size_t n)
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
        exit_pipe = fds[1];
        body();
        exit(0); /* as a return from main: runs atexit handlers */
    }
    close(fds[1]);
    size_t got = 0;
    ssize_t k;
    while (got + 1 < n && (k = read(fds[0], out + got, n - 1 - got)) > 0)
        got += (size_t)k;
    out[got] = '\0';
    close(fds[0]);
    int status;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    return status;
}

/* Registered before weft's exit handler, so it runs after it. */
static void say_main_exited(void)
{
    const char *line = "main exited\n";
    if (write(exit_pipe, line, strlen(line)) < 0)
        _exit(5);
}

static void nondaemon_body(void)
{
    weft_thread *t;
    atexit(say_main_exited);
    /* The first non-daemon start registers weft's exit handler. */
    if (weft_thread_start(&t, nothing, NULL, NULL))
        _exit(3);
    weft_thread_join(t, WEFT_FOREVER);
    weft_thread_free(t);
    atexit(open_exit_gate);
    if (weft_thread_start(&t, say_after_gate, "worker finished\n", NULL))
        _exit(3);
    weft_thread_free(t);
    weft_thread_opts d = {.daemon = true};
    if (weft_thread_start(&t, block_forever, NULL, &d))
        _exit(3);
    weft_thread_free(t);
}

TEST(exit_joins_nondaemon_not_daemon)
{
    char out[256];
    int status = run_child(nondaemon_body, out, sizeof out);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);
    CHECK_STR(out, "worker finished\nmain exited\n");
}

static int exit_from_thread(void *arg, void **result)
{
    const char *line = "exiting\n";
    if (write(exit_pipe, line, strlen(line)) < 0)
        return errno;
    exit(0);
}

static void exit_in_thread_body(void)
{
    weft_thread *t;
    if (weft_thread_start(&t, exit_from_thread, NULL, NULL))
        _exit(3);
    weft_thread_join(t, WEFT_FOREVER); /* never returns: the thread exits */
    _exit(4);
}

TEST(exit_from_a_weft_thread_does_not_wait_for_itself)
{
    char out[256];
    int status = run_child(exit_in_thread_body, out, sizeof out);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);
    CHECK_STR(out, "exiting\n");
}

/* Free racing with the thread's end, in both orders: every failure is
 * reported exactly once, and nothing is used after free (ASan/TSan). Run in
 * a child so that the count is taken after exit() has joined every
 * (non-daemon, freed) thread: a duplicate report arriving late still counts. */
enum { FREE_RACE_N = 400 };

static void say_race_reports(void)
{
    char line[32];
    int k = snprintf(line, sizeof line, "%d\n", atomic_load(&race_reports));
    if (write(exit_pipe, line, (size_t)k) < 0)
        _exit(5);
}

static void free_race_body(void)
{
    /* Registered before weft's exit handler, so it runs after the join. */
    atexit(say_race_reports);
    weft_set_error_hook(count_hook, NULL);
    for (int i = 0; i < FREE_RACE_N; i++) {
        weft_thread *t;
        if (weft_thread_start(&t, free_race_fn, (void *)(intptr_t)(i & 1), NULL))
            _exit(3);
        weft_thread_free(t);
    }
}

TEST_T(stress_free_races_thread_end, 20)
{
    char out[64], want[32];
    int status = run_child(free_race_body, out, sizeof out);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);
    snprintf(want, sizeof want, "%d\n", FREE_RACE_N / 2);
    CHECK_STR(out, want);
}

/* A child forked while a non-daemon thread runs does not have that thread:
 * its exit() must not wait for it. */
TEST(exit_after_fork_does_not_wait_for_parent_threads)
{
    gate g = GATE_INIT;
    weft_thread *t;
    CHECK_OK(weft_thread_start(&t, wait_gate, &g, NULL));
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        alarm((unsigned)(TEST_DEFAULT_TIMEOUT * test_scale()));
        exit(0);
    }
    int status;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);
    gate_open(&g);
    CHECK_OK(weft_thread_join(t, WEFT_FOREVER));
    weft_thread_free(t);
}

/* ------------------------------------------------------------ thread locals */

/* Python's join() returns once the thread's state is cleared, threading.local
 * values included; weft_local promises to destroy a thread's value "when that
 * thread ends". So a join (and the exit-time join) must not return while the
 * thread's weft_local destructors are still to run. */
static atomic_bool local_destroyed;

static void slow_local_dtor(void *ud, void *value)
{
    (void)ud;
    (void)value;
    /* Not synchronisation: a join that does not wait for this destructor
     * returns during this pause, whatever it lasts. */
    weft_sleep(0.05);
    if (exit_pipe >= 0) {
        const char *line = "value destroyed\n";
        if (write(exit_pipe, line, strlen(line)) < 0)
            _exit(6);
    }
    atomic_store(&local_destroyed, true);
}

static int set_local_value(void *arg, void **result)
{
    (void)result;
    return weft_local_set(arg, &local_destroyed);
}

TEST(join_waits_for_thread_local_destructors)
{
    weft_local *l;
    CHECK_OK(weft_local_new(&l, NULL, slow_local_dtor, NULL));
    weft_thread *t;
    CHECK_OK(weft_thread_start(&t, set_local_value, l, NULL));
    CHECK_OK(weft_thread_join(t, WEFT_FOREVER));
    CHECK(atomic_load(&local_destroyed));
    weft_thread_free(t);
    weft_local_free(l);
}

static int set_local_after_gate(void *arg, void **result)
{
    gate_wait(&exit_gate);
    return set_local_value(arg, result);
}

/* Static: the child exits with it in use, so it is never freed, and
 * LeakSanitizer must still see it as reachable. */
static weft_local *exit_local;

static void local_at_exit_body(void)
{
    weft_local *l;
    weft_thread *t;
    atexit(say_main_exited);
    if (weft_local_new(&exit_local, NULL, slow_local_dtor, NULL))
        _exit(3);
    l = exit_local;
    /* The first non-daemon start registers weft's exit handler. */
    if (weft_thread_start(&t, nothing, NULL, NULL))
        _exit(3);
    weft_thread_join(t, WEFT_FOREVER);
    weft_thread_free(t);
    atexit(open_exit_gate);
    if (weft_thread_start(&t, set_local_after_gate, l, NULL))
        _exit(3);
    weft_thread_free(t);
}

TEST(exit_waits_for_thread_local_destructors)
{
    char out[256];
    int status = run_child(local_at_exit_body, out, sizeof out);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);
    CHECK_STR(out, "value destroyed\nmain exited\n");
}

/* ------------------------------------------------------------ per-thread memory */

/* A thread's first failure message needs a buffer (allocated on first use):
 * that allocation must not be one that fault injection can fail, or a test
 * injecting faults elsewhere would lose the message of an unrelated
 * failure. One allowed allocation is left for the runner's copy. */
static int fail_under_injection(void *arg, void **result)
{
    weft__alloc_fail_after(1);
    return weft_fail(EIO, "first failure of %s", "this thread");
}

TEST(first_failure_message_survives_fault_injection)
{
    weft_thread *t;
    CHECK_OK(weft_thread_start(&t, fail_under_injection, NULL, &collect));
    CHECK_OK(weft_thread_join(t, WEFT_FOREVER));
    weft__alloc_fail_reset();
    const char *msg = NULL;
    CHECK_EQ(weft_thread_error(t, &msg), EIO);
    CHECK_STR(msg, "first failure of this thread");
    weft_thread_free(t);
}

/* On a thread weft did not start: messages are matched to their code, a
 * saved message survives a nested failure, and the buffer left at thread
 * exit is freed (LeakSanitizer would report it otherwise). */
static void *foreign_failures(void *arg)
{
    char **out = arg;
    weft__error_clear();
    weft_fail(EIO, "foreign %d", 1);
    out[0] = weft__error_take(EIO);
    weft_fail(EIO, "wrong code");
    out[1] = weft__error_take(EPERM);
    weft_fail(EIO, "kept");
    weft__error_saved s;
    weft__error_save(&s);
    out[2] = weft__error_take(EIO); /* save cleared it */
    weft_fail(ENOENT, "nested");
    weft__error_restore(&s);
    out[3] = weft__error_take(EIO);
    weft_fail(EIO, "left pending at exit");
    return NULL;
}

TEST(failure_messages_on_a_foreign_thread)
{
    char *out[4] = {0};
    pthread_t th;
    CHECK_OK(pthread_create(&th, NULL, foreign_failures, out));
    pthread_join(th, NULL);
    CHECK_STR(out[0], "foreign 1");
    CHECK_STR(out[1], weft_strerror(EPERM));
    CHECK_STR(out[2], weft_strerror(EIO));
    CHECK_STR(out[3], "kept");
    for (int i = 0; i < 4; i++)
        free(out[i]);
}

/* glibc zeroes a thread's static TLS block at every thread start, next to
 * the thread descriptor at the top of its stack: past a few hundred bytes
 * it costs a page per thread (10,000 threads: +40 MiB). Per-thread buffers
 * therefore live behind pointers. The executable links every module that
 * has thread-locals (the references below pull them in). Sanitizer
 * runtimes add their own TLS, so the bound holds for plain builds only. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif

#ifndef SANITIZED
static int main_tls(struct dl_phdr_info *info, size_t size, void *arg)
{
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_TLS)
            *(size_t *)arg = info->dlpi_phdr[i].p_memsz;
    return 1; /* the first object is the executable */
}
#endif

TEST(static_tls_stays_small)
{
    void *volatile modules[] = {(void *)weft_deadlock_set_mode, (void *)weft_executor_new,
                                (void *)weft_future_result,     (void *)weft_group_new,
                                (void *)weft_local_new,         (void *)weft_fail};
    (void)modules;
#ifndef SANITIZED
    size_t tls = 0;
    dl_iterate_phdr(main_tls, &tls);
    CHECK(tls > 0);
    CHECK(tls <= 512);
#endif
}

/* ------------------------------------------------------------ daemon inheritance */

typedef struct spawn_child {
    weft_thread_opts opts;
    bool child_daemon;
    int rc;
} spawn_child;

/* Starts a child with the given options from the calling thread and
 * records whether it came out a daemon. */
static int start_child(void *arg, void **result)
{
    spawn_child *sc = arg;
    weft_thread *c;
    sc->rc = weft_thread_start(&c, nothing, NULL, &sc->opts);
    if (sc->rc != 0)
        return 0;
    sc->child_daemon = weft_thread_is_daemon(c);
    weft_thread_join(c, WEFT_FOREVER);
    weft_thread_free(c);
    return 0;
}

static bool child_of(weft_daemon parent, weft_daemon child)
{
    spawn_child sc = {.opts = {.daemon = child}, .rc = -1};
    weft_thread_opts po = {.daemon = parent};
    weft_thread *t;
    CHECK_OK(weft_thread_start(&t, start_child, &sc, &po));
    CHECK_OK(weft_thread_join(t, WEFT_FOREVER));
    CHECK_EQ(weft_thread_is_daemon(t), parent == WEFT_DAEMON_YES);
    weft_thread_free(t);
    CHECK_OK(sc.rc);
    return sc.child_daemon;
}

static void *raw_start_child(void *arg)
{
    start_child(arg, &(void *){NULL});
    return NULL;
}

TEST(daemon_defaults_to_the_starting_threads_flag)
{
    /* From the main thread (each case runs on a forked child's main thread):
     * not a daemon, as in Python. */
    weft_thread *t;
    CHECK_OK(weft_thread_start(&t, nothing, NULL, NULL));
    CHECK(!weft_thread_is_daemon(t));
    CHECK_OK(weft_thread_join(t, WEFT_FOREVER));
    weft_thread_free(t);
    CHECK(!weft_thread_is_daemon(weft_thread_main()));

    CHECK(child_of(WEFT_DAEMON_YES, WEFT_DAEMON_INHERIT));
    CHECK(!child_of(WEFT_DAEMON_NO, WEFT_DAEMON_INHERIT));
    CHECK(!child_of(WEFT_DAEMON_YES, WEFT_DAEMON_NO));
    CHECK(child_of(WEFT_DAEMON_NO, WEFT_DAEMON_YES));
    /* `true` still means a daemon. */
    weft_thread_opts o = {.daemon = true};
    CHECK_OK(weft_thread_start(&t, nothing, NULL, &o));
    CHECK(weft_thread_is_daemon(t));
    CHECK_OK(weft_thread_join(t, WEFT_FOREVER));
    weft_thread_free(t);

    /* A thread weft did not start counts as non-daemon. */
    spawn_child sc = {.rc = -1};
    pthread_t th;
    CHECK_OK(pthread_create(&th, NULL, raw_start_child, &sc));
    pthread_join(th, NULL);
    CHECK_OK(sc.rc);
    CHECK(!sc.child_daemon);

    o.daemon = (weft_daemon)3;
    t = (weft_thread *)&t;
    CHECK_RC(weft_thread_start(&t, nothing, NULL, &o), EINVAL);
    CHECK(t == (weft_thread *)&t);
    CHECK(!weft_thread_is_daemon(NULL));
}

/* A daemon thread's child, started with {0}, is a daemon too: exit does not
 * wait for it, though it never ends. */
static int start_blocked_child(void *arg, void **result)
{
    weft_thread *c;
    if (weft_thread_start(&c, block_forever, NULL, NULL) != 0)
        return EIO;
    weft_thread_free(c);
    const char *line = "child started\n";
    if (write(exit_pipe, line, strlen(line)) < 0)
        return errno;
    return 0;
}

static void inherited_daemon_body(void)
{
    atexit(say_main_exited);
    weft_thread *t;
    weft_thread_opts d = {.daemon = WEFT_DAEMON_YES};
    if (weft_thread_start(&t, start_blocked_child, NULL, &d))
        _exit(3);
    if (weft_thread_join(t, WEFT_FOREVER) || weft_thread_error(t, NULL))
        _exit(4);
    weft_thread_free(t);
    /* A non-daemon start registers weft's exit handler, which must then not
     * wait for the blocked (inherited daemon) child. */
    if (weft_thread_start(&t, nothing, NULL, NULL))
        _exit(3);
    weft_thread_free(t);
}

TEST(exit_does_not_wait_for_an_inherited_daemon)
{
    char out[256];
    int status = run_child(inherited_daemon_body, out, sizeof out);
    CHECK(WIFEXITED(status)); /* not killed by the child's watchdog */
    CHECK_EQ(WEXITSTATUS(status), 0);
    CHECK_STR(out, "child started\nmain exited\n");
}

/* ------------------------------------------------------------ current, main, enumerate */

typedef struct whoami {
    gate go;
    weft_thread *current;
    int join_main_rc;
    unsigned long long ident;
} whoami;

static int look_self(void *arg, void **result)
{
    whoami *w = arg;
    gate_wait(&w->go);
    w->current = weft_thread_current();
    w->ident = weft_thread_get_ident();
    /* The main thread never ends: a bounded join times out. */
    w->join_main_rc = weft_thread_join(weft_thread_main(), 0.02);
    return 0;
}

static void *raw_current(void *arg)
{
    *(weft_thread **)arg = weft_thread_current();
    return NULL;
}

TEST(current_and_main_thread)
{
    weft_thread *m = weft_thread_main();
    CHECK(m != NULL);
    CHECK(weft_thread_current() == m);
    CHECK_STR(weft_thread_name(m), "MainThread");
    CHECK_EQ(weft_thread_ident(m), (unsigned long)getpid());
    CHECK(weft_thread_is_alive(m));
    CHECK_RC(weft_thread_join(m, 0), EDEADLK);
    CHECK_EQ(weft_thread_error(m, NULL), 0);
    CHECK(weft_thread_ref(m) == m);
    weft_thread_free(m); /* static: nothing happens */
    CHECK(weft_thread_main() == m);
    CHECK_STR(weft_thread_name(weft_thread_main()), "MainThread");

    whoami w = {GATE_INIT, NULL, -1, 0};
    weft_thread *t;
    CHECK_OK(weft_thread_start(&t, look_self, &w, NULL));
    gate_open(&w.go);
    CHECK_OK(weft_thread_join(t, WEFT_FOREVER));
    CHECK(w.current == t);
    CHECK_EQ(w.join_main_rc, ETIMEDOUT);
    weft_thread_free(t);

    weft_thread *raw = m;
    pthread_t th;
    CHECK_OK(pthread_create(&th, NULL, raw_current, &raw));
    pthread_join(th, NULL);
    CHECK(raw == NULL);
}

TEST(enumerate_lists_main_then_live_threads_in_start_order)
{
    enum { N = 3 };
    gate g = GATE_INIT;
    weft_thread *t[N];
    for (int i = 0; i < N; i++)
        CHECK_OK(weft_thread_start(&t[i], wait_gate, &g, NULL));
    CHECK_EQ(weft_thread_active_count(), N + 1);
    CHECK_EQ(weft_thread_enumerate(NULL, 0), N + 1);

    weft_thread *list[N + 2] = {0};
    CHECK_EQ(weft_thread_enumerate(list, N + 2), N + 1);
    CHECK(list[0] == weft_thread_main());
    for (int i = 0; i < N; i++)
        CHECK(list[i + 1] == t[i]);
    CHECK(list[N + 1] == NULL);

    /* Too small an array: the count is still the whole. */
    weft_thread *two[2];
    CHECK_EQ(weft_thread_enumerate(two, 2), N + 1);
    CHECK(two[0] == weft_thread_main());
    CHECK(two[1] == t[0]);
    weft_thread_free(two[0]);
    weft_thread_free(two[1]);

    /* The listed handles outlive the creator's. */
    for (int i = 0; i < N; i++)
        weft_thread_free(t[i]);
    gate_open(&g);
    for (int i = 1; i <= N; i++) {
        CHECK_OK(weft_thread_join(list[i], WEFT_FOREVER));
        CHECK(!weft_thread_is_alive(list[i]));
        CHECK(weft_thread_result(list[i]) == &g);
        weft_thread_free(list[i]);
    }
    weft_thread_free(list[0]);
    CHECK_EQ(weft_thread_active_count(), 1);
    CHECK_EQ(weft_thread_enumerate(list, N + 2), 1);
    CHECK(list[0] == weft_thread_main());
}

static void *raw_ident(void *arg)
{
    unsigned long long *id = arg;
    id[0] = weft_thread_get_ident();
    id[1] = weft_thread_get_ident();
    id[2] = weft_thread_get_native_id();
    id[3] = (unsigned long)gettid();
    return NULL;
}

TEST(get_ident_and_native_id)
{
    unsigned long long me = weft_thread_get_ident();
    CHECK(me != 0);
    CHECK_EQ(weft_thread_get_ident(), me);
    CHECK_EQ(weft_thread_get_native_id(), (unsigned long)gettid());
    CHECK_EQ(weft_thread_get_native_id(), weft_thread_current_ident());

    unsigned long long a[4], b[4];
    pthread_t th;
    CHECK_OK(pthread_create(&th, NULL, raw_ident, a));
    pthread_join(th, NULL);
    CHECK_OK(pthread_create(&th, NULL, raw_ident, b));
    pthread_join(th, NULL);
    CHECK(a[0] != 0 && b[0] != 0);
    CHECK_EQ(a[0], a[1]);
    CHECK(a[0] != me && b[0] != me);
    /* The second thread may get the first one's TID back, never its ident. */
    CHECK(a[0] != b[0]);
    CHECK_EQ(a[2], a[3]);
    CHECK_EQ(b[2], b[3]);

    whoami w = {GATE_INIT, NULL, -1, 0};
    weft_thread *t;
    CHECK_OK(weft_thread_start(&t, look_self, &w, NULL));
    gate_open(&w.go);
    CHECK_OK(weft_thread_join(t, WEFT_FOREVER));
    CHECK(w.ident != 0 && w.ident != me && w.ident != a[0] && w.ident != b[0]);
    weft_thread_free(t);
}

TEST(stack_size_default_for_new_threads)
{
    CHECK_EQ(weft_thread_stack_size(), 0);
    CHECK_RC(weft_thread_set_stack_size(1), EINVAL);
    CHECK_RC(weft_thread_set_stack_size((size_t)PTHREAD_STACK_MIN - 1), EINVAL);
    CHECK_RC(weft_thread_set_stack_size(SIZE_MAX), EINVAL);
    CHECK_EQ(weft_thread_stack_size(), 0);

    size_t want = 256 * 1024 + 1;
    CHECK_OK(weft_thread_set_stack_size(want));
    size_t set = weft_thread_stack_size();
    CHECK(set >= want);
    CHECK_EQ(set % (size_t)sysconf(_SC_PAGESIZE), 0);

    size_t got = 0;
    weft_thread *t;
    CHECK_OK(weft_thread_start(&t, stack_probe, &got, NULL));
    CHECK_OK(weft_thread_join(t, WEFT_FOREVER));
    CHECK_EQ(weft_thread_error(t, NULL), 0);
    CHECK(got >= want);
    CHECK(got < 8 * 1024 * 1024); /* not the 8 MiB default */
    weft_thread_free(t);

    /* An explicit size still wins. */
    weft_thread_opts o = {.stack_size = 1024 * 1024};
    CHECK_OK(weft_thread_start(&t, stack_probe, &got, &o));
    CHECK_OK(weft_thread_join(t, WEFT_FOREVER));
    CHECK(got >= 1024 * 1024);
    weft_thread_free(t);

    CHECK_OK(weft_thread_set_stack_size(0));
    CHECK_EQ(weft_thread_stack_size(), 0);
}

TEST(null_handles)
{
    CHECK_RC(weft_thread_start(NULL, nothing, NULL, NULL), EINVAL);
    CHECK_RC(weft_thread_join(NULL, 0), EINVAL);
    const char *msg = "x";
    CHECK_RC(weft_thread_error(NULL, &msg), EINVAL);
    CHECK(msg == NULL);
    CHECK(!weft_thread_is_alive(NULL));
    CHECK_STR(weft_thread_name(NULL), "");
    CHECK_EQ(weft_thread_ident(NULL), 0);
    CHECK(weft_thread_result(NULL) == NULL);
    CHECK(weft_thread_ref(NULL) == NULL);
    weft_thread_free(NULL);
}
