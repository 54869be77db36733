/* error.c: weft_strerror, failure messages (weft_fail) and the unhandled-error
 * hook.
 *
 * DESIGN: a task's failure message lives in a per-thread buffer from
 * weft_fail() until the runner (thread, executor) takes it with
 * weft__error_take() after the task returns; a message set for one code is
 * not attached to a different one. The buffer is allocated at a thread's
 * first weft_fail with a message and kept until the thread ends (a pthread
 * key destructor frees it, on threads weft did not start too): a thread that
 * never fails carries no buffer, and its static TLS stays small, so that
 * starting one touches no extra page (glibc zeroes every thread's TLS block
 * at start: 1 KiB here was one more page per thread, 4 MiB for 1,000
 * threads). Failing allocates at most once per thread. The buffer comes from
 * plain malloc, not weft__malloc: it is the error path itself, and fault
 * injection aimed at some constructor must not silently drop the message of
 * an unrelated failure. If even malloc fails, the code is kept and the
 * message becomes weft_strerror(code). The hook is one (function, user data)
 * pair behind a mutex: reports are rare, and the pair must be read
 * consistently. */
#include "clock-internal.h"
#include "error-internal.h"

#include <stdio.h>
#include <string.h>

#define MSG_MAX WEFT__MSG_MAX

static _Thread_local int pending_code;   /* 0: no message pending */
static _Thread_local char *pending_text; /* MSG_MAX bytes, or NULL until needed */

static pthread_once_t text_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t text_key;
static bool text_key_ok;

/* At thread exit. Clearing the pointer keeps a later destructor that fails
 * (another key's) off the freed buffer: it allocates a new one, which glibc's
 * next destructor round frees. */
static void free_text(void *p)
{
    if (pending_text == p)
        pending_text = NULL;
    free(p);
}

static void make_text_key(void)
{
    text_key_ok = pthread_key_create(&text_key, free_text) == 0;
}

/* The calling thread's message buffer, allocated on first use; NULL when
 * memory is short (the message is then lost, never the code). */
static char *text_buf(void)
{
    if (WEFT__LIKELY(pending_text != NULL))
        return pending_text;
    WEFT__CHECK(pthread_once(&text_key_once, make_text_key));
    if (!text_key_ok)
        return NULL;
    char *buf = malloc(MSG_MAX);
    if (!buf)
        return NULL;
    if (pthread_setspecific(text_key, buf) != 0) {
        free(buf);
        return NULL;
    }
    buf[0] = '\0';
    pending_text = buf;
    return buf;
}

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
    pending_code = code;
    if (!fmt) {
        if (pending_text)
            pending_text[0] = '\0';
        return code;
    }
    char *buf = text_buf();
    if (buf)
        vsnprintf(buf, MSG_MAX, fmt, ap);
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
    pending_code = 0;
}

char *weft__error_take(int rc)
{
    char *msg;
    if (pending_code == rc && pending_text && pending_text[0])
        msg = weft__strdup(pending_text);
    else
        msg = weft__strdup(weft_strerror(rc));
    pending_code = 0;
    return msg;
}

void weft__error_save(weft__error_saved *s)
{
    s->code = pending_code;
    if (s->code) {
        const char *text = pending_text ? pending_text : "";
        memcpy(s->text, text, strlen(text) + 1);
    }
    pending_code = 0;
}

/* The buffer exists whenever the saved text is not empty (it was copied from
 * it, and a thread's buffer lives until the thread ends), so restoring never
 * allocates in practice. */
void weft__error_restore(const weft__error_saved *s)
{
    pending_code = s->code;
    if (!s->code)
        return;
    if (!s->text[0]) {
        if (pending_text)
            pending_text[0] = '\0';
        return;
    }
    char *buf = text_buf();
    if (buf)
        memcpy(buf, s->text, strlen(s->text) + 1);
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
