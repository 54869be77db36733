/* deadlock-order.c: the lock-order detector: a lock-order graph over lock classes,
 * checked for cycles as locks are taken (Linux's lockdep, Abseil's Mutex).
 *
 * DESIGN
 * - Classes. A lock's class is its name, or "file:line" of its creation, or
 *   its creator's address (deadlock-internal.h). Classes are interned in a
 *   table keyed by that string and never freed, so a freed lock's class
 *   outlives it harmlessly and a new lock at the same address gets its own
 *   class: per-instance state (the name copy, the cached class pointer) goes
 *   with the lock.
 * - Held stack. Each thread keeps the locks it holds, in order, in a
 *   fixed-size array; deeper nesting is counted but not checked (one
 *   warning). The array is allocated at the thread's first acquisition with
 *   the detector on and freed by a pthread key destructor when the thread
 *   ends (threads weft did not start too): a thread-local array would be
 *   zeroed by glibc in every new thread, one more page per thread even with
 *   the detector off. It comes from plain calloc, not weft__calloc, so that
 *   fault injection aimed at a constructor cannot switch the checks off;
 *   when even calloc fails, that thread's locks go unchecked (one warning). Each entry stores the
 * chain key of the stack up to it: a hash of the sequence of (class, trylock) pairs, as lockdep's.
 * - Edges. When a thread is about to block on class C, it adds the edge
 *   H -> C for the held entries H from the top down to the first one that
 *   was not a try-acquire, as lockdep does: lower entries are already
 *   connected to C through that one (its own acquisition added their edges
 *   to it), and a try-acquired entry added none. Before adding H -> C it
 *   searches the graph for a path C ->* H; finding one is a cycle, reported
 *   with the path. The closing edge is then kept but marked, so the search
 *   never walks it and the graph stays acyclic: each inversion is reported
 *   once. Edges between locks of one class are not recorded (nesting two
 *   locks created at one site is common and ordered by other means).
 * - Chain cache. After its edges are added, the key "held chain + C" goes
 *   into a lock-free open-addressed set; the next acquisition with the same
 *   held sequence and the same class costs one hash lookup, no search.
 * - Try-acquires (timeout 0) cannot block, so they add no edge to the lock
 *   they take (a trylock in the "wrong" order is how code legitimately backs
 *   out of an inversion); they are still pushed, and edges from them to
 *   locks taken later are recorded as usual.
 * - Semaphores and barriers are not owned, so they are never pushed; a
 *   blocking wait on one adds edges held -> its class like a lock. A
 *   semaphore release adds edges sem -> each lock the releaser holds (the
 *   waiters depend on it getting there: lockdep's "cross-release"), except
 *   the locks under which that same thread took a permit itself (a nested
 *   "lock; sem_acquire; sem_release; unlock" section is not a hand-off).
 * - Reports are formatted under the graph mutex into a buffer and emitted
 *   after it is released, so the user's hook runs with no weft lock held.
 *
 * Lock order: deadlock-waitfor.c's wf_mu before graph_mu (a wait-for report
 * names lock classes); no weft lock is taken by this file. */
#include "clock-internal.h"
#include "deadlock-detector-internal.h"
#include "sync-internal.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAX_HELD      48
#define MAX_CLASSES   4096
#define CLASS_BUCKETS 1024
#define CHAIN_SLOTS   (1u << 14)
#define CHAIN_PROBES  16

/* ------------------------------------------------------------ graph */

enum edge_kind { EDGE_ACQUIRE, EDGE_WAIT, EDGE_RELEASE };

typedef struct edge {
    struct edge *next; /* in from->out */
    weft__dl_class *to;
    bool closing; /* closed a cycle when added: reported, never walked */
    enum edge_kind kind;
    const void *pc;      /* the call that made the edge */
    const void *held_pc; /* where the held lock was taken */
    char thread[WEFT__DL_NAME_SIZE];
} edge;

struct weft__dl_class {
    unsigned id;
    char *name;
    weft__dl_class *hnext; /* bucket chain */
    edge *out;
    /* Search scratch, under graph_mu. */
    unsigned visit;
    weft__dl_class *parent;
    edge *via;
};

static pthread_mutex_t graph_mu = PTHREAD_MUTEX_INITIALIZER;
static weft__dl_class *buckets[CLASS_BUCKETS]; /* under graph_mu */
static unsigned n_classes;                     /* under graph_mu */
static unsigned visit_gen;                     /* under graph_mu */
static weft__dl_class *queue_[MAX_CLASSES];    /* BFS queue, under graph_mu */
static bool full_warned;                       /* under graph_mu */
static atomic_ulong searches;

unsigned long weft__dl_searches(void)
{
    return atomic_load(&searches);
}

static uint64_t hash_bytes(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h ? h : 1; /* 0 marks an empty cache slot */
}

