/* local.c: weft_local, Python's threading.local.
 *
 * DESIGN: each weft_local has its own pthread key, with NO destructor, used
 * only as the fast lookup from (thread, local) to that thread's node. Clean-up
 * goes through ONE process-wide key (table_key, never deleted) whose value is
 * the thread's table: the list of its nodes across all locals. A node is on
 * two lists, its local's and its thread's, and both lists are changed only
 * under the single global mutex `mu`. That is what makes the two ways a value
 * can die race-free against each other:
 * - at thread exit, table_dtor takes the thread's nodes one at a time:
 *   under `mu` it unlinks the node from both lists and counts its local as
 *   busy (l->exiting), drops `mu`, runs that one destructor, and uncounts;
 * - weft_local_free takes `mu`, unlinks every node of the local from its
 *   thread's table, waits until no exiting thread is still running a
 *   destructor for this local (so `ud` stays valid for them), drops `mu`,
 *   then runs the destructors of the nodes it took.
 * A node is taken by exactly one of them, so each value is destroyed exactly
 * once. The per-thread table itself is only ever freed by its own thread, and
 * a per-local key has no destructor, so pthread_key_delete in weft_local_free
 * cannot race with a key destructor that glibc is about to call (the classic
 * hazard of a key-with-destructor deleted while threads exit).
 * A weft thread runs the same clean-up earlier, before it counts as ended
 * (weft__local_thread_exit, local-internal.h), so joins wait for it.
 *
 * Lock order: only `mu` is taken here; user init/dtor run with no lock held. */
#include "clock-internal.h"
#include "local-internal.h"

typedef struct node node;
typedef struct table table;

struct node {
    weft_local *l;
    void *value;
    node *lprev, *lnext; /* in l->nodes */
    node *tprev, *tnext; /* in its thread's table */
    table *tab;
};

struct table {
    node *head;
};

