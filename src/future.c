/* future.c: TEMPORARY stand-in for the futures module, written by the
 * executor helper only so that executor.c and group.c can be built and
 * tested before the real future.c (branch `future`) lands. It follows
 * future.h and future-internal.h but aims only at being simple and correct;
 * the lead drops this file in favour of the real one when merging.
 *
 * DESIGN: one mutex and condvar per future. Set waits (weft_futures_wait,
 * as_completed) sleep on one process-wide condvar that every completion
 * broadcasts while anyone waits on a set: simple, slow, and enough here.
 *
 * Lock order: a future's mu, then set_mu (a completion takes set_mu after
 * dropping its own mu, so in practice they are never nested). */
#include "future-internal.h"

#include <string.h>

typedef struct callback {
    weft_future_callback_fn *fn;
    void *ud;
    struct callback *next;
} callback;

struct weft_future {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_long refs;
    weft_future_state state;
    int code;
    bool read;
    void *result;
    char *message;
    char *name;
    void *owner;
    weft__deadlock_check_fn *check;
    callback *cbs, **cbs_tail;
    unsigned waiters;
    weft__cancel tok;
    weft__cancel *prev_tok;
};

static pthread_mutex_t set_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t set_cv;
static pthread_once_t set_once = PTHREAD_ONCE_INIT;
static atomic_uint set_waiters;

static void set_init(void)
{
    weft__cond_init(&set_cv);
}

static void set_wake(void)
{
    if (atomic_load(&set_waiters) == 0)
        return;
    pthread_once(&set_once, set_init);
    weft__lock(&set_mu);
    WEFT__CHECK(pthread_cond_broadcast(&set_cv));
    weft__unlock(&set_mu);
}

static int create(weft_future **out, const char *name, void *owner, weft__deadlock_check_fn *check)
{
    weft_future *f = weft__calloc(1, sizeof *f);
    if (!f)
        return ENOMEM;
    if (name && !(f->name = weft__strdup(name))) {
        weft__free(f);
        return ENOMEM;
    }
    weft__mutex_init(&f->mu);
    weft__cond_init(&f->cv);
    atomic_init(&f->refs, 1);
    f->state = WEFT_FUTURE_PENDING;
    f->owner = owner;
    f->check = check;
    f->cbs_tail = &f->cbs;
    weft__cancel_init(&f->tok);
    *out = f;
    return 0;
}

int weft_future_new(weft_future **out, const char *name)
{
    return create(out, name, NULL, NULL);
}

int weft__future_new_task(weft_future **out, const char *name, void *owner,
                          weft__deadlock_check_fn *owner_check)
{
    return create(out, name, owner, owner_check);
}

void *weft__future_owner(const weft_future *f)
{
    return f->owner;
}

weft__cancel *weft__future_token(weft_future *f)
{
    return &f->tok;
}

weft_future *weft_future_ref(weft_future *f)
{
    atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
    return f;
}

