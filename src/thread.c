/* thread.c: weft_thread, Python's threading.Thread on pthreads.
 *
 * DESIGN: the OS thread is created detached; the handle is reference counted
 * between the creator and the running thread (two references at start), so
 * whichever of weft_thread_free and the thread's end comes last frees it and
 * neither order can leak or touch freed memory. Joining waits on a `done`
 * flag under the handle's mutex with a monotonic condvar, so a join can time
 * out, be cancelled, and have any number of joiners. The error of a failed
 * thread is reported to the unhandled-error hook by exactly one party: the
 * thread itself if the handle was already freed when it ended, else
 * weft_thread_free if nobody read the error; the `freed`/`done` flags under
 * the handle's mutex decide which.
 *
 * Process exit: as in Python, non-daemon threads are joined at normal exit.
 * A process-wide count of running non-daemon threads (reg_mu, reg_cv) is
 * waited on by an atexit handler registered once, at the first non-daemon
 * start. A weft thread that calls exit() itself is not waited for.
 *
 * Lock order: a handle's mu and reg_mu are never held together. */
#include "internal.h"
#include "local-internal.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The OS keeps 15 bytes of a thread's name (16 with the NUL). */
#define OS_NAME_MAX 15

struct weft_thread {
    atomic_int refs; /* creator's handle + the running thread */
    pthread_mutex_t mu;
    pthread_cond_t cv; /* broadcast when done */
    atomic_bool done;  /* fn returned; result/code/message are final */
    bool freed;        /* the creator released its handle */
    bool error_read;   /* weft_thread_error was called, or it was reported */
    bool daemon;
    atomic_ulong ident; /* gettid() of the thread, 0 until it runs */
    weft_fn *fn;
    void *arg;
    void *result;
    int code;
    char *message; /* malloc'd; NULL when code == 0 */
    char *name;    /* malloc'd; immutable for the life of the handle */
};

/* The weft thread running on this OS thread (NULL for threads weft did not
 * start). It holds a reference, so its name stays valid until the end. */
static _Thread_local weft_thread *self;
/* Name set by weft_thread_set_current_name; owned through name_key so it is
 * freed at exit even on threads weft did not start. */
static _Thread_local char *renamed;
/* Buffer for "Dummy-<tid>". */
static _Thread_local char dummy_name[32];

static pthread_once_t name_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t name_key;
static int name_key_rc;

static atomic_ulong name_counter;

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t reg_cv = PTHREAD_COND_INITIALIZER;
static long reg_nondaemon; /* non-daemon weft threads not yet finished */
static pthread_once_t atexit_once = PTHREAD_ONCE_INIT;
static int atexit_rc;

/* ------------------------------------------------------------ process exit */

/* Python's threading._shutdown: wait for every non-daemon thread. A
 * non-daemon weft thread calling exit() counts itself and is not waited for. */
static void join_at_exit(void)
{
    long self_count = (self && !self->daemon && !atomic_load(&self->done)) ? 1 : 0;
    weft__lock(&reg_mu);
    while (reg_nondaemon > self_count)
        WEFT__CHECK(pthread_cond_wait(&reg_cv, &reg_mu));
    weft__unlock(&reg_mu);
}

/* fork() copies the count but only the forking thread: without a reset, a
 * child that calls exit() would wait forever for threads it does not have
 * (Python's _after_fork does the same). reg_mu is held across fork so the
 * child's copy is consistent, then made afresh. */
static void fork_prepare(void)
{
    weft__lock(&reg_mu);
}

static void fork_parent(void)
{
    weft__unlock(&reg_mu);
}

static void fork_child(void)
{
    weft__mutex_init(&reg_mu);
    WEFT__CHECK(pthread_cond_init(&reg_cv, NULL));
    /* The forking thread lives on in the child and uncounts itself when it
     * ends. */
    reg_nondaemon = (self && !self->daemon && !atomic_load(&self->done)) ? 1 : 0;
}

static void register_atexit(void)
{
    atexit_rc = atexit(join_at_exit) == 0 ? 0 : ENOMEM;
    if (atexit_rc == 0)
        atexit_rc = pthread_atfork(fork_prepare, fork_parent, fork_child);
}

static void unregister_nondaemon(void)
{
    weft__lock(&reg_mu);
    if (--reg_nondaemon == 0)
        WEFT__CHECK(pthread_cond_broadcast(&reg_cv));
    weft__unlock(&reg_mu);
}

