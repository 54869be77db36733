/* error.c: weft_strerror, failure messages (weft_fail) and the unhandled-error
 * hook.
 *
 * DESIGN: a task's failure message lives in a per-thread buffer from
 * weft_fail() until the runner (thread, executor) takes it with
 * weft__error_take() after the task returns; so failing never allocates, and
 * a message set for one code is not attached to a different one. The hook is
 * one (function, user data) pair behind a mutex: reports are rare, and the
 * pair must be read consistently. */
#include "error-internal.h"

#include <stdio.h>
#include <string.h>

#define MSG_MAX WEFT__MSG_MAX

static _Thread_local struct {
    int code; /* 0: no message pending */
    char text[MSG_MAX];
} pending;

const char *weft_strerror(int code)
{
    switch (code) {
    case 0:
        return "success";
    case WEFT_EFAILED:
        return "the task failed (see its own error)";
    case WEFT_EBROKEN:
        return "broken (barrier broken, or executor broken by a failed initializer)";
    case ETIMEDOUT:
        return "timed out";
    case EAGAIN:
        return "would block (queue full or empty)";
    case EBUSY:
        return "busy (held by another thread)";
    case ECANCELED:
        return "cancelled";
    case EPERM:
        return "not owner";
    case EOVERFLOW:
        return "released too many times";
    case EDEADLK:
        return "would deadlock";
    case EINVAL:
        return "invalid argument";
    case ENOMEM:
        return "out of memory";
    case ESHUTDOWN:
        return "shut down";
    default:
        break;
    }
    /* strerror() may use a shared buffer for unknown codes; strerrordesc_np
     * (glibc 2.32) is static and thread-safe. */
    const char *s = strerrordesc_np(code);
    return s ? s : "unknown error";
}

int weft_vfail(int code, const char *fmt, va_list ap)
{
    pending.code = code;
    if (!fmt) {
        pending.text[0] = '\0';
        return code;
    }
    vsnprintf(pending.text, sizeof pending.text, fmt, ap);
    return code;
}

int weft_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    weft_vfail(code, fmt, ap);
    va_end(ap);
    return code;
}

void weft__error_clear(void)
{
    pending.code = 0;
}

char *weft__error_take(int rc)
{
    char *msg;
    if (pending.code == rc && pending.text[0])
        msg = weft__strdup(pending.text);
    else
        msg = weft__strdup(weft_strerror(rc));
    pending.code = 0;
    return msg;
}

void weft__error_save(weft__error_saved *s)
{
    s->code = pending.code;
    if (s->code)
        memcpy(s->text, pending.text, strlen(pending.text) + 1);
    pending.code = 0;
}

void weft__error_restore(const weft__error_saved *s)
{
    pending.code = s->code;
    if (s->code)
        memcpy(pending.text, s->text, strlen(s->text) + 1);
}

static pthread_mutex_t hook_mu = PTHREAD_MUTEX_INITIALIZER;
static weft_error_hook_fn *hook_fn;
static void *hook_ud;

void weft_set_error_hook(weft_error_hook_fn *fn, void *ud)
{
    weft__lock(&hook_mu);
    hook_fn = fn;
    hook_ud = ud;
    weft__unlock(&hook_mu);
}

void weft_report_unhandled(const char *who, int code, const char *message)
{
    weft__lock(&hook_mu);
    weft_error_hook_fn *fn = hook_fn;
    void *ud = hook_ud;
    weft__unlock(&hook_mu);
    if (!who)
        who = "?";
    if (!message)
        message = weft_strerror(code);
    if (fn) {
        fn(who, code, message, ud);
        return;
    }
    /* One write, so lines from racing threads do not interleave. */
    char line[MSG_MAX + 256];
    int n = snprintf(line, sizeof line, "weft: unhandled error in %s: %s (%s)\n", who, message,
                     weft_strerror(code));
    if (n > 0)
        fputs(line, stderr);
}

_Noreturn void weft__panic(const char *file, int line, const char *what, int code)
{
    fprintf(stderr, "weft: fatal: %s:%d: %s: %s\n", file, line, what, weft_strerror(code));
    abort();
}
