/* executor-map.c: map over an executor, eager (weft_executor_map) and lazy
 * (weft_map_*), built on the executor's task API (executor-internal.h).
 *
 * DESIGN: the lazy map keeps its in-flight chunks in its own lists under
 * m->mu; each chunk's future has a done callback that marks it done and
 * wakes the consumer. Lock order: m->mu is only taken by the consumer and by
 * that callback, never together with an executor's or a future's lock. */
#include "cancel-internal.h"
#include "executor-internal.h"

/* ------------------------------------------------------------ eager map */

/* Cancels what has not started and waits for the rest: for a map that gives
 * up, so that nothing it submitted is left running (its tasks borrow the
 * caller's args). With `interrupt` (the map's timeout passed), the running
 * tasks are also asked to stop (weft_cancelled), so that a task that
 * cooperates does not hold the caller much past its deadline. */
static void abandon(weft_future **fs, size_t n, bool interrupt)
{
    for (size_t i = 0; i < n; i++) {
        if (interrupt)
            weft_future_interrupt(fs[i]);
        else
            weft_future_cancel(fs[i]);
    }
    for (size_t i = 0; i < n; i++) {
        while (!weft_future_done(fs[i])) {
            /* ECANCELED here means the caller is being cancelled: ask the
             * task to stop too, and keep waiting for it. */
            if (weft_future_result(fs[i], WEFT_FOREVER, NULL) == ECANCELED)
                weft_future_interrupt(fs[i]);
        }
    }
}

int weft_executor_map(weft_executor *ex, weft_fn *fn, void *const *args, size_t n, double timeout,
                      void **results, int *errors)
{
    /* The deadline runs from this call, for the whole map (Python's). */
    weft__deadline dl;
    if (!ex || !fn || (n && (!args || !results)) || weft__deadline_init(&dl, timeout))
        return EINVAL;
    weft_future **fs = weft__calloc(n ? n : 1, sizeof *fs);
    if (!fs)
        return ENOMEM;
    int rc = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        rc = weft_executor_submit(ex, fn, args[i], &fs[i]);
        if (rc) {
            abandon(fs, i, false);
            break;
        }
    }
    bool any_failed = false;
    for (size_t j = 0; rc == 0 && j < n; j++) {
        results[j] = NULL;
        /* A result that is ready is taken even once the deadline has
         * passed (timeout 0 does not block), as Python's iterator does. */
        int r = weft_future_result(fs[j], weft__deadline_remaining(&dl), &results[j]);
        int code = 0;
        if (r == WEFT_EFAILED)
            code = weft_future_error(fs[j], NULL);
        else if (r == ECANCELED && weft_future_cancelled(fs[j]))
            code = ECANCELED; /* e.g. shutdown(cancel_futures) */
        else if (r != 0) {
            rc = r; /* the map's timeout, the caller cancelled, or EDEADLK */
            abandon(fs + j, n - j, r == ETIMEDOUT);
            break;
        }
        if (errors)
            errors[j] = code;
        any_failed |= code != 0;
    }
    for (size_t j = 0; j < i; j++)
        weft_future_unref(fs[j]);
    weft__free(fs);
    if (rc)
        return rc;
    return any_failed ? WEFT_EFAILED : 0;
}

/* ------------------------------------------------------------ lazy map */

typedef struct chunk {
    struct weft_map *m;
    weft_future *f;
    struct chunk *next;      /* submission order */
    struct chunk *next_done; /* completion order (unordered mode) */
    bool done;               /* set by the done callback, under m->mu */
    size_t n, yielded;
    void **in, **out;
    char **msg;
    int *rc;
} chunk;

struct weft_map {
    weft_executor *ex;
    weft_fn *fn;
    weft_source_fn *source;
    void *ud;
    size_t chunksize, buffersize;
    bool unordered;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    chunk *head, *tail;           /* submitted, not fully yielded */
    chunk *done_head, *done_tail; /* unordered: done, not yet picked */
    chunk *cur;                   /* unordered: being yielded */
    chunk *unsent;                /* pulled but not submitted (submit failed) */
    chunk *retired;               /* last yielded, kept for weft_map_error */
    size_t inflight;              /* inputs pulled and not yet yielded */
    weft__deadline dl;            /* the whole iteration's, from weft_map_new */
    bool expired;                 /* dl passed while a weft_map_next waited */
    bool source_done;
    int source_err;
    bool ended;
    int err_code;
    const char *err_msg;
};

static chunk *chunk_new(weft_map *m, size_t n)
{
    /* One block: the chunk, then in, out, msg (pointers), then rc (ints). */
    size_t sz = sizeof(chunk) + n * (3 * sizeof(void *) + sizeof(int));
    chunk *c = weft__calloc(1, sz);
    if (!c)
        return NULL;
    c->m = m;
    c->in = (void **)(c + 1);
    c->out = c->in + n;
    c->msg = (char **)(c->out + n);
    c->rc = (int *)(c->msg + n);
    return c;
}

