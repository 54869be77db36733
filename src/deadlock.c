/* deadlock.c: the deadlock detector's shared parts: the mode
 * (WEFT_DEADLOCK, weft_deadlock_set_mode), the user's hook, and how reports
 * are written and emitted. The two detectors are in their own files:
 * deadlock-order.c (the lock-order graph, lockdep-like: an inversion is
 * reported even when it does not hang this run) and deadlock-waitfor.c (the
 * wait-for graph: a wait that would never end returns EDEADLK).
 *
 * DESIGN: reports are formatted into a buffer (weft__dl_text) under the
 * detector's own mutexes and emitted after they are released, so the
 * user's hook runs with no weft lock held. hook_mu is a leaf; no weft lock
 * is taken by the detector. */
#include "clock-internal.h"
#include "deadlock-detector-internal.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define REPORT_SIZE 4096

atomic_int weft__dl_state = -1;

/* ------------------------------------------------------------ mode */

static pthread_once_t env_once = PTHREAD_ONCE_INIT;
/* Bumped when the detector is turned on, so stacks from an earlier "on"
 * period (stale: releases made while off were not seen) are dropped. */
atomic_uint weft__dl_generation = 1;

static void read_env(void)
{
    const char *v = getenv("WEFT_DEADLOCK");
    int mode = WEFT_DEADLOCK_OFF;
    if (v && strcmp(v, "report") == 0)
        mode = WEFT_DEADLOCK_REPORT;
    else if (v && strcmp(v, "abort") == 0)
        mode = WEFT_DEADLOCK_ABORT;
    else if (v && *v && strcmp(v, "off") != 0 && strcmp(v, "0") != 0)
        fprintf(stderr, "weft: WEFT_DEADLOCK=%s not understood (report, abort or off)\n", v);
    int expected = -1;
    atomic_compare_exchange_strong(&weft__dl_state, &expected, mode);
}

bool weft__dl_on(void)
{
    int s = atomic_load_explicit(&weft__dl_state, memory_order_relaxed);
    if (WEFT__UNLIKELY(s < 0)) {
        WEFT__CHECK(pthread_once(&env_once, read_env));
        s = atomic_load_explicit(&weft__dl_state, memory_order_relaxed);
    }
    return s > 0;
}

int weft_deadlock_set_mode(weft_deadlock_mode mode)
{
    if (mode != WEFT_DEADLOCK_OFF && mode != WEFT_DEADLOCK_REPORT && mode != WEFT_DEADLOCK_ABORT)
        return EINVAL;
    WEFT__CHECK(pthread_once(&env_once, read_env));
    int old = atomic_exchange(&weft__dl_state, (int)mode);
    if (old == WEFT_DEADLOCK_OFF && mode != WEFT_DEADLOCK_OFF)
        atomic_fetch_add(&weft__dl_generation, 1);
    return 0;
}

weft_deadlock_mode weft_deadlock_get_mode(void)
{
    weft__dl_on();
    return (weft_deadlock_mode)atomic_load(&weft__dl_state);
}

/* ------------------------------------------------------------ hook */

static pthread_mutex_t hook_mu = PTHREAD_MUTEX_INITIALIZER;
static weft_deadlock_hook_fn *hook_fn;
static void *hook_arg;

void weft_deadlock_set_hook(weft_deadlock_hook_fn *fn, void *arg)
{
    weft__lock(&hook_mu);
    hook_fn = fn;
    hook_arg = arg;
    weft__unlock(&hook_mu);
}

const char *weft__dl_base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* "sym+0x1c", "prog+0x1234" (for addr2line -e prog), or the raw address. */
void weft__dl_fmt_pc(char *buf, size_t n, const void *pc)
{
    Dl_info info;
    if (pc && dladdr(pc, &info)) {
        if (info.dli_sname && info.dli_saddr) {
            snprintf(buf, n, "%s+0x%lx", info.dli_sname,
                     (unsigned long)((const char *)pc - (const char *)info.dli_saddr));
            return;
        }
        if (info.dli_fname && info.dli_fbase) {
            snprintf(buf, n, "%s+0x%lx", weft__dl_base_name(info.dli_fname),
                     (unsigned long)((const char *)pc - (const char *)info.dli_fbase));
            return;
        }
    }
    snprintf(buf, n, "%p", pc);
}