/* The class key of o, into buf. */
static void class_key(char *buf, size_t n, const weft__dl_obj *o)
{
    if (o->name) {
        snprintf(buf, n, "%s", o->name);
    } else if (o->file) {
        snprintf(buf, n, "%s:%u", weft__dl_base_name(o->file), o->line);
    } else {
        char where[128];
        weft__dl_fmt_pc(where, sizeof where, o->pc);
        snprintf(buf, n, "%s created at %s", o->kind, where);
    }
}

/* graph_mu held. NULL when the table is full or memory short. */
static weft__dl_class *intern(const char *key)
{
    uint64_t h = hash_bytes(key) % CLASS_BUCKETS;
    for (weft__dl_class *c = buckets[h]; c; c = c->hnext)
        if (strcmp(c->name, key) == 0)
            return c;
    if (n_classes == MAX_CLASSES) {
        if (!full_warned)
            fprintf(stderr,
                    "weft: deadlock detector: more than %d lock classes; new ones are "
                    "not checked\n",
                    MAX_CLASSES);
        full_warned = true;
        return NULL;
    }
    weft__dl_class *c = weft__calloc(1, sizeof *c);
    char *name = weft__strdup(key);
    if (!c || !name) {
        weft__free(c);
        weft__free(name);
        return NULL;
    }
    c->id = ++n_classes;
    c->name = name;
    c->hnext = buckets[h];
    buckets[h] = c;
    return c;
}

static weft__dl_class *class_of(weft__dl_obj *o)
{
    weft__dl_class *c = atomic_load_explicit(&o->cls, memory_order_acquire);
    if (WEFT__LIKELY(c != NULL))
        return c;
    char key[256];
    class_key(key, sizeof key, o);
    weft__lock(&graph_mu);
    c = intern(key);
    weft__unlock(&graph_mu);
    if (c)
        atomic_store_explicit(&o->cls, c, memory_order_release);
    return c;
}

const char *weft__dl_class_name(weft__dl_obj *o)
{
    weft__dl_class *c = class_of(o);
    return c ? c->name : "?";
}

void weft__dl_obj_init(weft__dl_obj *o, const char *kind, char *name, const char *file,
                       unsigned line, const void *pc)
{
    atomic_init(&o->cls, NULL);
    o->name = name;
    o->file = file;
    o->line = line;
    o->pc = pc;
    o->kind = kind;
}

void weft__dl_obj_destroy(weft__dl_obj *o)
{
    weft__free(o->name);
    o->name = NULL;
}

/* ------------------------------------------------------------ chain cache */

static atomic_uint_fast64_t chain_cache[CHAIN_SLOTS];

static bool chain_seen(uint64_t key)
{
    for (unsigned i = 0; i < CHAIN_PROBES; i++) {
        uint64_t v =
            atomic_load_explicit(&chain_cache[(key + i) % CHAIN_SLOTS], memory_order_acquire);
        if (v == key)
            return true;
        if (v == 0)
            return false;
    }
    return false;
}

/* Best effort: a full neighbourhood only means that chain is searched again. */
static void chain_add(uint64_t key)
{
    for (unsigned i = 0; i < CHAIN_PROBES; i++) {
        uint_fast64_t expected = 0;
        atomic_uint_fast64_t *slot = &chain_cache[(key + i) % CHAIN_SLOTS];
        if (atomic_compare_exchange_strong_explicit(slot, &expected, key, memory_order_release,
                                                    memory_order_acquire) ||
            expected == key)
            return;
    }
}

/* ------------------------------------------------------------ threads */

typedef struct held {
    weft__dl_class *cls;
    const void *inst;
    const void *pc;
    const void *inner_sem; /* a semaphore this thread took a permit of inside */
    uint64_t key;          /* chain key of the stack up to here */
    bool trylock;
} held;

typedef struct dl_thread {
    unsigned gen;
    unsigned n;
    unsigned lost; /* pushes beyond MAX_HELD, not recorded */
    bool warned;
    held h[MAX_HELD];
} dl_thread;

/* NULL until the thread first acquires a lock with the detector on. */
static _Thread_local dl_thread *self_;

static pthread_once_t self_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t self_key;
static bool self_key_ok;
static atomic_bool oom_warned;

/* At thread exit. A later destructor (another key's) that takes a lock
 * finds self_ NULL and starts a new stack, which the next round frees. */
static void free_self(void *p)
{
    if (self_ == p)
        self_ = NULL;
    free(p);
}

static void make_self_key(void)
{
    self_key_ok = pthread_key_create(&self_key, free_self) == 0;
}