static void chunk_free(chunk *c)
{
    if (!c)
        return;
    for (size_t j = 0; j < c->n; j++)
        weft__free(c->msg[j]);
    if (c->f) {
        weft_future_error(c->f, NULL); /* abandoned with the map: read */
        weft_future_unref(c->f);
    }
    weft__free(c);
}

static int chunk_task(void *arg, void **result)
{
    chunk *c = arg;
    for (size_t j = 0; j < c->n; j++) {
        if (weft_cancelled()) {
            c->rc[j] = ECANCELED;
            continue;
        }
        weft__error_clear();
        c->rc[j] = c->m->fn(c->in[j], &c->out[j]);
        if (c->rc[j]) {
            c->out[j] = NULL;
            c->msg[j] = weft__error_take(c->rc[j]);
        }
    }
    return 0;
}

static int chunk_done(weft_future *f, void *ud)
{
    chunk *c = ud;
    weft_map *m = c->m;
    weft__lock(&m->mu);
    c->done = true;
    if (!m->unordered) { /* the consumer follows submission order */
        WEFT__CHECK(pthread_cond_broadcast(&m->cv));
        weft__unlock(&m->mu);
        return 0;
    }
    if (m->done_tail)
        m->done_tail->next_done = c;
    else
        m->done_head = c;
    m->done_tail = c;
    WEFT__CHECK(pthread_cond_broadcast(&m->cv));
    weft__unlock(&m->mu);
    return 0;
}

int weft_map_new(weft_map **out, weft_executor *ex, weft_fn *fn, weft_source_fn *source,
                 void *source_ud, double timeout, const weft_map_opts *opts)
{
    static const weft_map_opts defaults;
    weft__deadline dl;
    if (!out || !ex || !fn || !source || weft__deadline_init(&dl, timeout))
        return EINVAL;
    if (!opts)
        opts = &defaults;
    weft_map *m = weft__calloc(1, sizeof *m);
    if (!m)
        return ENOMEM;
    m->ex = ex;
    m->fn = fn;
    m->source = source;
    m->ud = source_ud;
    m->chunksize = opts->chunksize ? opts->chunksize : 1;
    m->buffersize = opts->buffersize ? opts->buffersize
                                     : 2 * (size_t)weft_executor_max_workers(ex) * m->chunksize;
    m->unordered = opts->unordered;
    m->dl = dl;
    weft__mutex_init(&m->mu);
    weft__cond_init(&m->cv);
    *out = m;
    return 0;
}

/* Pulls inputs and submits chunks until buffersize inputs are in flight or
 * the source ends. Returns 0 or a submit error (the pulled chunk is kept and
 * submitted on the next call). Caller's thread only. */
static int refill(weft_map *m)
{
    while (!m->source_done || m->unsent) {
        chunk *c = m->unsent;
        if (!c) {
            if (m->inflight >= m->buffersize)
                return 0;
            size_t want = m->buffersize - m->inflight;
            if (want > m->chunksize)
                want = m->chunksize;
            c = chunk_new(m, want);
            if (!c)
                return ENOMEM;
            while (c->n < want) {
                void *in = NULL;
                int r = m->source(m->ud, &in);
                if (r) {
                    m->source_done = true;
                    if (r != ENOENT)
                        m->source_err = r;
                    break;
                }
                c->in[c->n++] = in;
            }
            if (c->n == 0) {
                weft__free(c);
                return 0;
            }
            m->inflight += c->n;
        }
        m->unsent = NULL;
        weft_future *f;
        int rc = weft__executor_task_new(m->ex, &f);
        if (!rc) {
            /* Attached while the task cannot yet finish. */
            rc = weft_future_add_done_callback(f, chunk_done, c);
            if (!rc) {
                c->f = weft_future_ref(f);
                rc = weft__executor_enqueue(m->ex, f, chunk_task, c);
                if (rc) {
                    c->f = NULL;
                    weft_future_unref(f);
                    /* Fire the callback so nothing refers to c any more. */
                    weft_future_cancel(f);
                    weft__lock(&m->mu);
                    chunk *prev = NULL;
                    for (chunk *d = m->done_head; d; prev = d, d = d->next_done) {
                        if (d != c)
                            continue;
                        if (prev)
                            prev->next_done = c->next_done;
                        else
                            m->done_head = c->next_done;
                        if (m->done_tail == c)
                            m->done_tail = prev;
                        break;
                    }
                    weft__unlock(&m->mu);
                }
            }
            if (rc)
                weft_future_unref(f);
        }
        if (rc) {
            c->done = false;
            c->next_done = NULL;
            m->unsent = c;
            return rc;
        }
        weft__lock(&m->mu);
        if (m->tail)
            m->tail->next = c;
        else
            m->head = c;
        m->tail = c;
        weft__unlock(&m->mu);
    }
    return 0;
}

