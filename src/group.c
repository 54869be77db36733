/* group.c: task groups (structured concurrency) on an executor.
 *
 * DESIGN
 * - Every spawned task is an entry holding one reference to its future. A
 *   done callback on the future (attached before the task can run) does the
 *   bookkeeping: it records a failure, cancels the siblings on the first one
 *   (unless keep_going), starts the next task held back by max_concurrency,
 *   and wakes weft_group_wait when nothing is outstanding.
 * - max_concurrency: a spawn submits at once while fewer than the limit are
 *   submitted and not done; otherwise the entry waits in the group's own
 *   pending list (its future is PENDING all along, so it can be cancelled
 *   there), and a finishing task's callback submits the next one.
 * - Cancelling interrupts every live future: pending ones are cancelled,
 *   running ones see weft_cancelled() and weft's waits return ECANCELED.
 *   A sibling that then fails with ECANCELED is the cancellation's echo,
 *   not a new failure, and is not recorded.
 * - The group reads each failure from its future (so the future does not
 *   report it) and owns it from then on: errors nobody read with
 *   weft_group_error go to the unhandled-error hook when the group is freed.
 * - The group stays alive while `outstanding` > 0; a callback touches the
 *   group only while its own entry is still counted, and drops the count
 *   last, under g->mu, so weft_group_free can wait for zero and then free.
 *
 * Lock order: g->mu, then a future's lock (weft_future_ref only); futures'
 * callbacks and every interrupt run with g->mu released.
 */
#include "cancel-internal.h"
#include "deadlock-internal.h"
#include "executor-internal.h"

#include <stdio.h>
#include <string.h>

typedef struct entry {
    weft_group *g;
    weft_fn *fn;
    void *arg;
    weft_future *f;              /* the group's reference */
    struct entry *prev, *next;   /* live: spawned, callback not yet run */
    struct entry *pprev, *pnext; /* pending: held back by max_concurrency */
    bool in_pending, counted_running, asked;
} entry;

typedef struct group_error {
    int code;
    char *message;
    void *arg;
    bool read;
} group_error;

struct weft_group {
    weft_executor *ex;
    unsigned max_concurrency;
    bool keep_going;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* outstanding reached 0 */
    entry *live;
    entry *pend_head, *pend_tail;
    size_t outstanding;
    unsigned running; /* submitted, not done */
    bool cancelled;
    group_error *errs;
    size_t nerr, cap;
};

static _Thread_local weft_group *tls_group;

int weft_group_new(weft_group **out, weft_executor *ex, const weft_group_opts *opts)
{
    if (!out || !ex)
        return EINVAL;
    weft_group *g = weft__calloc(1, sizeof *g);
    if (!g)
        return ENOMEM;
    g->ex = ex;
    if (opts) {
        g->max_concurrency = opts->max_concurrency;
        g->keep_going = opts->keep_going;
    }
    weft__mutex_init(&g->mu);
    weft__cond_init(&g->cv);
    *out = g;
    return 0;
}

static int group_task(void *arg, void **result)
{
    entry *e = arg;
    weft_group *outer = tls_group;
    tls_group = e->g;
    int rc = e->fn(e->arg, result);
    tls_group = outer;
    return rc;
}

static void unlink_live(weft_group *g, entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        g->live = e->next;
    if (e->next)
        e->next->prev = e->prev;
}

static void unlink_pending(weft_group *g, entry *e)
{
    if (e->pprev)
        e->pprev->pnext = e->pnext;
    else
        g->pend_head = e->pnext;
    if (e->pnext)
        e->pnext->pprev = e->pprev;
    else
        g->pend_tail = e->pprev;
    e->in_pending = false;
}

/* Interrupts every live task. Each step takes a reference under g->mu and
 * interrupts without it (the interrupt may run callbacks, which lock g->mu).
 * An entry is asked once; the scan restarts after each step, skipping only
 * entries already asked (running ones), so it stays cheap. */
