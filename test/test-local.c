/* weft_local: per-thread values, init on first get, destructors at thread
 * exit and at free (exactly once each), and the race between the two. */
#include "test.h"
#include "base-internal.h"

#include <stdatomic.h>

/* ------------------------------------------------------------ the seeds' example */

/* thread_data = local(); thread_data.id = request_id; thread_data.cache = {} */
typedef struct thread_data {
    int id;
    double cache[3];
    int ncache;
} thread_data;

static atomic_int td_made, td_freed;

static int td_init(void *ud, void **value)
{
    thread_data *d = calloc(1, sizeof *d);
    if (!d)
        return ENOMEM;
    d->id = -1; /* "AttributeError": not set in this thread yet */
    atomic_fetch_add(&td_made, 1);
    *value = d;
    return 0;
}

static void td_free(void *ud, void *value)
{
    atomic_fetch_add(&td_freed, 1);
    free(value);
}

typedef struct req {
    weft_local *l;
    pthread_barrier_t *b;
    int request_id;
    bool ok;
} req;

static int process_request(void *arg, void **result)
{
    req *r = arg;
    void *v;
    CHECK_OK(weft_local_get(r->l, &v));
    thread_data *d = v;
    CHECK_EQ(d->id, -1);
    d->id = r->request_id;
    /* Every thread has set its own id before anyone reads: they all overlap. */
    pthread_barrier_wait(r->b);
    bool ok = true;
    for (int i = 0; i < 3; i++) {
        CHECK_OK(weft_local_get(r->l, &v));
        thread_data *again = v;
        ok = ok && again == d && again->id == r->request_id && again->ncache == i;
        again->cache[again->ncache++] = r->request_id * 10 + i;
    }
    pthread_barrier_wait(r->b);
    CHECK_OK(weft_local_get(r->l, &v));
    d = v;
    for (int i = 0; i < 3; i++)
        ok = ok && d->cache[i] == r->request_id * 10 + i;
    r->ok = ok;
    return 0;
}

TEST(each_thread_sees_its_own_value)
{
    weft_local *l;
    CHECK_OK(weft_local_new(&l, td_init, td_free, NULL));
    pthread_barrier_t b;
    pthread_barrier_init(&b, NULL, 3);
    req r[3];
    weft_thread *t[3];
    for (int i = 0; i < 3; i++) {
        r[i] = (req){l, &b, i, false};
        CHECK_OK(weft_thread_start(&t[i], process_request, &r[i], NULL));
    }
    for (int i = 0; i < 3; i++) {
        CHECK_OK(weft_thread_join(t[i], WEFT_FOREVER));
        CHECK(r[i].ok);
        weft_thread_free(t[i]);
    }
    /* The main thread has not set an id: it gets a fresh value. */
    void *v;
    CHECK_OK(weft_local_get(l, &v));
    CHECK_EQ(((thread_data *)v)->id, -1);
    CHECK_EQ(atomic_load(&td_made), 4);
    weft_local_free(l);
    pthread_barrier_destroy(&b);
    /* A joined weft thread may still be ending (its fn returned, its
     * destructors may not have run). Whichever way each value went, at the
     * thread's exit or taken by free, free waits for destructors in flight:
     * all four are destroyed when it returns. */
    CHECK_EQ(atomic_load(&td_freed), 4);
}

/* ------------------------------------------------------------ init */

static atomic_int init_calls;

static int counting_init(void *ud, void **value)
{
    int n = atomic_fetch_add(&init_calls, 1) + 1;
    if (ud && n == 1)
        return weft_fail(EIO, "first init fails");
    *value = (void *)(intptr_t)(100 + n);
    return 0;
}

TEST(init_runs_once_per_thread)
{
    weft_local *l;
    CHECK_OK(weft_local_new(&l, counting_init, NULL, NULL));
    void *a, *b;
    CHECK_OK(weft_local_get(l, &a));
    CHECK_OK(weft_local_get(l, &b));
    CHECK(a == b);
    CHECK(a == (void *)(intptr_t)101);
    CHECK_EQ(atomic_load(&init_calls), 1);
    weft_local_free(l);
}

TEST(init_error_propagates_and_stores_nothing)
{
    weft_local *l;
    CHECK_OK(weft_local_new(&l, counting_init, NULL, "fail first"));
    void *v = (void *)1;
    CHECK_RC(weft_local_get(l, &v), EIO);
    CHECK(v == (void *)1); /* untouched */
    /* Nothing was stored: the next get calls init again. */
    CHECK_OK(weft_local_get(l, &v));
    CHECK(v == (void *)(intptr_t)102);
    CHECK_EQ(atomic_load(&init_calls), 2);
    weft_local_free(l);
}