void weft_future_unref(weft_future *f)
{
    if (!f || atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (f->state == WEFT_FUTURE_FINISHED && f->code && !f->read)
        weft_report_unhandled(f->name ? f->name : "weft task", f->code, f->message);
    for (callback *c = f->cbs, *n; c; c = n) {
        n = c->next;
        weft__free(c);
    }
    weft__cancel_destroy(&f->tok);
    WEFT__CHECK(pthread_cond_destroy(&f->cv));
    WEFT__CHECK(pthread_mutex_destroy(&f->mu));
    weft__free(f->message);
    weft__free(f->name);
    weft__free(f);
}

weft_future_state weft_future_state_of(const weft_future *f)
{
    weft_future *m = (weft_future *)f;
    weft__lock(&m->mu);
    weft_future_state s = m->state;
    weft__unlock(&m->mu);
    return s;
}

bool weft_future_cancelled(const weft_future *f)
{
    return weft_future_state_of(f) == WEFT_FUTURE_CANCELLED;
}

bool weft_future_running(const weft_future *f)
{
    return weft_future_state_of(f) == WEFT_FUTURE_RUNNING;
}

bool weft_future_done(const weft_future *f)
{
    weft_future_state s = weft_future_state_of(f);
    return s == WEFT_FUTURE_CANCELLED || s == WEFT_FUTURE_FINISHED;
}

const char *weft_future_name(const weft_future *f)
{
    return f->name;
}

/* Completes f (mu held on entry, released on return) and runs callbacks. */
static void complete_locked(weft_future *f)
{
    callback *cbs = f->cbs;
    f->cbs = NULL;
    f->cbs_tail = &f->cbs;
    if (f->waiters)
        WEFT__CHECK(pthread_cond_broadcast(&f->cv));
    weft__unlock(&f->mu);
    set_wake();
    for (callback *c = cbs, *n; c; c = n) {
        n = c->next;
        int rc = c->fn(f, c->ud);
        if (rc)
            weft_report_unhandled(f->name ? f->name : "done callback", rc, NULL);
        weft__free(c);
    }
}

bool weft__future_begin(weft_future *f)
{
    weft__lock(&f->mu);
    if (f->state != WEFT_FUTURE_PENDING) {
        weft__unlock(&f->mu);
        return false;
    }
    f->state = WEFT_FUTURE_RUNNING;
    weft__unlock(&f->mu);
    f->prev_tok = weft__cancel_swap(&f->tok);
    return true;
}

void weft__future_finish(weft_future *f, int rc, void *result, char *message)
{
    weft__cancel_swap(f->prev_tok);
    weft__lock(&f->mu);
    f->state = WEFT_FUTURE_FINISHED;
    f->code = rc;
    f->result = rc ? NULL : result;
    if (rc && !message)
        message = weft__strdup(weft_strerror(rc));
    if (!rc) {
        weft__free(message);
        message = NULL;
    }
    f->message = message;
    complete_locked(f);
}

static int set_error(weft_future *f, int code, const char *message, bool need_pending)
{
    if (code == 0)
        return EINVAL;
    char *copy = weft__strdup(message ? message : weft_strerror(code));
    weft__lock(&f->mu);
    if (f->state == WEFT_FUTURE_CANCELLED || f->state == WEFT_FUTURE_FINISHED ||
        (need_pending && f->state != WEFT_FUTURE_PENDING)) {
        weft__unlock(&f->mu);
        weft__free(copy);
        return EALREADY;
    }
    f->state = WEFT_FUTURE_FINISHED;
    f->code = code;
    f->message = copy;
    complete_locked(f);
    return 0;
}

int weft__future_fail_pending(weft_future *f, int code, const char *message)
{
    return set_error(f, code, message, true);
}

int weft_future_set_error(weft_future *f, int code, const char *message)
{
    return set_error(f, code, message, false);
}

int weft_future_set_running(weft_future *f)
{
    weft__lock(&f->mu);
    int rc = 0;
    if (f->state == WEFT_FUTURE_CANCELLED)
        rc = ECANCELED;
    else if (f->state == WEFT_FUTURE_PENDING)
        f->state = WEFT_FUTURE_RUNNING;
    else
        rc = EALREADY;
    weft__unlock(&f->mu);
    return rc;
}

int weft_future_set_result(weft_future *f, void *result)
{
    weft__lock(&f->mu);
    if (f->state == WEFT_FUTURE_CANCELLED || f->state == WEFT_FUTURE_FINISHED) {
        weft__unlock(&f->mu);
        return EALREADY;
    }
    f->state = WEFT_FUTURE_FINISHED;
    f->result = result;
    complete_locked(f);
    return 0;
}

int weft_future_cancel(weft_future *f)
{
    weft__lock(&f->mu);
    if (f->state == WEFT_FUTURE_CANCELLED) {
        weft__unlock(&f->mu);
        return 0;
    }
    if (f->state != WEFT_FUTURE_PENDING) {
        weft__unlock(&f->mu);
        return EALREADY;
    }
    f->state = WEFT_FUTURE_CANCELLED;
    complete_locked(f);
    return 0;
}

int weft_future_interrupt(weft_future *f)
{
    weft__lock(&f->mu);
    weft_future_state s = f->state;
    if (s == WEFT_FUTURE_PENDING) {
        f->state = WEFT_FUTURE_CANCELLED;
        complete_locked(f);
        return 0;
    }
    weft__unlock(&f->mu);
    if (s == WEFT_FUTURE_CANCELLED)
        return 0;
    if (s == WEFT_FUTURE_FINISHED)
        return EALREADY;
    weft__cancel_request(&f->tok);
    return EINPROGRESS;
}

int weft_future_add_done_callback(weft_future *f, weft_future_callback_fn *fn, void *ud)
{
    callback *c = weft__malloc(sizeof *c);
    if (!c)
        return ENOMEM;
    c->fn = fn;
    c->ud = ud;
    c->next = NULL;
    weft__lock(&f->mu);
    if (f->state == WEFT_FUTURE_PENDING || f->state == WEFT_FUTURE_RUNNING) {
        *f->cbs_tail = c;
        f->cbs_tail = &c->next;
        weft__unlock(&f->mu);
        return 0;
    }
    weft__unlock(&f->mu);
    int rc = fn(f, ud);
    if (rc)
        weft_report_unhandled(f->name ? f->name : "done callback", rc, NULL);
    weft__free(c);
    return 0;
}

int weft_future_result(weft_future *f, double timeout, void **result)
{
    weft__deadline dl;
    if (weft__deadline_init(&dl, timeout))
        return EINVAL;
    int rc = 0;
    weft__cancel *tok = weft__wait_enter(&f->mu, &f->cv);
    weft__lock(&f->mu);
    f->waiters++;
    for (;;) {
        if (f->state == WEFT_FUTURE_CANCELLED) {
            rc = ECANCELED;
            break;
        }
        if (f->state == WEFT_FUTURE_FINISHED) {
            if (f->code) {
                f->read = true;
                rc = WEFT_EFAILED;
            } else if (result) {
                *result = f->result;
            }
            break;
        }
        if (f->state == WEFT_FUTURE_PENDING && f->check && f->check(f->owner)) {
            rc = EDEADLK;
            break;
        }
        if (weft__wait_cancelled(tok)) {
            rc = ECANCELED;
            break;
        }
        if (weft__cond_wait(&f->cv, &f->mu, &dl) == ETIMEDOUT &&
            (f->state == WEFT_FUTURE_PENDING || f->state == WEFT_FUTURE_RUNNING)) {
            rc = ETIMEDOUT;
            break;
        }
    }
    f->waiters--;
    weft__unlock(&f->mu);
    weft__wait_leave(tok);
    return rc;
}

int weft_future_error(weft_future *f, const char **message)
{
    weft__lock(&f->mu);
    int code = f->state == WEFT_FUTURE_FINISHED ? f->code : 0;
    if (code)
        f->read = true;
    if (message)
        *message = code ? f->message : NULL;
    weft__unlock(&f->mu);
    return code;
}

/* ------------------------------------------------------------ sets */

static bool failed(weft_future *f)
{
    weft__lock(&f->mu);
    bool r = f->state == WEFT_FUTURE_FINISHED && f->code;
    weft__unlock(&f->mu);
    return r;
}

int weft_futures_wait(weft_future *const *fs, size_t n, double timeout, weft_wait_mode mode,
                      bool *done)
{
    weft__deadline dl;
    if (weft__deadline_init(&dl, timeout) || (n && !fs) || mode > WEFT_FIRST_EXCEPTION)
        return EINVAL;
    pthread_once(&set_once, set_init);
    atomic_fetch_add(&set_waiters, 1);
    int rc = 0;
    weft__cancel *tok = weft__wait_enter(&set_mu, &set_cv);
    weft__lock(&set_mu);
    for (;;) {
        size_t ndone = 0;
        bool any_failed = false;
        for (size_t i = 0; i < n; i++) {
            bool d = weft_future_done(fs[i]);
            if (done)
                done[i] = d;
            ndone += d;
            if (d && mode == WEFT_FIRST_EXCEPTION && failed(fs[i]))
                any_failed = true;
        }
        if (ndone == n || (mode == WEFT_FIRST_COMPLETED && ndone > 0) || any_failed)
            break;
        if (weft__wait_cancelled(tok)) {
            rc = ECANCELED;
            break;
        }
        if (weft__cond_wait(&set_cv, &set_mu, &dl) == ETIMEDOUT) {
            rc = ETIMEDOUT;
            for (size_t i = 0; done && i < n; i++)
                done[i] = weft_future_done(fs[i]);
            break;
        }
    }
    weft__unlock(&set_mu);
    weft__wait_leave(tok);
    atomic_fetch_sub(&set_waiters, 1);
    return rc;
}

struct weft_as_completed {
    weft_future **fs;
    size_t n;
    weft__deadline dl;
};

int weft_as_completed_new(weft_as_completed **out, weft_future *const *fs, size_t n, double timeout)
{
    weft__deadline dl;
    if (weft__deadline_init(&dl, timeout) || (n && !fs))
        return EINVAL;
    weft_as_completed *it = weft__calloc(1, sizeof *it);
    if (!it)
        return ENOMEM;
    it->fs = weft__calloc(n ? n : 1, sizeof *it->fs);
    if (!it->fs) {
        weft__free(it);
        return ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        bool dup = false;
        for (size_t j = 0; j < it->n; j++)
            dup |= it->fs[j] == fs[i];
        if (!dup)
            it->fs[it->n++] = weft_future_ref(fs[i]);
    }
    it->dl = dl;
    *out = it;
    return 0;
}

int weft_as_completed_next(weft_as_completed *it, weft_future **f)
{
    if (it->n == 0)
        return ENOENT;
    pthread_once(&set_once, set_init);
    atomic_fetch_add(&set_waiters, 1);
    int rc = 0;
    weft__cancel *tok = weft__wait_enter(&set_mu, &set_cv);
    weft__lock(&set_mu);
    for (;;) {
        size_t i;
        for (i = 0; i < it->n && !weft_future_done(it->fs[i]); i++)
            ;
        if (i < it->n) {
            *f = it->fs[i];
            /* The caller holds its own reference; ours goes. */
            weft_future_unref(it->fs[i]);
            it->fs[i] = it->fs[--it->n];
            break;
        }
        if (weft__wait_cancelled(tok)) {
            rc = ECANCELED;
            break;
        }
        if (weft__cond_wait(&set_cv, &set_mu, &it->dl) == ETIMEDOUT) {
            rc = ETIMEDOUT;
            break;
        }
    }
    weft__unlock(&set_mu);
    weft__wait_leave(tok);
    atomic_fetch_sub(&set_waiters, 1);
    return rc;
}

void weft_as_completed_free(weft_as_completed *it)
{
    if (!it)
        return;
    for (size_t i = 0; i < it->n; i++)
        weft_future_unref(it->fs[i]);
    weft__free(it->fs);
    weft__free(it);
}