static void interrupt_all(weft_group *g)
{
    for (;;) {
        weft__lock(&g->mu);
        entry *e = g->live;
        while (e && e->asked)
            e = e->next;
        weft_future *f = NULL;
        if (e) {
            e->asked = true;
            f = weft_future_ref(e->f);
        }
        weft__unlock(&g->mu);
        if (!f)
            return;
        weft_future_interrupt(f);
        weft_future_unref(f);
    }
}

/* Submits e (already counted as running). On failure the task fails with
 * the submit error, through its callback, like any other failure. */
static void submit_entry(weft_group *g, entry *e, weft_future *f)
{
    int rc = weft__executor_enqueue(g->ex, weft_future_ref(f), group_task, e);
    if (rc) {
        weft_future_unref(f);
        char text[128];
        snprintf(text, sizeof text, "group task not started: %s", weft_strerror(rc));
        weft__future_fail_pending(f, rc, text);
    }
}

static int on_done(weft_future *f, void *ud)
{
    entry *e = ud;
    weft_group *g = e->g;
    const char *msg = NULL;
    int code = weft_future_cancelled(f) ? 0 : weft_future_error(f, &msg);

    weft__lock(&g->mu);
    unlink_live(g, e);
    if (e->in_pending)
        unlink_pending(g, e);
    if (e->counted_running)
        g->running--;
    bool cancel_now = false;
    if (code && !(code == ECANCELED && g->cancelled)) {
        if (g->nerr == g->cap) {
            size_t cap = g->cap ? 2 * g->cap : 8;
            group_error *p = weft__realloc(g->errs, cap * sizeof *p);
            if (p) {
                g->errs = p;
                g->cap = cap;
            }
        }
        if (g->nerr < g->cap) {
            /* On a short allocation the message falls back to the code's text. */
            g->errs[g->nerr++] = (group_error){code, msg ? weft__strdup(msg) : NULL, e->arg, false};
        } else {
            weft__unlock(&g->mu);
            weft_report_unhandled("weft group task", code, msg);
            weft__lock(&g->mu);
        }
        if (!g->keep_going && !g->cancelled) {
            g->cancelled = true;
            cancel_now = true;
        }
    }
    weft__unlock(&g->mu);

    /* Our entry is still counted in `outstanding`, so g stays alive. */
    if (cancel_now)
        interrupt_all(g);

    weft__lock(&g->mu);
    entry *next = NULL;
    weft_future *nf = NULL;
    if (!g->cancelled && g->pend_head && (!g->max_concurrency || g->running < g->max_concurrency)) {
        next = g->pend_head;
        unlink_pending(g, next);
        next->counted_running = true;
        g->running++;
        nf = weft_future_ref(next->f);
    }
    if (--g->outstanding == 0)
        WEFT__CHECK(pthread_cond_broadcast(&g->cv));
    weft__unlock(&g->mu);

    if (next) {
        /* `next` is still outstanding, so g is alive. */
        submit_entry(g, next, nf);
        weft_future_unref(nf);
    }
    weft_future_unref(e->f);
    weft__free(e);
    return 0;
}

