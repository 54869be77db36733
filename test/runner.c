/* runner.c: main() for every test executable; see test.h for the design. */
#include "test.h"

#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_TESTS 512

static struct {
    const char *name;
    test_fn *fn;
    unsigned timeout_s;
} tests[MAX_TESTS];
static int ntests;

void test_register(const char *name, test_fn *fn, unsigned timeout_s)
{
    if (ntests == MAX_TESTS) {
        fprintf(stderr, "runner: more than %d tests\n", MAX_TESTS);
        abort();
    }
    tests[ntests].name = name;
    tests[ntests].fn = fn;
    tests[ntests].timeout_s = timeout_s;
    ntests++;
}

void test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(NULL);
    _exit(1);
}

double test_scale(void)
{
    const char *s = getenv("WEFT_TEST_TIMEOUT_SCALE");
    double v = s ? atof(s) : 1.0;
    return v >= 1.0 ? v : 1.0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool selected(int argc, char **argv, const char *name)
{
    if (argc < 2)
        return true;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return true;
    return false;
}

/* Runs one case in a child; returns true when it passed. */
static bool run_forked(int i)
{
    unsigned limit = (unsigned)(tests[i].timeout_s * test_scale() + 0.5);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("runner: fork");
        return false;
    }
    if (pid == 0) {
        /* The default action of SIGALRM ends the process: the watchdog. */
        signal(SIGALRM, SIG_DFL);
        alarm(limit);
        tests[i].fn();
        /* exit(), not _exit(): LeakSanitizer checks for leaks at exit, and
         * weft joins the case's non-daemon threads (the watchdog still runs). */
        exit(0);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            perror("runner: waitpid");
            return false;
        }
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return true;
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
        fprintf(stderr, "  %s: watchdog fired after %u s (deadlock or hang)\n", tests[i].name,
                limit);
    else if (WIFSIGNALED(status))
        fprintf(stderr, "  %s: killed by signal %d\n", tests[i].name, WTERMSIG(status));
    else
        fprintf(stderr, "  %s: exit status %d\n", tests[i].name, WEXITSTATUS(status));
    return false;
}

int main(int argc, char **argv)
{
    bool nofork = getenv("WEFT_TEST_NOFORK") && atoi(getenv("WEFT_TEST_NOFORK"));
    int passed = 0, failed = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 0; i < ntests; i++) {
        if (!selected(argc, argv, tests[i].name))
            continue;
        double t0 = now();
        bool ok;
        if (nofork) {
            tests[i].fn();
            ok = true;
        } else {
            ok = run_forked(i);
        }
        printf("%s %s (%.3f s)\n", ok ? "ok  " : "FAIL", tests[i].name, now() - t0);
        if (ok)
            passed++;
        else
            failed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    if (passed + failed == 0) {
        fprintf(stderr, "runner: no test matched\n");
        return 1;
    }
    return failed ? 1 : 0;
}
