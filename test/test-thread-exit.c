/* weft_thread: exit-time joining, thread locals, per-thread memory, daemon
 * inheritance, and Python's current_thread, main_thread, enumerate,
 * active_count. */
#include "cancel-internal.h"
#include "test.h"
#include "error-internal.h"

#include <fcntl.h>
#include <link.h>
#include <math.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

/* Options for a thread whose error the test reads itself. */
static const weft_thread_opts collect = {.collect_error = true};

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