/* ------------------------------------------------------------ names */

/* Copies at most OS_NAME_MAX bytes of name, not cutting a UTF-8 sequence. */
static void os_name(char out[OS_NAME_MAX + 1], const char *name)
{
    size_t n = strlen(name);
    if (n > OS_NAME_MAX) {
        n = OS_NAME_MAX;
        /* Back off over continuation bytes (10xxxxxx) so the cut lands on the
         * first byte of a character, which is then left out. */
        while (n > 0 && ((unsigned char)name[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(out, name, n);
    out[n] = '\0';
}

static void set_os_name(const char *name)
{
    char buf[OS_NAME_MAX + 1];
    os_name(buf, name);
    /* Best effort: a name the OS cannot take is no reason to fail. */
    (void)pthread_setname_np(pthread_self(), buf);
}

/* Runs at the end of a thread that renamed itself; clearing `renamed` keeps
 * later destructors that ask for the name off the freed copy. */
static void free_renamed(void *p)
{
    if (renamed == p)
        renamed = NULL;
    weft__free(p);
}

static void make_name_key(void)
{
    name_key_rc = pthread_key_create(&name_key, free_renamed);
}

/* ------------------------------------------------------------ lifetime */

static void release(weft_thread *t)
{
    if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1)
        return;
    WEFT__CHECK(pthread_cond_destroy(&t->cv));
    WEFT__CHECK(pthread_mutex_destroy(&t->mu));
    weft__free(t->message);
    weft__free(t->name);
    weft__free(t);
}

static void *trampoline(void *p)
{
    weft_thread *t = p;
    bool daemon = t->daemon;
    self = t;
    atomic_store_explicit(&t->ident, (unsigned long)gettid(), memory_order_release);
    set_os_name(t->name);

    weft__error_clear();
    void *result = NULL;
    int rc = t->fn(t->arg, &result);
    char *msg = NULL;
    if (rc != 0)
        msg = weft__error_take(rc);
    /* The thread's weft_local values go before it counts as ended, so
     * join() and the exit-time join wait for their destructors (as Python's
     * join waits for threading.local values); the pthread key destructor
     * would run only after this function returns. */
    weft__local_thread_exit();

    weft__lock(&t->mu);
    t->result = rc == 0 ? result : NULL;
    t->code = rc;
    t->message = msg;
    bool report = rc != 0 && t->freed;
    if (report)
        t->error_read = true;
    atomic_store_explicit(&t->done, true, memory_order_release);
    WEFT__CHECK(pthread_cond_broadcast(&t->cv));
    weft__unlock(&t->mu);

    /* Nobody holds the handle any more: this thread is the last to know. */
    if (report)
        weft_report_unhandled(t->name, rc, msg ? msg : weft_strerror(rc));

    self = NULL;
    release(t);
    /* Last, so the exit handler cannot return while this thread still
     * touches weft state. */
    if (!daemon)
        unregister_nondaemon();
    return NULL;
}

/* ------------------------------------------------------------ public */

int weft_thread_start(weft_thread **out, weft_fn *fn, void *arg, const weft_thread_opts *opts)
{
    if (!out || !fn)
        return EINVAL;
    weft_thread_opts o = {0};
    if (opts)
        o = *opts;

    size_t stack = 0;
    if (o.stack_size > 0) {
        long page = sysconf(_SC_PAGESIZE);
        size_t min = PTHREAD_STACK_MIN;
        stack = o.stack_size < min ? min : o.stack_size;
        if (page > 0) {
            size_t pg = (size_t)page;
            if (stack > SIZE_MAX - pg)
                return EINVAL;
            stack = (stack + pg - 1) / pg * pg;
        }
    }

    if (!o.daemon) {
        WEFT__CHECK(pthread_once(&atexit_once, register_atexit));
        if (atexit_rc)
            return atexit_rc;
    }

    weft_thread *t = weft__calloc(1, sizeof *t);
    if (!t)
        return ENOMEM;
    if (o.name) {
        t->name = weft__strdup(o.name);
    } else {
        char buf[32];
        snprintf(buf, sizeof buf, "Thread-%lu", atomic_fetch_add(&name_counter, 1) + 1);
        t->name = weft__strdup(buf);
    }
    if (!t->name) {
        weft__free(t);
        return ENOMEM;
    }
    atomic_init(&t->refs, 2);
    atomic_init(&t->done, false);
    atomic_init(&t->ident, 0);
    t->daemon = o.daemon;
    t->fn = fn;
    t->arg = arg;
    weft__mutex_init(&t->mu);
    weft__cond_init(&t->cv);

    pthread_attr_t attr;
    int rc = pthread_attr_init(&attr);
    if (rc == 0) {
        WEFT__CHECK(pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED));
        if (stack)
            rc = pthread_attr_setstacksize(&attr, stack);
    }
    if (rc == 0) {
        /* Counted before the thread exists, so it can never uncount first. */
        if (!o.daemon) {
            weft__lock(&reg_mu);
            reg_nondaemon++;
            weft__unlock(&reg_mu);
        }
        pthread_t th;
        rc = pthread_create(&th, &attr, trampoline, t);
        if (rc != 0 && !o.daemon)
            unregister_nondaemon();
    }
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        atomic_store(&t->refs, 1);
        release(t);
        return rc == EPERM ? EAGAIN : rc;
    }
    *out = t;
    return 0;
}

int weft_thread_join(weft_thread *t, double timeout)
{
    if (!t)
        return EINVAL;
    weft__deadline dl;
    int rc = weft__deadline_init(&dl, timeout);
    if (rc)
        return rc;
    if (t == self)
        return EDEADLK;
    if (atomic_load_explicit(&t->done, memory_order_acquire))
        return 0;
    weft__cancel *tok = weft__wait_enter(&t->mu, &t->cv);
    weft__lock(&t->mu);
    while (!atomic_load_explicit(&t->done, memory_order_relaxed)) {
        if (weft__wait_cancelled(tok)) {
            rc = ECANCELED;
            break;
        }
        if (weft__cond_wait(&t->cv, &t->mu, &dl) == ETIMEDOUT &&
            !atomic_load_explicit(&t->done, memory_order_relaxed)) {
            rc = ETIMEDOUT;
            break;
        }
    }
    weft__unlock(&t->mu);
    weft__wait_leave(tok);
    return rc;
}

bool weft_thread_is_alive(const weft_thread *t)
{
    return t && !atomic_load_explicit(&t->done, memory_order_acquire);
}

const char *weft_thread_name(const weft_thread *t)
{
    return t ? t->name : "";
}

unsigned long weft_thread_ident(const weft_thread *t)
{
    return t ? atomic_load_explicit(&t->ident, memory_order_acquire) : 0;
}

void *weft_thread_result(const weft_thread *t)
{
    if (!t || !atomic_load_explicit(&t->done, memory_order_acquire))
        return NULL;
    return t->result;
}

int weft_thread_error(weft_thread *t, const char **message)
{
    int code = 0;
    const char *msg = NULL;
    if (t) {
        weft__lock(&t->mu);
        if (atomic_load_explicit(&t->done, memory_order_relaxed)) {
            code = t->code;
            msg = t->message;
            if (code != 0 && !msg)
                msg = weft_strerror(code);
            t->error_read = true;
        }
        weft__unlock(&t->mu);
    }
    if (message)
        *message = msg;
    return code;
}

void weft_thread_free(weft_thread *t)
{
    if (!t)
        return;
    weft__lock(&t->mu);
    t->freed = true;
    bool report =
        atomic_load_explicit(&t->done, memory_order_relaxed) && t->code != 0 && !t->error_read;
    if (report)
        t->error_read = true;
    weft__unlock(&t->mu);
    if (report)
        weft_report_unhandled(t->name, t->code, t->message ? t->message : weft_strerror(t->code));
    release(t);
}

const char *weft_thread_current_name(void)
{
    if (renamed)
        return renamed;
    if (self)
        return self->name;
    pid_t tid = gettid();
    if (tid == getpid())
        return "MainThread";
    snprintf(dummy_name, sizeof dummy_name, "Dummy-%ld", (long)tid);
    return dummy_name;
}

int weft_thread_set_current_name(const char *name)
{
    if (!name)
        return EINVAL;
    WEFT__CHECK(pthread_once(&name_key_once, make_name_key));
    if (name_key_rc)
        return name_key_rc;
    char *copy = weft__strdup(name);
    if (!copy)
        return ENOMEM;
    int rc = pthread_setspecific(name_key, copy);
    if (rc) {
        weft__free(copy);
        return rc;
    }
    char *old = renamed;
    renamed = copy;
    weft__free(old);
    set_os_name(copy);
    return 0;
}

unsigned long weft_thread_current_ident(void)
{
    return (unsigned long)gettid();
}