/* The earlier of two deadlines. */
static const weft__deadline *earlier(const weft__deadline *a, const weft__deadline *b)
{
    if (a->forever)
        return b;
    if (b->forever)
        return a;
    if (a->at.tv_sec != b->at.tv_sec)
        return a->at.tv_sec < b->at.tv_sec ? a : b;
    return a->at.tv_nsec <= b->at.tv_nsec ? a : b;
}

static const char expired_msg[] = "map: its timeout (given to weft_map_new) passed";

/* The map's own deadline passed: as Python's iterator after TimeoutError,
 * it yields nothing more; inputs not started are cancelled (running ones
 * finish; weft_map_free waits for them). Caller's thread, m->mu not held. */
static int expire(weft_map *m)
{
    if (!m->expired) {
        m->expired = true;
        for (chunk *c = m->head; c; c = c->next)
            weft_future_cancel(c->f);
    }
    m->err_code = ETIMEDOUT;
    m->err_msg = expired_msg;
    return ETIMEDOUT;
}

int weft_map_next(weft_map *m, double timeout, void **result, void **input)
{
    weft__deadline call_dl;
    if (!m || weft__deadline_init(&call_dl, timeout))
        return EINVAL;
    chunk_free(m->retired);
    m->retired = NULL;
    m->err_code = 0;
    m->err_msg = NULL;
    if (m->ended)
        return ENOENT;
    if (m->expired)
        return expire(m);
    const weft__deadline *dl = earlier(&call_dl, &m->dl);
    int rc = refill(m);
    if (rc)
        return rc;

    chunk *c = NULL;
    weft__cancel *tok = weft__wait_enter(&m->mu, &m->cv);
    weft__lock(&m->mu);
    for (;;) {
        if (m->unordered) {
            if (!m->cur && m->done_head) {
                m->cur = m->done_head;
                m->done_head = m->cur->next_done;
                if (!m->done_head)
                    m->done_tail = NULL;
            }
            c = m->cur;
        } else {
            c = m->head && m->head->done ? m->head : NULL;
        }
        if (c)
            break;
        if (!m->head) { /* nothing in flight and the source is done */
            rc = ENOENT;
            break;
        }
        if (weft__wait_cancelled(tok)) {
            rc = ECANCELED;
            break;
        }
        if (weft__cond_wait(&m->cv, &m->mu, dl) == ETIMEDOUT) {
            rc = ETIMEDOUT;
            break;
        }
    }
    weft__unlock(&m->mu);
    weft__wait_leave(tok);
    if (rc == ENOENT) {
        m->ended = true;
        if (m->source_err)
            return m->source_err; /* after every input it gave was yielded */
        return ENOENT;
    }
    if (rc == ETIMEDOUT && weft__deadline_passed(&m->dl))
        return expire(m);
    if (rc)
        return rc;

    size_t j = c->yielded++;
    const char *msg = NULL;
    int code;
    if (weft_future_cancelled(c->f)) {
        code = ECANCELED;
        msg = "cancelled before it ran";
    } else if ((code = weft_future_error(c->f, &msg)) == 0) {
        code = c->rc[j];
        msg = c->msg[j];
    }
    if (input)
        *input = c->in[j];
    if (result)
        *result = code ? NULL : c->out[j];
    if (c->yielded == c->n) {
        /* Unlinked by the consumer alone; the callback has run already. */
        weft__lock(&m->mu);
        if (m->unordered) {
            m->cur = NULL;
            chunk **pp = &m->head;
            chunk *prev = NULL;
            while (*pp != c) {
                prev = *pp;
                pp = &(*pp)->next;
            }
            *pp = c->next;
            if (m->tail == c)
                m->tail = prev;
        } else {
            m->head = c->next;
            if (!m->head)
                m->tail = NULL;
        }
        weft__unlock(&m->mu);
        m->inflight -= c->n;
        m->retired = c;
    }
    if (code) {
        m->err_code = code;
        m->err_msg = msg ? msg : weft_strerror(code);
        return WEFT_EFAILED;
    }
    return 0;
}

int weft_map_error(weft_map *m, const char **message)
{
    if (!m) {
        if (message)
            *message = NULL;
        return EINVAL;
    }
    if (message)
        *message = m->err_msg;
    return m->err_code;
}

void weft_map_free(weft_map *m)
{
    if (!m)
        return;
    for (chunk *c = m->head; c; c = c->next)
        weft_future_cancel(c->f);
    /* Running chunks use m and their chunk until their callback has run:
     * wait for every one, not cancellably (we are about to free them). */
    weft__lock(&m->mu);
    for (chunk *c = m->head; c; c = c->next)
        while (!c->done)
            weft__cond_wait(&m->cv, &m->mu, NULL);
    weft__unlock(&m->mu);
    for (chunk *c = m->head, *n; c; c = n) {
        n = c->next;
        chunk_free(c);
    }
    chunk_free(m->unsent);
    chunk_free(m->retired);
    WEFT__CHECK(pthread_cond_destroy(&m->cv));
    WEFT__CHECK(pthread_mutex_destroy(&m->mu));
    weft__free(m);
}