TEST(no_init_no_dtor_starts_null)
{
    weft_local *l;
    CHECK_OK(weft_local_new(&l, NULL, NULL, NULL));
    void *v = (void *)1;
    CHECK_OK(weft_local_get(l, &v));
    CHECK(v == NULL);
    CHECK_OK(weft_local_set(l, &v));
    CHECK_OK(weft_local_get(l, &v));
    CHECK(v == (void *)&v);
    weft_local_free(l);
    weft_local_free(NULL);
    CHECK_RC(weft_local_new(NULL, NULL, NULL, NULL), EINVAL);
}

/* ------------------------------------------------------------ destructors */

enum { NVAL = 64 };
typedef struct val {
    atomic_int destroyed;
} val;
static val vals[NVAL];

static void val_dtor(void *ud, void *value)
{
    CHECK(ud == (void *)vals);
    atomic_fetch_add(&((val *)value)->destroyed, 1);
}

static atomic_int next_val;

static int val_init(void *ud, void **value)
{
    int i = atomic_fetch_add(&next_val, 1);
    CHECK(i < NVAL);
    *value = &vals[i];
    return 0;
}

TEST(set_replaces_and_destroys_old)
{
    weft_local *l;
    CHECK_OK(weft_local_new(&l, NULL, val_dtor, vals));
    CHECK_OK(weft_local_set(l, &vals[0]));
    CHECK_OK(weft_local_set(l, &vals[1]));
    CHECK_EQ(atomic_load(&vals[0].destroyed), 1);
    /* Setting the same value again does not destroy it. */
    CHECK_OK(weft_local_set(l, &vals[1]));
    CHECK_EQ(atomic_load(&vals[1].destroyed), 0);
    void *v;
    CHECK_OK(weft_local_get(l, &v));
    CHECK(v == &vals[1]);
    weft_local_free(l);
    CHECK_EQ(atomic_load(&vals[1].destroyed), 1);
    CHECK_EQ(atomic_load(&vals[0].destroyed), 1);
}

typedef struct holder {
    weft_local *l;
    weft_local *l2;
    pthread_barrier_t *got;
    pthread_barrier_t *go; /* NULL: exit at once */
} holder;

static void *hold_value(void *arg)
{
    holder *h = arg;
    void *v;
    CHECK_OK(weft_local_get(h->l, &v));
    if (h->l2)
        CHECK_OK(weft_local_get(h->l2, &v));
    if (h->got)
        pthread_barrier_wait(h->got);
    if (h->go)
        pthread_barrier_wait(h->go);
    return NULL;
}

TEST(destructors_run_at_thread_exit_once)
{
    enum { T = 8 };
    weft_local *l, *l2;
    CHECK_OK(weft_local_new(&l, val_init, val_dtor, vals));
    CHECK_OK(weft_local_new(&l2, val_init, val_dtor, vals));
    pthread_t th[T];
    holder h = {l, l2, NULL, NULL};
    for (int i = 0; i < T; i++)
        CHECK_OK(pthread_create(&th[i], NULL, hold_value, &h));
    for (int i = 0; i < T; i++)
        pthread_join(th[i], NULL); /* returns after the thread's destructors */
    CHECK_EQ(atomic_load(&next_val), 2 * T);
    for (int i = 0; i < 2 * T; i++)
        CHECK_EQ(atomic_load(&vals[i].destroyed), 1);
    weft_local_free(l);
    weft_local_free(l2);
    /* Nothing left to destroy, nothing destroyed twice. */
    for (int i = 0; i < 2 * T; i++)
        CHECK_EQ(atomic_load(&vals[i].destroyed), 1);
}

TEST(free_destroys_values_of_live_threads)
{
    enum { T = 6 };
    weft_local *l;
    CHECK_OK(weft_local_new(&l, val_init, val_dtor, vals));
    pthread_barrier_t got, go;
    pthread_barrier_init(&got, NULL, T + 1);
    pthread_barrier_init(&go, NULL, T + 1);
    pthread_t th[T];
    holder h = {l, NULL, &got, &go};
    for (int i = 0; i < T; i++)
        CHECK_OK(pthread_create(&th[i], NULL, hold_value, &h));
    pthread_barrier_wait(&got); /* every thread holds a value and is alive */
    void *mine;
    CHECK_OK(weft_local_get(l, &mine));
    weft_local_free(l);
    CHECK_EQ(atomic_load(&next_val), T + 1);
    for (int i = 0; i < T + 1; i++)
        CHECK_EQ(atomic_load(&vals[i].destroyed), 1);
    pthread_barrier_wait(&go);
    for (int i = 0; i < T; i++)
        pthread_join(th[i], NULL);
    /* The threads' exits did not destroy them again. */
    for (int i = 0; i < T + 1; i++)
        CHECK_EQ(atomic_load(&vals[i].destroyed), 1);
    pthread_barrier_destroy(&got);
    pthread_barrier_destroy(&go);
}