static dl_thread *alloc_self(void)
{
    WEFT__CHECK(pthread_once(&self_key_once, make_self_key));
    dl_thread *t = self_key_ok ? calloc(1, sizeof *t) : NULL;
    if (t && pthread_setspecific(self_key, t) != 0) {
        free(t);
        t = NULL;
    }
    if (!t) {
        if (!atomic_exchange(&oom_warned, true))
            fprintf(stderr, "weft: deadlock detector: out of memory; locks taken by a "
                            "thread that could not get its held stack are not checked\n");
        return NULL;
    }
    self_ = t;
    return t;
}

/* The calling thread's held stack, dropped if stale. With create false, NULL
 * when the thread has none yet (it holds nothing the detector saw); with
 * create true, NULL only when memory is short. */
static dl_thread *me(bool create)
{
    dl_thread *t = self_;
    if (WEFT__UNLIKELY(!t) && (!create || !(t = alloc_self())))
        return NULL;
    unsigned g = atomic_load_explicit(&weft__dl_generation, memory_order_relaxed);
    if (WEFT__UNLIKELY(t->gen != g)) {
        t->gen = g;
        t->n = 0;
        t->lost = 0;
    }
    return t;
}

static uint64_t top_key(const dl_thread *t)
{
    return t->n ? t->h[t->n - 1].key : 0x5eedull;
}

static uint64_t entry_key(uint64_t prev, const weft__dl_class *c, bool trylock)
{
    return mix(prev, (uint64_t)c->id * 2 + trylock);
}

static void put_edge(weft__dl_text *r, const weft__dl_class *from, const edge *e)
{
    char at[128], held_at[128];
    weft__dl_fmt_pc(at, sizeof at, e->pc);
    weft__dl_fmt_pc(held_at, sizeof held_at, e->held_pc);
    weft__dl_put(r, "    \"%s\" -> \"%s\": ", from->name, e->to->name);
    switch (e->kind) {
    case EDGE_ACQUIRE:
        weft__dl_put(r, "thread \"%s\" acquired \"%s\" at %s while holding \"%s\" (taken at %s)\n",
                     e->thread, e->to->name, at, from->name, held_at);
        break;
    case EDGE_WAIT:
        weft__dl_put(r, "thread \"%s\" waited on \"%s\" at %s while holding \"%s\" (taken at %s)\n",
                     e->thread, e->to->name, at, from->name, held_at);
        break;
    case EDGE_RELEASE:
        weft__dl_put(r,
                     "thread \"%s\" released \"%s\" at %s while holding \"%s\" (taken at %s): its "
                     "waiters wait for a holder of \"%s\"\n",
                     e->thread, from->name, at, e->to->name, held_at, e->to->name);
        break;
    }
}

/* graph_mu held. Breadth-first search for a path start ->* goal over
 * unmarked edges; on success each class on it has parent/via set. */
static bool find_path(weft__dl_class *start, weft__dl_class *goal)
{
    atomic_fetch_add_explicit(&searches, 1, memory_order_relaxed);
    unsigned stamp = ++visit_gen;
    unsigned head = 0, tail = 0;
    start->visit = stamp;
    start->parent = NULL;
    queue_[tail++] = start;
    while (head < tail) {
        weft__dl_class *c = queue_[head++];
        if (c == goal)
            return true;
        for (edge *e = c->out; e; e = e->next) {
            if (e->closing || e->to->visit == stamp)
                continue;
            e->to->visit = stamp;
            e->to->parent = c;
            e->to->via = e;
            queue_[tail++] = e->to;
        }
    }
    return false;
}

/* graph_mu held. Adds from -> to unless present; on a cycle appends the
 * report to r and returns true. */
static bool add_edge(weft__dl_text *r, weft__dl_class *from, weft__dl_class *to,
                     enum edge_kind kind, const void *pc, const void *held_pc)
{
    for (edge *e = from->out; e; e = e->next)
        if (e->to == to)
            return false;
    edge *e = weft__calloc(1, sizeof *e);
    if (!e)
        return false; /* unchecked, as a class we could not intern */
    e->to = to;
    e->kind = kind;
    e->pc = pc;
    e->held_pc = held_pc;
    weft__dl_thread_name(e->thread, sizeof e->thread);
    e->closing = find_path(to, from);
    e->next = from->out;
    from->out = e;
    if (!e->closing)
        return false;

