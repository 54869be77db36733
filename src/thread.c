/* thread.c: weft_thread, Python's threading.Thread on pthreads, and the
 * threading module's functions about threads (current_thread, main_thread,
 * enumerate, active_count, get_ident, get_native_id, stack_size).
 *
 * DESIGN: the OS thread is created detached; the struct is reference counted
 * between the user's handles and the running thread (`refs`: two at start),
 * so whichever of the last weft_thread_free and the thread's end comes last
 * frees it and neither order can leak or touch freed memory. `handles`
 * counts the user's handles alone (start gives one, weft_thread_ref and
 * weft_thread_enumerate more): the thread is detached when it reaches 0.
 * Joining waits on a `done` flag under the handle's mutex with a monotonic
 * condvar, so a join can time out, be cancelled, and have any number of
 * joiners.
 *
 * Errors, as Python's threading.excepthook: a failed thread reports itself
 * to the unhandled-error hook on its own thread, before it counts as ended,
 * so a join returns only after the hook ran. A collect_error thread instead
 * keeps its error for weft_thread_error, and exactly one party reports it if
 * nobody read it: the thread itself if its last handle was freed before it
 * ended, else the weft_thread_free that drops the last handle; the
 * `handles`/`done`/`error_read` state under the handle's mutex decides.
 *
 * Registry: every weft thread from start until it ends is on a list under
 * reg_mu (enumerate, active_count), and the non-daemon ones are counted
 * there too. Python's threading._shutdown: an atexit handler, registered
 * once at the first non-daemon start, waits for that count to reach 0. A
 * weft thread that calls exit() itself is not waited for.
 *
 * The main thread has a static handle that never ends; threads weft did not
 * start have none (weft_thread_current gives NULL there).
 *
 * Lock order: reg_mu, then a handle's mu (enumerate takes a reference with
 * both held); nothing else is taken with either held. */
#include "cancel-internal.h"
#include "local-internal.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The OS keeps 15 bytes of a thread's name (16 with the NUL). */
#define OS_NAME_MAX 15