/* A destructor that uses the local again on the exiting thread gets a fresh
 * value, which is destroyed in turn. */
static weft_local *reentrant_l;
static atomic_int reentrant_dtors;

static void reentrant_dtor(void *ud, void *value)
{
    if (atomic_fetch_add(&reentrant_dtors, 1) == 0) {
        void *v;
        CHECK_OK(weft_local_get(reentrant_l, &v));
        CHECK(v != value);
    }
}

static int fresh_init(void *ud, void **value)
{
    static atomic_int n;
    *value = (void *)(intptr_t)(atomic_fetch_add(&n, 1) + 1);
    return 0;
}

TEST(destructor_may_use_the_local_again)
{
    CHECK_OK(weft_local_new(&reentrant_l, fresh_init, reentrant_dtor, NULL));
    pthread_t th;
    holder h = {reentrant_l, NULL, NULL, NULL};
    CHECK_OK(pthread_create(&th, NULL, hold_value, &h));
    pthread_join(th, NULL);
    CHECK_EQ(atomic_load(&reentrant_dtors), 2);
    weft_local_free(reentrant_l);
    CHECK_EQ(atomic_load(&reentrant_dtors), 2);
}

/* A destructor that frees another weft_local, which the exiting thread also
 * holds a value of (a context object owning a per-thread cache, say). The
 * exit clean-up must not count that other value as "being destroyed by an
 * exiting thread" before it gets to it, or weft_local_free waits for the
 * very thread that calls it. */
static weft_local *outer_l, *inner_l;
static atomic_int inner_dtors, outer_dtors;

static void inner_dtor(void *ud, void *value)
{
    (void)ud;
    (void)value;
    atomic_fetch_add(&inner_dtors, 1);
}

static void outer_dtor(void *ud, void *value)
{
    (void)ud;
    (void)value;
    atomic_fetch_add(&outer_dtors, 1);
    weft_local_free(inner_l);
}

static void *hold_inner_then_outer(void *arg)
{
    (void)arg;
    /* The newest value is destroyed first: outer's destructor runs while
     * inner's value is still to go. */
    CHECK_OK(weft_local_set(inner_l, &inner_dtors));
    CHECK_OK(weft_local_set(outer_l, &outer_dtors));
    return NULL;
}

TEST(exit_destructor_may_free_another_local)
{
    CHECK_OK(weft_local_new(&outer_l, NULL, outer_dtor, NULL));
    CHECK_OK(weft_local_new(&inner_l, NULL, inner_dtor, NULL));
    pthread_t th;
    CHECK_OK(pthread_create(&th, NULL, hold_inner_then_outer, NULL));
    pthread_join(th, NULL);
    CHECK_EQ(atomic_load(&outer_dtors), 1);
    CHECK_EQ(atomic_load(&inner_dtors), 1);
    weft_local_free(outer_l);
    CHECK_EQ(atomic_load(&outer_dtors), 1);
}

/* ------------------------------------------------------------ fault injection */

static atomic_int fi_dtors;

static void fi_dtor(void *ud, void *value)
{
    atomic_fetch_add(&fi_dtors, 1);
}

static int fi_init(void *ud, void **value)
{
    *value = ud;
    return 0;
}

TEST(new_and_get_under_fault_injection)
{
    weft_local *l = NULL;
    for (long n = 0;; n++) {
        weft__alloc_fail_after(n);
        int rc = weft_local_new(&l, fi_init, fi_dtor, &fi_dtors);
        weft__alloc_fail_reset();
        if (rc == 0)
            break;
        CHECK_RC(rc, ENOMEM);
        CHECK(n < 100);
    }
    /* get allocates the thread's table and node; a failure stores nothing
     * and loses no value made by init. */
    for (long n = 0;; n++) {
        void *v = NULL;
        weft__alloc_fail_after(n);
        int rc = weft_local_get(l, &v);
        weft__alloc_fail_reset();
        if (rc == 0) {
            CHECK(v == &fi_dtors);
            break;
        }
        CHECK_RC(rc, ENOMEM);
        CHECK(v == NULL);
        CHECK(n < 100);
    }
    CHECK_EQ(atomic_load(&fi_dtors), 0);
    weft_local_free(l);
    CHECK_EQ(atomic_load(&fi_dtors), 1);

    /* set, too. */
    CHECK_OK(weft_local_new(&l, NULL, fi_dtor, NULL));
    for (long n = 0;; n++) {
        weft__alloc_fail_after(n);
        int rc = weft_local_set(l, &n);
        weft__alloc_fail_reset();
        if (rc == 0)
            break;
        CHECK_RC(rc, ENOMEM);
        CHECK(n < 100);
    }
    weft_local_free(l);
    CHECK_EQ(atomic_load(&fi_dtors), 2);
}

