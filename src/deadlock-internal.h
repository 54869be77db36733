/* deadlock-internal.h: how the primitives (lock.c, rlock.c, cond.c, sem.c,
 * barrier.c) feed the deadlock detector (deadlock.c).
 *
 * DESIGN: each checked object embeds a weft__dl_obj: how to name its class
 * (a copied name, a static file:line, or its creator's address), resolved to
 * a class only the first time the detector meets it, so that creating and
 * freeing objects costs nothing extra while the detector is off. Every hook
 * is called only behind weft__dl_maybe_on(), one relaxed load of a global
 * word that is nonzero when the detector is on or the environment has not
 * been read yet; each hook then resolves that with weft__dl_on(). */
#ifndef WEFT_DEADLOCK_INTERNAL_H
#define WEFT_DEADLOCK_INTERNAL_H

#include "base-internal.h"

typedef struct weft__dl_class weft__dl_class;

typedef struct weft__dl_obj {
    _Atomic(weft__dl_class *) cls; /* NULL until first met with the detector on */
    char *name;                    /* owned copy, or NULL */
    const char *file;              /* static (__FILE__), or NULL */
    unsigned line;
    const void *pc;   /* the creator's return address, when no name nor file */
    const char *kind; /* "lock", "semaphore"...: for class names made from pc */
} weft__dl_obj;

/* -1: WEFT_DEADLOCK not read yet; otherwise a weft_deadlock_mode. Hidden, so
 * that position-independent code loads it directly, not through the GOT. */
extern atomic_int weft__dl_state __attribute__((visibility("hidden")));

static inline bool weft__dl_maybe_on(void)
{
    return WEFT__UNLIKELY(atomic_load_explicit(&weft__dl_state, memory_order_relaxed) != 0);
}
/* Reads the environment once if needed; true when checking. */
bool weft__dl_on(void);

/* name is taken over (freed by weft__dl_obj_destroy). */
void weft__dl_obj_init(weft__dl_obj *o, const char *kind, char *name, const char *file,
                       unsigned line, const void *pc);
void weft__dl_obj_destroy(weft__dl_obj *o);

/* The calling thread is about to block acquiring (or waiting on) o, from the
 * user's call at pc: record an edge from each lock it holds and report a
 * cycle. Called only when weft__dl_on(). */
void weft__dl_before_wait(weft__dl_obj *o, const void *pc);
/* The calling thread now holds lock instance inst of class o; trylock when
 * it was taken without blocking (timeout 0). */
void weft__dl_acquired(weft__dl_obj *o, const void *inst, const void *pc, bool trylock);
/* The calling thread released lock instance inst (no-op if not recorded). */
void weft__dl_released(const void *inst);

/* Semaphores: a permit of sem instance inst was taken by the calling thread;
 * and one is being given back by it (edges sem -> each lock it holds,
 * except the locks it already held when it took a permit itself). */
void weft__dl_sem_acquired(const void *inst);
void weft__dl_sem_released(weft__dl_obj *o, const void *inst, const void *pc);

/* Emits an already formatted report. */
void weft__dl_report(const char *text);

/* The wait-for graph. A thread about to block on a lock or on a future's
 * result registers what it waits for (w lives on its stack until
 * weft__dl_wait_done), then the chain "waits for lock L, held by T; T waits
 * for future F, running on worker W; W waits for..." is walked; if it comes
 * back to the caller, the wait would never end: the cycle is reported, w is
 * not registered and EDEADLK is returned (the caller must not wait). The
 * walk only reads objects that registered threads are blocked on, which
 * stay alive while they are. Called only when weft__dl_on(). */
typedef struct weft__dl_wait {
    struct weft__dl_wait *next;
    uint64_t self;
    const weft_lock *lock; /* exactly one of lock and runner is set */
    /* For a future: its runner word (weft__self_id of the worker running
     * its task, 0 when none) and its name (or NULL), so that this file need
     * not know the future's layout (future.c calls in, never the reverse). */
    const atomic_uint_fast64_t *runner;
    const char *future_name;
    const void *pc;
    char thread[48];
} weft__dl_wait;
int weft__dl_wait_lock(weft__dl_wait *w, const weft_lock *l, const void *pc);
int weft__dl_wait_future(weft__dl_wait *w, const atomic_uint_fast64_t *runner, const char *name,
                         const void *pc);
void weft__dl_wait_done(weft__dl_wait *w);

/* A wait from inside a task (call: "weft_future_result"...) returned EDEADLK
 * because its own pool is stuck (every other worker blocked on it, none free):
 * report it (when the detector is on). one: the call waited on one future
 * (named `name`, NULL if unnamed), else on a set. */
void weft__dl_report_pool(const char *call, bool one, const char *name);
/* A call that would wait for the calling thread itself (call:
 * "weft_executor_shutdown", where: "one of the executor's own workers")
 * returned EDEADLK: report it (when the detector is on). */
void weft__dl_report_self(const char *call, const char *where);

/* Tests: graph searches run so far (the chain cache avoids them); threads
 * registered as blocked in the wait-for graph now. */
unsigned long weft__dl_searches(void);
unsigned weft__dl_n_blocked(void);

#endif