int weft_group_spawn(weft_group *g, weft_fn *fn, void *arg, weft_future **out)
{
    if (!g || !fn)
        return EINVAL;
    weft_future *f;
    int rc = weft__executor_task_new(g->ex, &f);
    if (rc)
        return rc;
    entry *e = weft__calloc(1, sizeof *e);
    if (!e) {
        weft_future_unref(f);
        return ENOMEM;
    }
    e->g = g;
    e->fn = fn;
    e->arg = arg;
    /* Attached while the future cannot complete: it is not queued yet. */
    rc = weft_future_add_done_callback(f, on_done, e);
    if (rc) {
        weft__free(e);
        weft_future_unref(f);
        return rc;
    }
    weft__lock(&g->mu);
    if (g->cancelled) {
        weft__unlock(&g->mu);
        /* The callback never runs: the future dies pending. */
        weft_future_unref(f);
        weft__free(e);
        return ECANCELED;
    }
    e->f = weft_future_ref(f);
    e->next = g->live;
    if (g->live)
        g->live->prev = e;
    g->live = e;
    g->outstanding++;
    bool now = !g->max_concurrency || g->running < g->max_concurrency;
    if (now) {
        e->counted_running = true;
        g->running++;
    } else {
        e->in_pending = true;
        e->pprev = g->pend_tail;
        if (g->pend_tail)
            g->pend_tail->pnext = e;
        else
            g->pend_head = e;
        g->pend_tail = e;
    }
    weft__unlock(&g->mu);
    if (now) {
        rc = weft__executor_enqueue(g->ex, weft_future_ref(f), group_task, e);
        if (rc) {
            weft_future_unref(f);
            /* Runs the callback (if a concurrent cancel has not already),
             * which undoes the bookkeeping and records nothing. */
            weft_future_cancel(f);
            weft_future_unref(f);
            return rc;
        }
    }
    if (out)
        *out = f;
    else
        weft_future_unref(f);
    return 0;
}

int weft_group_wait(weft_group *g, double timeout)
{
    weft__deadline dl;
    if (!g || weft__deadline_init(&dl, timeout))
        return EINVAL;
    if (tls_group == g) {
        /* Deadlock detector hook (deadlock.c): say so, not only EDEADLK. */
        weft__dl_report_self("weft_group_wait", "one of the group's own tasks");
        return EDEADLK;
    }
    int rc = 0;
    weft__cancel *tok = weft__wait_enter(&g->mu, &g->cv);
    weft__lock(&g->mu);
    while (g->outstanding) {
        if (weft__wait_cancelled(tok)) {
            rc = ECANCELED;
            break;
        }
        if (weft__cond_wait(&g->cv, &g->mu, &dl) == ETIMEDOUT && g->outstanding) {
            rc = ETIMEDOUT;
            break;
        }
    }
    if (rc == 0)
        rc = g->nerr ? WEFT_EFAILED : g->cancelled ? ECANCELED : 0;
    weft__unlock(&g->mu);
    weft__wait_leave(tok);
    return rc;
}

void weft_group_cancel(weft_group *g)
{
    if (!g)
        return;
    weft__lock(&g->mu);
    g->cancelled = true;
    weft__unlock(&g->mu);
    interrupt_all(g);
}

size_t weft_group_error_count(const weft_group *cg)
{
    if (!cg)
        return 0;
    weft_group *g = (weft_group *)cg;
    if (!g)
        return 0;
    weft__lock(&g->mu);
    size_t n = g->nerr;
    weft__unlock(&g->mu);
    return n;
}

int weft_group_error(const weft_group *cg, size_t i, const char **message, void **arg)
{
    if (!cg)
        return EINVAL;
    weft_group *g = (weft_group *)cg;
    if (!g)
        return EINVAL;
    int code = 0;
    weft__lock(&g->mu);
    if (i < g->nerr) {
        group_error *ge = &g->errs[i];
        ge->read = true;
        code = ge->code;
        if (message)
            *message = ge->message ? ge->message : weft_strerror(code);
        if (arg)
            *arg = ge->arg;
    }
    weft__unlock(&g->mu);
    return code;
}

void weft_group_free(weft_group *g)
{
    if (!g)
        return;
    weft_group_cancel(g);
    /* Not cancellable: the tasks use g until their callbacks have run. */
    weft__lock(&g->mu);
    while (g->outstanding)
        weft__cond_wait(&g->cv, &g->mu, NULL);
    weft__unlock(&g->mu);
    for (size_t i = 0; i < g->nerr; i++) {
        group_error *ge = &g->errs[i];
        if (!ge->read)
            weft_report_unhandled("weft group task", ge->code, ge->message);
        weft__free(ge->message);
    }
    weft__free(g->errs);
    WEFT__CHECK(pthread_cond_destroy(&g->cv));
    WEFT__CHECK(pthread_mutex_destroy(&g->mu));
    weft__free(g);
}