/* ------------------------------------------------------------ stress */

enum { SN = 400 };
static atomic_int stress_made, stress_destroyed;
static atomic_int stress_slot[SN];

static int stress_init(void *ud, void **value)
{
    int i = atomic_fetch_add(&stress_made, 1);
    CHECK(i < SN);
    *value = &stress_slot[i];
    return 0;
}

static void stress_dtor(void *ud, void *value)
{
    CHECK_EQ(atomic_fetch_add((atomic_int *)value, 1), 0);
    atomic_fetch_add(&stress_destroyed, 1);
}

/* Threads end (running their destructors) while another thread frees the
 * local: each value is destroyed exactly once, by one side or the other. */
TEST_T(stress_thread_exit_races_free, 20)
{
    enum { ROUNDS = 40, T = 8 };
    for (int r = 0; r < ROUNDS; r++) {
        weft_local *l;
        CHECK_OK(weft_local_new(&l, stress_init, stress_dtor, NULL));
        pthread_barrier_t got;
        pthread_barrier_init(&got, NULL, T + 1);
        holder h = {l, NULL, &got, NULL};
        pthread_t th[T];
        for (int i = 0; i < T; i++)
            CHECK_OK(pthread_create(&th[i], NULL, hold_value, &h));
        pthread_barrier_wait(&got); /* all hold a value; now they exit */
        weft_local_free(l);
        for (int i = 0; i < T; i++)
            pthread_join(th[i], NULL);
        pthread_barrier_destroy(&got);
        CHECK_EQ(atomic_load(&stress_destroyed), atomic_load(&stress_made));
    }
    for (int i = 0; i < ROUNDS * T; i++)
        CHECK_EQ(atomic_load(&stress_slot[i]), 1);
}

/* weft_local_free waits for a destructor another thread is running for the
 * same local at its exit, so `ud` may be freed as soon as free returns. */
static struct {
    pthread_mutex_t m;
    pthread_cond_t c;
    bool in_dtor, release;
} slow = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false};
static atomic_bool free_returned, dtor_saw_free_returned;

static void slow_dtor(void *ud, void *value)
{
    pthread_mutex_lock(&slow.m);
    slow.in_dtor = true;
    pthread_cond_broadcast(&slow.c);
    while (!slow.release)
        pthread_cond_wait(&slow.c, &slow.m);
    pthread_mutex_unlock(&slow.m);
    atomic_store(&dtor_saw_free_returned, atomic_load(&free_returned));
}

static void *free_it(void *arg)
{
    weft_local_free(arg);
    atomic_store(&free_returned, true);
    return NULL;
}

TEST(free_waits_for_exit_destructor_in_flight)
{
    weft_local *l;
    CHECK_OK(weft_local_new(&l, fi_init, slow_dtor, &slow));
    pthread_t holder_th, freer;
    holder h = {l, NULL, NULL, NULL};
    CHECK_OK(pthread_create(&holder_th, NULL, hold_value, &h));
    pthread_mutex_lock(&slow.m);
    while (!slow.in_dtor)
        pthread_cond_wait(&slow.c, &slow.m);
    pthread_mutex_unlock(&slow.m);
    CHECK_OK(pthread_create(&freer, NULL, free_it, l));
    /* Not a handshake: the test is right whatever this lasts. It only gives
     * a wrong free (one that does not wait) time to return early. */
    weft_sleep(0.05);
    CHECK(!atomic_load(&free_returned));
    pthread_mutex_lock(&slow.m);
    slow.release = true;
    pthread_cond_broadcast(&slow.c);
    pthread_mutex_unlock(&slow.m);
    pthread_join(holder_th, NULL);
    pthread_join(freer, NULL);
    CHECK(!atomic_load(&dtor_saw_free_returned));
}

TEST(null_handles)
{
    CHECK_RC(weft_local_new(NULL, NULL, NULL, NULL), EINVAL);
    void *v = &v;
    CHECK_RC(weft_local_get(NULL, &v), EINVAL);
    CHECK_RC(weft_local_set(NULL, v), EINVAL);
    weft_local *l;
    CHECK_OK(weft_local_new(&l, NULL, NULL, NULL));
    CHECK_RC(weft_local_get(l, NULL), EINVAL);
    weft_local_free(l);
    weft_local_free(NULL);
}