struct weft_thread {
    atomic_int refs; /* the user's handles + the running thread */
    pthread_mutex_t mu;
    pthread_cond_t cv; /* broadcast when done */
    atomic_bool done;  /* fn returned; result/code/message are final */
    int handles;       /* the user's handles; under mu; 0: detached */
    bool error_read;   /* weft_thread_error was called, or it was reported */
    bool daemon;
    bool collect_error;                      /* see weft_thread_opts */
    bool is_main;                            /* the static handle of the main thread */
    struct weft_thread *reg_prev, *reg_next; /* the registry; under reg_mu */
    atomic_ulong ident;                      /* gettid() of the thread, 0 until it runs */
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
/* Weft threads from start until they end, oldest first. */
static weft_thread *reg_head, *reg_tail;
static size_t reg_count;
static pthread_once_t atexit_once = PTHREAD_ONCE_INIT;
static int atexit_rc;

/* The default stack size of new threads (weft_thread_set_stack_size). */
static atomic_size_t default_stack;

/* The main thread's handle, made on first use. */
static weft_thread main_thread;
static pthread_once_t main_once = PTHREAD_ONCE_INIT;

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
     * ends; it is the only registered thread left. The others' structs stay
     * allocated (their handles may still be held) but leave the list. */
    bool alive = self && !atomic_load(&self->done);
    reg_nondaemon = (alive && !self->daemon) ? 1 : 0;
    reg_head = reg_tail = alive ? self : NULL;
    reg_count = alive ? 1 : 0;
    if (alive)
        self->reg_prev = self->reg_next = NULL;
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

/* Puts t on the registry (it counts as alive from here). */
static void reg_add(weft_thread *t)
{
    weft__lock(&reg_mu);
    t->reg_next = NULL;
    t->reg_prev = reg_tail;
    if (reg_tail)
        reg_tail->reg_next = t;
    else
        reg_head = t;
    reg_tail = t;
    reg_count++;
    if (!t->daemon)
        reg_nondaemon++;
    weft__unlock(&reg_mu);
}

/* Takes t off the registry (enumerate no longer lists it). */
static void reg_remove(weft_thread *t)
{
    weft__lock(&reg_mu);
    if (t->reg_prev)
        t->reg_prev->reg_next = t->reg_next;
    else if (reg_head == t)
        reg_head = t->reg_next;
    if (t->reg_next)
        t->reg_next->reg_prev = t->reg_prev;
    else if (reg_tail == t)
        reg_tail = t->reg_prev;
    t->reg_prev = t->reg_next = NULL;
    reg_count--;
    weft__unlock(&reg_mu);
}

/* The process's first thread: its TID is the process id (in a child made by
 * fork(), the forking thread's TID is the child's pid). */
static bool on_main_thread(void)
{
    return gettid() == getpid();
}

static void make_main_thread(void)
{
    weft_thread *t = &main_thread;
    atomic_init(&t->refs, 1);
    atomic_init(&t->done, false);
    atomic_init(&t->ident, 0);
    weft__mutex_init(&t->mu);
    weft__cond_init(&t->cv);
    t->handles = 1;
    t->is_main = true;
    t->name = (char *)"MainThread";
}

static weft_thread *main_handle(void)
{
    WEFT__CHECK(pthread_once(&main_once, make_main_thread));
    return &main_thread;
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
    if (t->is_main)
        return;
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
    /* Python's excepthook: on this thread, while it is still alive, so a
     * join returns only after the report. No weft lock is held. */
    if (rc != 0 && !t->collect_error)
        weft_report_unhandled(t->name, rc, msg ? msg : weft_strerror(rc));
    /* The thread's weft_local values go before it counts as ended, so
     * join() and the exit-time join wait for their destructors (as Python's
     * join waits for threading.local values); the pthread key destructor
     * would run only after this function returns. */
    weft__local_thread_exit();
    reg_remove(t);

    weft__lock(&t->mu);
    t->result = rc == 0 ? result : NULL;
    t->code = rc;
    t->message = msg;
    /* A collect_error thread with no handle left: nobody can read it. */
    bool report = rc != 0 && t->collect_error && t->handles == 0 && !t->error_read;
    if (report || !t->collect_error)
        t->error_read = true;
    atomic_store_explicit(&t->done, true, memory_order_release);
    WEFT__CHECK(pthread_cond_broadcast(&t->cv));
    weft__unlock(&t->mu);

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

/* Rounds *size up to a whole number of pages. Returns 0 or EINVAL (it
 * would overflow). */
static int round_to_page(size_t *size)
{
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0)
        return 0;
    size_t pg = (size_t)page;
    if (*size > SIZE_MAX - pg)
        return EINVAL;
    *size = (*size + pg - 1) / pg * pg;
    return 0;
}

/* ------------------------------------------------------------ public */

int weft_thread_start(weft_thread **out, weft_fn *fn, void *arg, const weft_thread_opts *opts)
{
    if (!out || !fn)
        return EINVAL;
    weft_thread_opts o = {0};
    if (opts)
        o = *opts;
    bool daemon;
    switch (o.daemon) {
    case WEFT_DAEMON_INHERIT:
        /* Python: daemon=None takes the starting thread's flag; the main
         * thread and threads weft did not start are not daemons. */
        daemon = self ? self->daemon : false;
        break;
    case WEFT_DAEMON_YES:
        daemon = true;
        break;
    case WEFT_DAEMON_NO:
        daemon = false;
        break;
    default:
        return EINVAL;
    }

    size_t stack = 0;
    if (o.stack_size > 0) {
        size_t min = PTHREAD_STACK_MIN;
        stack = o.stack_size < min ? min : o.stack_size;
        if (round_to_page(&stack) != 0)
            return EINVAL;
    } else {
        stack = atomic_load_explicit(&default_stack, memory_order_relaxed);
    }

    if (!daemon) {
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
    t->handles = 1;
    t->daemon = daemon;
    t->collect_error = o.collect_error;
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
        /* Registered (and counted) before the thread exists, so it can
         * never leave the registry first. */
        reg_add(t);
        pthread_t th;
        rc = pthread_create(&th, &attr, trampoline, t);
        if (rc != 0) {
            reg_remove(t);
            if (!daemon)
                unregister_nondaemon();
        }
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
    if (t == self || (t->is_main && !self && on_main_thread()))
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
    if (t && t->is_main)
        return (unsigned long)getpid();
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
    if (!t) {
        code = EINVAL;
    } else {
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
    if (!t || t->is_main)
        return;
    weft__lock(&t->mu);
    bool last = --t->handles == 0;
    bool report = last && t->collect_error &&
                  atomic_load_explicit(&t->done, memory_order_relaxed) && t->code != 0 &&
                  !t->error_read;
    if (report)
        t->error_read = true;
    weft__unlock(&t->mu);
    if (report)
        weft_report_unhandled(t->name, t->code, t->message ? t->message : weft_strerror(t->code));
    release(t);
}

weft_thread *weft_thread_ref(weft_thread *t)
{
    if (!t || t->is_main)
        return t;
    weft__lock(&t->mu);
    t->handles++;
    atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
    weft__unlock(&t->mu);
    return t;
}

bool weft_thread_is_daemon(const weft_thread *t)
{
    return t && t->daemon;
}

weft_thread *weft_thread_current(void)
{
    if (self)
        return self;
    return on_main_thread() ? main_handle() : NULL;
}

weft_thread *weft_thread_main(void)
{
    return main_handle();
}

size_t weft_thread_enumerate(weft_thread **out, size_t cap)
{
    if (!out)
        cap = 0;
    size_t n = 0;
    if (n < cap)
        out[n] = main_handle();
    n++;
    weft__lock(&reg_mu);
    for (weft_thread *t = reg_head; t; t = t->reg_next) {
        /* On the list means the running thread still holds its reference,
         * so t cannot be freed under us. */
        if (n < cap)
            out[n] = weft_thread_ref(t);
        n++;
    }
    weft__unlock(&reg_mu);
    return n;
}

size_t weft_thread_active_count(void)
{
    weft__lock(&reg_mu);
    size_t n = 1 + reg_count;
    weft__unlock(&reg_mu);
    return n;
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

unsigned long weft_thread_get_native_id(void)
{
    return (unsigned long)gettid();
}

unsigned long long weft_thread_get_ident(void)
{
    return weft__self_id();
}

size_t weft_thread_stack_size(void)
{
    return atomic_load_explicit(&default_stack, memory_order_relaxed);
}

int weft_thread_set_stack_size(size_t size)
{
    if (size != 0) {
        if (size < (size_t)PTHREAD_STACK_MIN)
            return EINVAL;
        if (round_to_page(&size) != 0)
            return EINVAL;
    }
    atomic_store_explicit(&default_stack, size, memory_order_relaxed);
    return 0;
}
