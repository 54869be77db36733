/* deadlock-waitfor.c: the wait-for detector. A thread about to block on a
 * lock or on a future's result registers a record "I wait for X" in a
 * global list, then follows X to the thread that can end the wait (a
 * lock's owner, a running task's worker), that thread's record, and so on.
 * A chain that comes back to the caller is a deadlock happening now: it is
 * reported and the caller gets EDEADLK instead of waiting. Registration and
 * walk are one critical section, so of the threads closing a cycle exactly
 * one sees it. A thread in the chain that is not registered (it is running)
 * ends the walk.
 *
 * Lock order: wf_mu before deadlock-order.c's graph_mu (a report names lock
 * classes); no weft lock is taken by this file. */
#include "clock-internal.h"
#include "deadlock-detector-internal.h"
#include "sync-internal.h"

static pthread_mutex_t wf_mu = PTHREAD_MUTEX_INITIALIZER;
static weft__dl_wait *blocked; /* registered waits, under wf_mu */
static unsigned n_blocked;     /* under wf_mu */

#define WF_MAX_CHAIN 16

unsigned weft__dl_n_blocked(void)
{
    weft__lock(&wf_mu);
    unsigned n = n_blocked;
    weft__unlock(&wf_mu);
    return n;
}

/* wf_mu held. The thread that can end w's wait, or 0. */
static uint64_t wf_next(const weft__dl_wait *w)
{
    if (w->lock)
        return atomic_load_explicit(&((weft_lock *)w->lock)->owner, memory_order_relaxed);
    return atomic_load_explicit(w->runner, memory_order_relaxed);
}

static const weft__dl_wait *wf_find(uint64_t id)
{
    for (const weft__dl_wait *w = blocked; w; w = w->next)
        if (w->self == id)
            return w;
    return NULL;
}

/* wf_mu held. One line for "thread waits for X, which thread Y can end". */
static void wf_line(weft__dl_text *r, const weft__dl_wait *w, const weft__dl_wait *next)
{
    char at[128];
    weft__dl_fmt_pc(at, sizeof at, w->pc);
    if (w->lock) {
        const char *cls = weft__dl_class_name(&((weft_lock *)w->lock)->dl);
        weft__dl_put(r, "    thread \"%s\" waits (at %s) for lock \"%s\", held by thread \"%s\"\n",
                     w->thread, at, cls, next->thread);
    } else {
        const char *name = w->future_name;
        weft__dl_put(r,
                     "    thread \"%s\" waits (at %s) for the result of future \"%s\", whose task "
                     "runs on thread \"%s\"\n",
                     w->thread, at, name ? name : "(unnamed)", next->thread);
    }
}

static int wf_enter(weft__dl_wait *w, const void *pc)
{
    w->self = weft__self_id();
    w->pc = pc;
    weft__dl_thread_name(w->thread, sizeof w->thread);
    weft__dl_text r = {0};
    weft__lock(&wf_mu);
    const weft__dl_wait *path[WF_MAX_CHAIN];
    unsigned n = 0;
    const weft__dl_wait *cur = w;
    bool cycle = false;
    while (n < WF_MAX_CHAIN) {
        path[n++] = cur;
        uint64_t id = wf_next(cur);
        if (id == 0 || id == cur->self)
            break; /* free, or granted and about to leave: not waiting */
        if (id == w->self) {
            cycle = true;
            break;
        }
        cur = wf_find(id);
        if (!cur)
            break; /* that thread is running: it can still end the chain */
    }
    if (cycle) {
        weft__dl_put(
            &r,
            "weft: deadlock: wait-for cycle; weft returns EDEADLK to thread \"%s\" instead "
            "of waiting forever\n",
            w->thread);
        for (unsigned i = 0; i < n; i++)
            wf_line(&r, path[i], path[(i + 1) % n]);
        weft__dl_put(&r,
                     "  Fix: do not wait for a task while holding a lock that the task takes (see "
                     "docs/deadlock.md).\n");
    } else {
        w->next = blocked;
        blocked = w;
        n_blocked++;
    }
    weft__unlock(&wf_mu);
    if (!cycle)
        return 0;
    weft__dl_send(&r);
    return EDEADLK;
}

int weft__dl_wait_lock(weft__dl_wait *w, const weft_lock *l, const void *pc)
{
    w->lock = l;
    w->runner = NULL;
    w->future_name = NULL;
    return wf_enter(w, pc);
}

int weft__dl_wait_future(weft__dl_wait *w, const atomic_uint_fast64_t *runner, const char *name,
                         const void *pc)
{
    w->lock = NULL;
    w->runner = runner;
    w->future_name = name;
    return wf_enter(w, pc);
}

void weft__dl_wait_done(weft__dl_wait *w)
{
    weft__lock(&wf_mu);
    for (weft__dl_wait **p = &blocked; *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            n_blocked--;
            break;
        }
    }
    weft__unlock(&wf_mu);
}