struct weft_local {
    pthread_key_t key; /* thread -> node, no destructor */
    weft_local_init_fn *init;
    weft_local_free_fn *dtor;
    void *ud;
    node *nodes;  /* guarded by mu */
    long exiting; /* threads running destructors for this local; under mu */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t exit_cv = PTHREAD_COND_INITIALIZER; /* exiting hit 0 */
static pthread_once_t table_once = PTHREAD_ONCE_INIT;
static pthread_key_t table_key;
static int table_key_rc;

static void unlink_local(node *n)
{
    if (n->lprev)
        n->lprev->lnext = n->lnext;
    else
        n->l->nodes = n->lnext;
    if (n->lnext)
        n->lnext->lprev = n->lprev;
}

static void unlink_table(node *n)
{
    if (n->tprev)
        n->tprev->tnext = n->tnext;
    else
        n->tab->head = n->tnext;
    if (n->tnext)
        n->tnext->tprev = n->tprev;
}

/* The calling thread is ending: destroy its values of every local. */
static void table_dtor(void *p)
{
    table *tab = p;
    /* One node at a time: only the value being destroyed right now counts
     * as busy (l->exiting). A destructor may free ANOTHER local whose value
     * this thread still holds; that free then simply takes the node, where
     * counting it busy up front would make the free wait for this very
     * thread. */
    weft__lock(&mu);
    node *n;
    while ((n = tab->head) != NULL) {
        unlink_table(n);
        unlink_local(n);
        weft_local *l = n->l;
        l->exiting++;
        /* The destructor may call weft_local_get on this thread again: it
         * must find no node, not this one. */
        (void)pthread_setspecific(l->key, NULL);
        weft__unlock(&mu);
        if (l->dtor && n->value)
            l->dtor(l->ud, n->value);
        weft__free(n);
        weft__lock(&mu);
        if (--l->exiting == 0)
            WEFT__CHECK(pthread_cond_broadcast(&exit_cv));
    }
    weft__unlock(&mu);
    /* Only this thread ever adds to tab, and it is no longer reachable from
     * table_key (a destructor that uses a local again gets a new table). */
    weft__free(tab);
}

static void make_table_key(void)
{
    table_key_rc = pthread_key_create(&table_key, table_dtor);
}

void weft__local_thread_exit(void)
{
    WEFT__CHECK(pthread_once(&table_once, make_table_key));
    if (table_key_rc)
        return;
    table *tab = pthread_getspecific(table_key);
    if (!tab)
        return;
    /* Cleared first: a destructor that uses a weft_local again gets a fresh
     * table, which the key destructor then cleans up as usual. */
    (void)pthread_setspecific(table_key, NULL);
    table_dtor(tab);
}

int weft_local_new(weft_local **out, weft_local_init_fn *init, weft_local_free_fn *dtor, void *ud)
{
    if (!out)
        return EINVAL;
    WEFT__CHECK(pthread_once(&table_once, make_table_key));
    if (table_key_rc)
        return table_key_rc;
    weft_local *l = weft__calloc(1, sizeof *l);
    if (!l)
        return ENOMEM;
    int rc = pthread_key_create(&l->key, NULL);
    if (rc) {
        weft__free(l);
        return rc;
    }
    l->init = init;
    l->dtor = dtor;
    l->ud = ud;
    *out = l;
    return 0;
}

/* The calling thread's table, made on first use. Returns NULL on ENOMEM. */
static table *my_table(void)
{
    table *tab = pthread_getspecific(table_key);
    if (tab)
        return tab;
    tab = weft__calloc(1, sizeof *tab);
    if (tab && pthread_setspecific(table_key, tab) != 0) {
        weft__free(tab);
        tab = NULL;
    }
    return tab;
}

/* Links n, holding `value`, as the calling thread's node for l. Returns 0,
 * or ENOMEM with nothing changed. */
static int add_node(weft_local *l, table *tab, node *n, void *value)
{
    if (pthread_setspecific(l->key, n) != 0)
        return ENOMEM;
    n->l = l;
    n->value = value;
    n->tab = tab;
    weft__lock(&mu);
    n->lprev = NULL;
    n->lnext = l->nodes;
    if (l->nodes)
        l->nodes->lprev = n;
    l->nodes = n;
    n->tprev = NULL;
    n->tnext = tab->head;
    if (tab->head)
        tab->head->tprev = n;
    tab->head = n;
    weft__unlock(&mu);
    return 0;
}

int weft_local_get(weft_local *l, void **value)
{
    if (!l || !value)
        return EINVAL;
    node *n = pthread_getspecific(l->key);
    if (WEFT__LIKELY(n != NULL)) {
        *value = n->value;
        return 0;
    }
    /* Allocate first, so a value init made is not wasted on ENOMEM. */
    table *tab = my_table();
    if (!tab)
        return ENOMEM;
    n = weft__calloc(1, sizeof *n);
    if (!n)
        return ENOMEM;
    void *v = NULL;
    if (l->init) {
        int rc = l->init(l->ud, &v);
        if (rc) {
            weft__free(n);
            return rc;
        }
    }
    int rc = add_node(l, tab, n, v);
    if (rc) {
        weft__free(n);
        if (l->dtor && v)
            l->dtor(l->ud, v);
        return rc;
    }
    *value = v;
    return 0;
}

int weft_local_set(weft_local *l, void *value)
{
    if (!l)
        return EINVAL;
    node *n = pthread_getspecific(l->key);
    if (!n) {
        table *tab = my_table();
        if (!tab)
            return ENOMEM;
        n = weft__calloc(1, sizeof *n);
        if (!n)
            return ENOMEM;
        int rc = add_node(l, tab, n, value);
        if (rc)
            weft__free(n);
        return rc;
    }
    /* Only this thread touches its node's value while l is in use. */
    void *old = n->value;
    n->value = value;
    if (l->dtor && old && old != value)
        l->dtor(l->ud, old);
    return 0;
}

void weft_local_free(weft_local *l)
{
    if (!l)
        return;
    weft__lock(&mu);
    node *taken = l->nodes;
    for (node *n = taken; n; n = n->lnext)
        unlink_table(n);
    l->nodes = NULL;
    while (l->exiting > 0)
        WEFT__CHECK(pthread_cond_wait(&exit_cv, &mu));
    weft__unlock(&mu);

    node *next;
    for (node *n = taken; n; n = next) {
        next = n->lnext;
        if (l->dtor && n->value)
            l->dtor(l->ud, n->value);
        weft__free(n);
    }
    WEFT__CHECK(pthread_key_delete(l->key));
    weft__free(l);
}
