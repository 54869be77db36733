/* helpers.c: the test helpers that keep state (declared in test.h), linked
 * into every test executable with the runner. */
#include "test.h"

#include <dirent.h>

/* ------------------------------------------------------------ error hook */

struct hook_log hook_log = {PTHREAD_MUTEX_INITIALIZER, 0, "", 0, ""};

void log_hook(const char *who, int code, const char *message, void *ud)
{
    (void)ud;
    pthread_mutex_lock(&hook_log.m);
    hook_log.calls++;
    snprintf(hook_log.who, sizeof hook_log.who, "%s", who);
    hook_log.code = code;
    snprintf(hook_log.message, sizeof hook_log.message, "%s", message);
    pthread_mutex_unlock(&hook_log.m);
}

/* ------------------------------------------------------------ deadlock reports */

static pthread_mutex_t cap_mu = PTHREAD_MUTEX_INITIALIZER;
static char captured[16384];
static int n_reports;

void capture_report(const char *report, void *arg)
{
    (void)arg;
    pthread_mutex_lock(&cap_mu);
    n_reports++;
    strncat(captured, report, sizeof captured - strlen(captured) - 1);
    pthread_mutex_unlock(&cap_mu);
}

int reports(void)
{
    pthread_mutex_lock(&cap_mu);
    int n = n_reports;
    pthread_mutex_unlock(&cap_mu);
    return n;
}

bool captured_has(const char *s)
{
    pthread_mutex_lock(&cap_mu);
    bool yes = strstr(captured, s) != NULL;
    pthread_mutex_unlock(&cap_mu);
    return yes;
}

void report_mode(void)
{
    CHECK_OK(weft_deadlock_set_mode(WEFT_DEADLOCK_REPORT));
    weft_deadlock_set_hook(capture_report, NULL);
}

/* ------------------------------------------------------------ threads */

bool some_thread_named(const char *prefix)
{
    DIR *d = opendir("/proc/self/task");
    bool found = false;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        char path[300], buf[32] = {0};
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", de->d_name);
        FILE *fp = fopen(path, "r");
        if (!fp)
            continue;
        if (fgets(buf, sizeof buf, fp) && strncmp(buf, prefix, strlen(prefix)) == 0)
            found = true;
        fclose(fp);
    }
    if (d)
        closedir(d);
    return found;
}