/* The hook is running on this thread: its own reports go to stderr. Apart
 * from the held stack so that it works without one. */
_Thread_local bool weft__dl_in_report;

/* weft's name for the thread; for a thread weft did not start ("Dummy-N"),
 * the OS name, which pthread_setname_np may have set. */
void weft__dl_thread_name(char *buf, size_t n)
{
    const char *name = weft_thread_current_name();
    char os[16];
    if (strncmp(name, "Dummy-", 6) == 0 && pthread_getname_np(pthread_self(), os, sizeof os) == 0)
        name = os;
    snprintf(buf, n, "%s", name);
}

/* ------------------------------------------------------------ reports */

void WEFT_PRINTF(2, 3) weft__dl_put(weft__dl_text *r, const char *fmt, ...)
{
    r->started = true;
    if (!r->buf) {
        r->buf = weft__malloc(REPORT_SIZE);
        if (!r->buf)
            return;
        r->buf[0] = 0;
        r->len = 0;
    }
    if (r->len >= REPORT_SIZE - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(r->buf + r->len, REPORT_SIZE - r->len, fmt, ap);
    va_end(ap);
    if (k > 0)
        r->len += (size_t)k;
    if (r->len >= REPORT_SIZE - 1) {
        r->len = REPORT_SIZE - 1;
        memcpy(r->buf + REPORT_SIZE - 5, "...\n", 5);
    }
}

static void emit(const char *text)
{
    weft__lock(&hook_mu);
    weft_deadlock_hook_fn *fn = hook_fn;
    void *arg = hook_arg;
    weft__unlock(&hook_mu);
    if (fn && !weft__dl_in_report) {
        weft__dl_in_report = true;
        fn(text, arg);
        weft__dl_in_report = false;
    } else {
        fputs(text, stderr);
        fflush(stderr);
    }
    if (atomic_load(&weft__dl_state) == WEFT_DEADLOCK_ABORT)
        abort();
}

void weft__dl_report(const char *text)
{
    if (weft__dl_on())
        emit(text);
}

/* Emits r (if anything was put) and frees it. */
void weft__dl_send(weft__dl_text *r)
{
    if (!r->started)
        return;
    emit(r->buf ? r->buf : "weft: possible deadlock (no memory to describe it)\n");
    weft__free(r->buf);
}

void weft__dl_report_pool(const char *call, bool one, const char *name)
{
    if (!(weft__dl_maybe_on() && weft__dl_on()))
        return;
    char me_[WEFT__DL_NAME_SIZE];
    weft__dl_thread_name(me_, sizeof me_);
    weft__dl_text r = {0};
    weft__dl_put(&r,
                 "weft: deadlock: thread \"%s\" (a task) called %s on %s%s%s of its own "
                 "executor,\n",
                 me_, call, one ? "future \"" : "futures", one ? (name ? name : "(unnamed)") : "",
                 one ? "\"" : "");
    weft__dl_put(&r,
                 "  but every other worker is blocked waiting on the same pool and no other can "
                 "start: the work would never run.\n  weft returns EDEADLK instead of waiting "
                 "forever.\n");
    weft__dl_put(&r,
                 "  Fix: do not wait inside a task for work queued on the same pool, or give the "
                 "pool more workers.\n");
    weft__dl_send(&r);
}

void weft__dl_report_self(const char *call, const char *where)
{
    if (!(weft__dl_maybe_on() && weft__dl_on()))
        return;
    char me_[WEFT__DL_NAME_SIZE];
    weft__dl_thread_name(me_, sizeof me_);
    weft__dl_text r = {0};
    weft__dl_put(&r, "weft: deadlock: thread \"%s\" called %s from %s: it would wait for itself.\n",
                 me_, call, where);
    weft__dl_put(&r, "  weft returns EDEADLK instead of waiting forever.\n");
    weft__dl_send(&r);
}