    if (!r->started) {
        char at[128];
        weft__dl_fmt_pc(at, sizeof at, pc);
        weft__dl_put(r, "weft: possible deadlock: lock order cycle\n");
        weft__dl_put(r, "  thread \"%s\" (tid %ld) %s \"%s\" at %s while holding \"%s\",\n",
                     e->thread, (long)gettid(),
                     kind == EDGE_RELEASE ? "releases"
                     : kind == EDGE_WAIT  ? "waits on"
                                          : "acquires",
                     kind == EDGE_RELEASE ? from->name : to->name, at,
                     kind == EDGE_RELEASE ? to->name : from->name);
        weft__dl_put(r, "  but the opposite order was seen before. Threads running these paths at "
                        "once can each\n  wait for a lock another holds. The cycle, each edge "
                        "\"held -> wanted\" where first seen:\n");
    } else {
        weft__dl_put(r, "  and another cycle through \"%s\" -> \"%s\":\n", from->name, to->name);
    }
    put_edge(r, from, e);
    /* The path to ->* from, in order: collect it backwards from `from`. */
    weft__dl_class *path[64];
    unsigned k = 0;
    for (weft__dl_class *c = from; c != to && k < 64; c = c->parent)
        path[k++] = c;
    while (k > 0) {
        weft__dl_class *c = path[--k];
        put_edge(r, c->parent, c->via);
    }
    return true;
}

static void finish(weft__dl_text *r)
{
    if (r->started)
        weft__dl_put(r,
                     "  Fix: take these locks in one order everywhere (see docs/deadlock.md).\n");
    weft__dl_send(r);
}

/* ------------------------------------------------------------ hooks */

void weft__dl_before_wait(weft__dl_obj *o, const void *pc)
{
    dl_thread *t = me(false);
    if (!t || t->n == 0 || weft__dl_in_report)
        return;
    weft__dl_class *c = class_of(o);
    if (!c)
        return;
    uint64_t key = entry_key(top_key(t), c, false);
    if (chain_seen(key))
        return;
    enum edge_kind kind =
        strcmp(o->kind, "lock") == 0 || strcmp(o->kind, "rlock") == 0 ? EDGE_ACQUIRE : EDGE_WAIT;
    weft__dl_text r = {0};
    weft__lock(&graph_mu);
    for (unsigned i = t->n; i-- > 0;) {
        held *h = &t->h[i];
        if (h->cls != c)
            add_edge(&r, h->cls, c, kind, pc, h->pc);
        if (!h->trylock)
            break;
    }
    weft__unlock(&graph_mu);
    chain_add(key);
    finish(&r);
}

void weft__dl_acquired(weft__dl_obj *o, const void *inst, const void *pc, bool trylock)
{
    dl_thread *t = me(true);
    if (!t)
        return;
    if (t->n == MAX_HELD) {
        if (!t->warned)
            fprintf(stderr,
                    "weft: deadlock detector: more than %d locks held by one thread; "
                    "deeper ones are not checked\n",
                    MAX_HELD);
        t->warned = true;
        t->lost++;
        return;
    }
    weft__dl_class *c = class_of(o);
    if (!c) {
        t->lost++;
        return;
    }
    held *h = &t->h[t->n];
    h->key = entry_key(top_key(t), c, trylock);
    h->cls = c;
    h->inst = inst;
    h->pc = pc;
    h->inner_sem = NULL;
    h->trylock = trylock;
    t->n++;
}

void weft__dl_released(const void *inst)
{
    dl_thread *t = me(false);
    if (!t)
        return;
    unsigned i = t->n;
    while (i > 0 && t->h[i - 1].inst != inst)
        i--;
    if (i == 0) {
        if (t->lost > 0)
            t->lost--;
        return;
    }
    /* Out-of-order release: close the gap and re-key what was above it. */
    for (unsigned j = i; j < t->n; j++) {
        t->h[j - 1] = t->h[j];
        uint64_t prev = j - 1 ? t->h[j - 2].key : 0x5eedull;
        t->h[j - 1].key = entry_key(prev, t->h[j - 1].cls, t->h[j - 1].trylock);
    }
    t->n--;
}

void weft__dl_sem_acquired(const void *inst)
{
    dl_thread *t = me(false);
    for (unsigned i = 0; t && i < t->n; i++)
        t->h[i].inner_sem = inst;
}

void weft__dl_sem_released(weft__dl_obj *o, const void *inst, const void *pc)
{
    dl_thread *t = me(false);
    if (!t || t->n == 0 || weft__dl_in_report)
        return;
    weft__dl_class *c = class_of(o);
    if (!c)
        return;
    weft__dl_text r = {0};
    bool locked = false;
    for (unsigned i = 0; i < t->n; i++) {
        held *h = &t->h[i];
        if (h->inner_sem == inst) {
            h->inner_sem = NULL;
            continue;
        }
        if (h->cls == c)
            continue;
        /* Release edges get their own cache tag: same chain, other meaning. */
        uint64_t key = mix(entry_key(h->key, c, false), 0xcafe);
        if (chain_seen(key))
            continue;
        if (!locked)
            weft__lock(&graph_mu);
        locked = true;
        add_edge(&r, c, h->cls, EDGE_RELEASE, pc, h->pc);
        chain_add(key);
    }
    if (locked)
        weft__unlock(&graph_mu);
    finish(&r);
}
