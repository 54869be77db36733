/* Barriers: arrival indices per round, the action, and every way a barrier
 * breaks (action failure, timeout, abort, reset, cancellation), with Python's
 * threading.Barrier as the reference. */
#include "test.h"
#include "cancel-internal.h"

#include <math.h>
#include <sched.h>

static void wait_arrived(weft_barrier *b, unsigned n)
{
    while (weft_barrier_n_waiting(b) != n)
        sched_yield();
}

/* A thread that calls weft_barrier_wait once, optionally as a cancellable
 * task, and keeps what it got. */
typedef struct party {
    weft_barrier *b;
    double timeout;
    weft__cancel *tok;
    int rc;
    unsigned index;
    pthread_t th;
} party;

static void *party_main(void *arg)
{
    party *p = arg;
    if (p->tok)
        weft__cancel_swap(p->tok);
    p->index = 12345;
    p->rc = weft_barrier_wait(p->b, p->timeout, &p->index);
    weft__cancel_swap(NULL);
    return NULL;
}

static void party_start(party *p, weft_barrier *b, double timeout, weft__cancel *tok)
{
    p->b = b;
    p->timeout = timeout;
    p->tok = tok;
    p->rc = -1;
    CHECK_OK(pthread_create(&p->th, NULL, party_main, p));
}

static void party_join(party *p)
{
    CHECK_OK(pthread_join(p->th, NULL));
}

TEST(barrier_new_and_properties)
{
    weft_barrier *b;
    CHECK_RC(weft_barrier_new(&b, 0, NULL, NULL), EINVAL);
    CHECK_OK(weft_barrier_new(&b, 3, NULL, NULL));
    CHECK_EQ(weft_barrier_parties(b), 3);
    CHECK_EQ(weft_barrier_n_waiting(b), 0);
    CHECK(!weft_barrier_broken(b));
    weft_barrier_free(b);
    weft_barrier_free(NULL);
}

TEST(barrier_fault_injection)
{
    weft_barrier *b = NULL;
    for (long n = 0;; n++) {
        weft__alloc_fail_after(n);
        int rc = weft_barrier_new(&b, 2, NULL, NULL);
        weft__alloc_fail_reset();
        if (rc == 0)
            break;
        CHECK_RC(rc, ENOMEM);
        CHECK(n < 100);
    }
    CHECK_EQ(weft_barrier_parties(b), 2);
    weft_barrier_free(b);
}

static atomic_int action_calls;
static int count_action(void *arg)
{
    (void)arg;
    atomic_fetch_add(&action_calls, 1);
    return 0;
}

TEST(barrier_single_party_passes_and_runs_action)
{
    weft_barrier *b;
    CHECK_OK(weft_barrier_new(&b, 1, count_action, NULL));
    for (int i = 0; i < 5; i++) {
        unsigned idx = 99;
        /* The last (only) arriver does not wait, so timeout 0 is fine. */
        CHECK_OK(weft_barrier_wait(b, i % 2 ? 0 : WEFT_FOREVER, &idx));
        CHECK_EQ(idx, 0);
    }
    CHECK_OK(weft_barrier_wait(b, WEFT_FOREVER, NULL));
    CHECK_EQ(atomic_load(&action_calls), 6);
    weft_barrier_free(b);
}

TEST(barrier_rejects_bad_timeouts)
{
    weft_barrier *b;
    CHECK_OK(weft_barrier_new(&b, 2, NULL, NULL));
    CHECK_RC(weft_barrier_wait(b, NAN, NULL), EINVAL);
    CHECK_RC(weft_barrier_wait(b, -3, NULL), EINVAL);
    /* Rejected before arriving: nothing broken, nobody counted. */
    CHECK(!weft_barrier_broken(b));
    CHECK_EQ(weft_barrier_n_waiting(b), 0);
    weft_barrier_free(b);
}

/* ---------------------------------------------------------------- rounds */

#define R_PARTIES 4
#define R_ROUNDS  300
static struct {
    weft_barrier *b;
    unsigned idx[R_ROUNDS][R_PARTIES];
    int arrived[R_ROUNDS][R_PARTIES]; /* plain ints: the barrier orders them */
    int rounds_done;                  /* written only by the action */
    pthread_t action_thread[R_ROUNDS];
    int bad;
} rr;

static int round_action(void *arg)
{
    (void)arg;
    int r = rr.rounds_done;
    /* Everyone of this round arrived before the action runs. */
    for (int t = 0; t < R_PARTIES; t++)
        if (!rr.arrived[r][t])
            rr.bad++;
    rr.action_thread[r] = pthread_self();
    rr.rounds_done++;
    return 0;
}

static void *round_party(void *arg)
{
    int t = (int)(intptr_t)arg;
    for (int r = 0; r < R_ROUNDS; r++) {
        rr.arrived[r][t] = 1;
        unsigned idx;
        if (weft_barrier_wait(rr.b, 30, &idx) != 0)
            abort();
        rr.idx[r][t] = idx;
        /* Released only after the action of this very round ran, on the
         * thread that arrived last. */
        if (rr.rounds_done != r + 1)
            abort();
        if ((idx == R_PARTIES - 1) != (pthread_equal(rr.action_thread[r], pthread_self()) != 0))
            abort();
        for (int u = 0; u < R_PARTIES; u++)
            if (!rr.arrived[r][u])
                abort();
    }
    return NULL;
}

/* Also the TSan stress test of the barrier: the plain arrays are written
 * before and read after each wait, so a missing happens-before shows. */
TEST(barrier_indices_cover_every_round)
{
    CHECK_OK(weft_barrier_new(&rr.b, R_PARTIES, round_action, NULL));
    pthread_t th[R_PARTIES];
    for (int t = 0; t < R_PARTIES; t++)
        CHECK_OK(pthread_create(&th[t], NULL, round_party, (void *)(intptr_t)t));
    for (int t = 0; t < R_PARTIES; t++)
        pthread_join(th[t], NULL);
    CHECK_EQ(rr.rounds_done, R_ROUNDS);
    CHECK_EQ(rr.bad, 0);
    for (int r = 0; r < R_ROUNDS; r++) {
        unsigned seen = 0;
        for (int t = 0; t < R_PARTIES; t++) {
            CHECK_INT(rr.idx[r][t], <, R_PARTIES);
            seen |= 1u << rr.idx[r][t];
        }
        CHECK_EQ(seen, (1u << R_PARTIES) - 1);
    }
    CHECK(!weft_barrier_broken(rr.b));
    CHECK_EQ(weft_barrier_n_waiting(rr.b), 0);
    weft_barrier_free(rr.b);
}

/* More threads than parties, as Python allows: arrivals for the next round
 * wait while the previous one drains, and every round is complete. Threads
 * cannot each do a fixed number of waits (the last few could be left without
 * enough partners), so the action counts rounds and raises `stop`, and the
 * main thread then aborts the barrier to send the stragglers home. */
#define X_PARTIES 3
#define X_THREADS 7
#define X_ROUNDS  400
static struct {
    weft_barrier *b;
    pthread_barrier_t start;
    atomic_int by_index[X_PARTIES];
    atomic_int failures;
    atomic_int rounds;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
} xs = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static bool x_stopped(void)
{
    pthread_mutex_lock(&xs.mu);
    bool stop = xs.stop;
    pthread_mutex_unlock(&xs.mu);
    return stop;
}

static int x_action(void *arg)
{
    (void)arg;
    if (atomic_fetch_add(&xs.rounds, 1) + 1 == X_ROUNDS) {
        pthread_mutex_lock(&xs.mu);
        xs.stop = true;
        pthread_cond_broadcast(&xs.cv);
        pthread_mutex_unlock(&xs.mu);
    }
    return 0;
}

static void *extra_party(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&xs.start);
    while (!x_stopped()) {
        unsigned idx;
        int rc = weft_barrier_wait(xs.b, WEFT_FOREVER, &idx);
        if (rc == 0 && idx < X_PARTIES)
            atomic_fetch_add(&xs.by_index[idx], 1);
        else if (rc != WEFT_EBROKEN || !x_stopped())
            atomic_fetch_add(&xs.failures, 1);
    }
    return NULL;
}

TEST(barrier_stress_more_threads_than_parties)
{
    CHECK_OK(weft_barrier_new(&xs.b, X_PARTIES, x_action, NULL));
    CHECK_OK(pthread_barrier_init(&xs.start, NULL, X_THREADS));
    pthread_t th[X_THREADS];
    for (int i = 0; i < X_THREADS; i++)
        CHECK_OK(pthread_create(&th[i], NULL, extra_party, NULL));
    pthread_mutex_lock(&xs.mu);
    while (!xs.stop)
        pthread_cond_wait(&xs.cv, &xs.mu);
    pthread_mutex_unlock(&xs.mu);
    weft_barrier_abort(xs.b);
    for (int i = 0; i < X_THREADS; i++)
        pthread_join(th[i], NULL);
    CHECK_EQ(atomic_load(&xs.failures), 0);
    /* Each released round hands out each index exactly once; a round whose
     * action ran when the abort came was not released. */
    int released = atomic_load(&xs.by_index[0]);
    for (int i = 1; i < X_PARTIES; i++)
        CHECK_EQ(atomic_load(&xs.by_index[i]), released);
    CHECK_INT(released, >=, X_ROUNDS - 1);
    CHECK_INT(atomic_load(&xs.rounds), >=, released);
    CHECK_INT(atomic_load(&xs.rounds), <=, released + 1);
    pthread_barrier_destroy(&xs.start);
    weft_barrier_free(xs.b);
}

/* ---------------------------------------------------------------- action */

static int failing_action_rc;
static int failing_action(void *arg)
{
    (void)arg;
    return failing_action_rc;
}

TEST(barrier_action_failure_breaks_it)
{
    weft_barrier *b;
    failing_action_rc = EIO;
    CHECK_OK(weft_barrier_new(&b, 2, failing_action, NULL));
    party p;
    party_start(&p, b, WEFT_FOREVER, NULL);
    wait_arrived(b, 1);
    /* We arrive last, so the action runs here and its code comes back. */
    CHECK_RC(weft_barrier_wait(b, WEFT_FOREVER, NULL), EIO);
    party_join(&p);
    CHECK_RC(p.rc, WEFT_EBROKEN);
    CHECK(weft_barrier_broken(b));
    CHECK_RC(weft_barrier_wait(b, WEFT_FOREVER, NULL), WEFT_EBROKEN);

    /* reset() makes it usable again. */
    weft_barrier_reset(b);
    CHECK(!weft_barrier_broken(b));
    failing_action_rc = 0;
    party_start(&p, b, WEFT_FOREVER, NULL);
    wait_arrived(b, 1);
    unsigned idx;
    CHECK_OK(weft_barrier_wait(b, WEFT_FOREVER, &idx));
    CHECK_EQ(idx, 1);
    party_join(&p);
    CHECK_OK(p.rc);
    CHECK_EQ(p.index, 0);
    weft_barrier_free(b);
}

/* The action runs with no weft lock held: it may use the barrier itself
 * (n_waiting would deadlock otherwise). Aborting from the action fails the
 * whole round. */
static int aborting_action(void *arg)
{
    weft_barrier *b = arg;
    if (weft_barrier_n_waiting(b) != 2)
        abort();
    weft_barrier_abort(b);
    return 0;
}

static struct {
    weft_barrier *b;
} ab;
static int abort_self_action(void *arg)
{
    (void)arg;
    return aborting_action(ab.b);
}

TEST(barrier_abort_from_action)
{
    CHECK_OK(weft_barrier_new(&ab.b, 2, abort_self_action, NULL));
    party p;
    party_start(&p, ab.b, WEFT_FOREVER, NULL);
    wait_arrived(ab.b, 1);
    CHECK_RC(weft_barrier_wait(ab.b, WEFT_FOREVER, NULL), WEFT_EBROKEN);
    party_join(&p);
    CHECK_RC(p.rc, WEFT_EBROKEN);
    CHECK(weft_barrier_broken(ab.b));
    weft_barrier_free(ab.b);
}

/* A waiter whose deadline passes while the action runs has seen every party
 * arrive: as in CPython (where the action holds the lock), it gets the
 * round's outcome, not ETIMEDOUT. */
#define SLOW_TIMEOUT 1.0
static double slow_arrived_at;
static int slow_action(void *arg)
{
    (void)arg;
    /* Not synchronisation: the point is to outlast the waiter's deadline,
     * which is at most SLOW_TIMEOUT after it was seen waiting. */
    while (weft_monotonic() < slow_arrived_at + SLOW_TIMEOUT + 0.05)
        weft_sleep(0.05);
    return 0;
}

TEST(barrier_deadline_passing_during_action_still_passes)
{
    weft_barrier *b;
    CHECK_OK(weft_barrier_new(&b, 2, slow_action, NULL));
    party p;
    party_start(&p, b, SLOW_TIMEOUT, NULL);
    while (weft_barrier_n_waiting(b) != 1 && !weft_barrier_broken(b))
        sched_yield();
    slow_arrived_at = weft_monotonic();
    unsigned idx;
    CHECK_OK(weft_barrier_wait(b, WEFT_FOREVER, &idx));
    CHECK_EQ(idx, 1);
    party_join(&p);
    CHECK_OK(p.rc);
    CHECK_EQ(p.index, 0);
    CHECK(!weft_barrier_broken(b));
    weft_barrier_free(b);
}

/* ---------------------------------------------------------------- breaking */

TEST(barrier_timeout_breaks_it)
{
    weft_barrier *b;
    CHECK_OK(weft_barrier_new(&b, 3, NULL, NULL));
    party p;
    party_start(&p, b, WEFT_FOREVER, NULL);
    wait_arrived(b, 1);
    double t0 = weft_monotonic();
    CHECK_RC(weft_barrier_wait(b, 0.1, NULL), ETIMEDOUT);
    CHECK(weft_monotonic() - t0 >= 0.1 - 1e-3);
    party_join(&p);
    CHECK_RC(p.rc, WEFT_EBROKEN);
    CHECK(weft_barrier_broken(b));
    CHECK_EQ(weft_barrier_n_waiting(b), 0);
    CHECK_RC(weft_barrier_wait(b, WEFT_FOREVER, NULL), WEFT_EBROKEN);
    weft_barrier_free(b);
}

TEST(barrier_zero_timeout_breaks_unless_last)
{
    weft_barrier *b;
    CHECK_OK(weft_barrier_new(&b, 2, NULL, NULL));
    CHECK_RC(weft_barrier_wait(b, 0, NULL), ETIMEDOUT);
    CHECK(weft_barrier_broken(b));
    weft_barrier_reset(b);
    CHECK(!weft_barrier_broken(b));
    party p;
    party_start(&p, b, WEFT_FOREVER, NULL);
    wait_arrived(b, 1);
    CHECK_OK(weft_barrier_wait(b, 0, NULL));
    party_join(&p);
    CHECK_OK(p.rc);
    weft_barrier_free(b);
}

TEST(barrier_abort_fails_current_and_future_waiters)
{
    weft_barrier *b;
    CHECK_OK(weft_barrier_new(&b, 3, NULL, NULL));
    party p[2];
    party_start(&p[0], b, WEFT_FOREVER, NULL);
    party_start(&p[1], b, 30, NULL);
    wait_arrived(b, 2);
    weft_barrier_abort(b);
    party_join(&p[0]);
    party_join(&p[1]);
    CHECK_RC(p[0].rc, WEFT_EBROKEN);
    CHECK_RC(p[1].rc, WEFT_EBROKEN);
    CHECK(weft_barrier_broken(b));
    CHECK_RC(weft_barrier_wait(b, WEFT_FOREVER, NULL), WEFT_EBROKEN);
    CHECK_RC(weft_barrier_wait(b, 0, NULL), WEFT_EBROKEN);
    weft_barrier_reset(b);
    CHECK(!weft_barrier_broken(b));
    /* A full round works after the reset. */
    party_start(&p[0], b, WEFT_FOREVER, NULL);
    party_start(&p[1], b, WEFT_FOREVER, NULL);
    wait_arrived(b, 2);
    unsigned idx;
    CHECK_OK(weft_barrier_wait(b, WEFT_FOREVER, &idx));
    CHECK_EQ(idx, 2);
    party_join(&p[0]);
    party_join(&p[1]);
    CHECK_OK(p[0].rc);
    CHECK_OK(p[1].rc);
    CHECK_EQ(p[0].index + p[1].index, 1);
    weft_barrier_free(b);
}

TEST(barrier_reset_fails_current_waiters_and_reopens)
{
    weft_barrier *b;
    CHECK_OK(weft_barrier_new(&b, 2, NULL, NULL));
    party p;
    party_start(&p, b, WEFT_FOREVER, NULL);
    wait_arrived(b, 1);
    weft_barrier_reset(b);
    party_join(&p);
    CHECK_RC(p.rc, WEFT_EBROKEN);
    /* Not broken: the last waiter out made it FILLING again. */
    CHECK(!weft_barrier_broken(b));
    CHECK_EQ(weft_barrier_n_waiting(b), 0);
    party_start(&p, b, WEFT_FOREVER, NULL);
    wait_arrived(b, 1);
    unsigned idx;
    CHECK_OK(weft_barrier_wait(b, WEFT_FOREVER, &idx));
    CHECK_EQ(idx, 1);
    party_join(&p);
    CHECK_OK(p.rc);
    CHECK_EQ(p.index, 0);
    weft_barrier_free(b);
}

/* A round that was released succeeds for all its parties even if the
 * barrier is aborted before a waiter gets the CPU back. */
TEST(barrier_released_round_survives_abort)
{
    weft_barrier *b;
    CHECK_OK(weft_barrier_new(&b, 2, NULL, NULL));
    for (int i = 0; i < 200; i++) {
        party p;
        party_start(&p, b, WEFT_FOREVER, NULL);
        wait_arrived(b, 1);
        CHECK_OK(weft_barrier_wait(b, WEFT_FOREVER, NULL));
        weft_barrier_abort(b);
        party_join(&p);
        CHECK_OK(p.rc);
        CHECK(weft_barrier_broken(b));
        weft_barrier_reset(b);
    }
    weft_barrier_free(b);
}

/* ---------------------------------------------------------------- cancel */

TEST(barrier_cancelled_waiter_breaks_it)
{
    weft_barrier *b;
    CHECK_OK(weft_barrier_new(&b, 3, NULL, NULL));
    weft__cancel tok;
    weft__cancel_init(&tok);
    party p[2];
    party_start(&p[0], b, WEFT_FOREVER, &tok);
    party_start(&p[1], b, WEFT_FOREVER, NULL);
    wait_arrived(b, 2);
    weft__cancel_request(&tok);
    party_join(&p[0]);
    party_join(&p[1]);
    CHECK_RC(p[0].rc, ECANCELED);
    CHECK_RC(p[1].rc, WEFT_EBROKEN);
    CHECK(weft_barrier_broken(b));
    weft__cancel_destroy(&tok);
    weft_barrier_free(b);
}

TEST(barrier_cancel_requested_before_arriving)
{
    weft_barrier *b;
    CHECK_OK(weft_barrier_new(&b, 2, NULL, NULL));
    weft__cancel tok;
    weft__cancel_init(&tok);
    weft__cancel_request(&tok);
    weft__cancel_swap(&tok);
    /* It arrives, cannot wait, and leaves: the barrier breaks. */
    CHECK_RC(weft_barrier_wait(b, WEFT_FOREVER, NULL), ECANCELED);
    CHECK(weft_barrier_broken(b));
    weft_barrier_reset(b);
    /* Arriving last needs no waiting, so it still passes. */
    weft__cancel_swap(NULL);
    party p;
    party_start(&p, b, WEFT_FOREVER, NULL);
    wait_arrived(b, 1);
    weft__cancel_swap(&tok);
    CHECK_OK(weft_barrier_wait(b, WEFT_FOREVER, NULL));
    weft__cancel_swap(NULL);
    party_join(&p);
    CHECK_OK(p.rc);
    weft__cancel_destroy(&tok);
    weft_barrier_free(b);
}

/* A thread cancelled while the previous round is still in its action never
 * arrived, so it leaves without breaking the barrier. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool in_action, finish;
} action_gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false};

static int gated_action(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&action_gate.mu);
    action_gate.in_action = true;
    pthread_cond_broadcast(&action_gate.cv);
    while (!action_gate.finish)
        pthread_cond_wait(&action_gate.cv, &action_gate.mu);
    pthread_mutex_unlock(&action_gate.mu);
    return 0;
}

TEST(barrier_cancel_before_arrival_does_not_break)
{
    weft_barrier *b;
    CHECK_OK(weft_barrier_new(&b, 2, gated_action, NULL));
    party p[2];
    party_start(&p[0], b, WEFT_FOREVER, NULL);
    wait_arrived(b, 1);
    party_start(&p[1], b, WEFT_FOREVER, NULL);
    pthread_mutex_lock(&action_gate.mu);
    while (!action_gate.in_action)
        pthread_cond_wait(&action_gate.cv, &action_gate.mu);
    pthread_mutex_unlock(&action_gate.mu);

    /* The round is complete and in its action: this thread is for the next
     * round, and being cancelled it never gets there. */
    weft__cancel tok;
    weft__cancel_init(&tok);
    weft__cancel_request(&tok);
    weft__cancel_swap(&tok);
    CHECK_RC(weft_barrier_wait(b, WEFT_FOREVER, NULL), ECANCELED);
    weft__cancel_swap(NULL);
    CHECK(!weft_barrier_broken(b));

    pthread_mutex_lock(&action_gate.mu);
    action_gate.finish = true;
    pthread_cond_broadcast(&action_gate.cv);
    pthread_mutex_unlock(&action_gate.mu);
    party_join(&p[0]);
    party_join(&p[1]);
    CHECK_OK(p[0].rc);
    CHECK_OK(p[1].rc);
    CHECK_EQ(p[0].index, 0);
    CHECK_EQ(p[1].index, 1);
    CHECK(!weft_barrier_broken(b));
    weft__cancel_destroy(&tok);
    weft_barrier_free(b);
}

/* A waiter cancelled during the action leaves before the release: the
 * barrier breaks and the action's thread learns it. */
TEST(barrier_cancel_during_action_breaks_round)
{
    weft_barrier *b;
    CHECK_OK(weft_barrier_new(&b, 2, gated_action, NULL));
    weft__cancel tok;
    weft__cancel_init(&tok);
    party p[2];
    party_start(&p[0], b, WEFT_FOREVER, &tok);
    wait_arrived(b, 1);
    party_start(&p[1], b, WEFT_FOREVER, NULL);
    pthread_mutex_lock(&action_gate.mu);
    while (!action_gate.in_action)
        pthread_cond_wait(&action_gate.cv, &action_gate.mu);
    pthread_mutex_unlock(&action_gate.mu);
    weft__cancel_request(&tok);
    party_join(&p[0]);
    CHECK_RC(p[0].rc, ECANCELED);
    CHECK(weft_barrier_broken(b));
    pthread_mutex_lock(&action_gate.mu);
    action_gate.finish = true;
    pthread_cond_broadcast(&action_gate.cv);
    pthread_mutex_unlock(&action_gate.mu);
    party_join(&p[1]);
    CHECK_RC(p[1].rc, WEFT_EBROKEN);
    weft__cancel_destroy(&tok);
    weft_barrier_free(b);
}

/* reset() during the action: the round fails with WEFT_EBROKEN for all, and
 * the barrier is open (not broken) afterwards. */
TEST(barrier_reset_during_action)
{
    weft_barrier *b;
    CHECK_OK(weft_barrier_new(&b, 2, gated_action, NULL));
    party p[2];
    party_start(&p[0], b, WEFT_FOREVER, NULL);
    wait_arrived(b, 1);
    party_start(&p[1], b, WEFT_FOREVER, NULL);
    pthread_mutex_lock(&action_gate.mu);
    while (!action_gate.in_action)
        pthread_cond_wait(&action_gate.cv, &action_gate.mu);
    pthread_mutex_unlock(&action_gate.mu);
    weft_barrier_reset(b);
    party_join(&p[0]);
    CHECK_RC(p[0].rc, WEFT_EBROKEN);
    pthread_mutex_lock(&action_gate.mu);
    action_gate.finish = true;
    pthread_cond_broadcast(&action_gate.cv);
    pthread_mutex_unlock(&action_gate.mu);
    party_join(&p[1]);
    CHECK_RC(p[1].rc, WEFT_EBROKEN);
    CHECK(!weft_barrier_broken(b));
    CHECK_EQ(weft_barrier_n_waiting(b), 0);
    weft_barrier_free(b);
}

/* The timeout covers only the wait for the other parties, not the entry
 * phase: a party that calls during the previous round's slow drain gets its
 * whole timeout after it arrives, instead of timing out (and breaking the
 * barrier) the moment it gets in. */
#define LATE_TIMEOUT 0.2
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool in_action;
    double called_at;   /* when the late party called wait; 0 until then */
    double released_at; /* when the action returned */
    double returned_at; /* when the late party's wait returned */
} late = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0, 0, 0};

static int late_action(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&late.mu);
    late.in_action = true;
    pthread_cond_broadcast(&late.cv);
    while (late.called_at == 0)
        pthread_cond_wait(&late.cv, &late.mu);
    double until = late.called_at + LATE_TIMEOUT + 0.05;
    pthread_mutex_unlock(&late.mu);
    /* Not synchronisation: the point is to outlast the late party's
     * timeout counted from its call. */
    while (weft_monotonic() < until)
        weft_sleep(0.02);
    late.released_at = weft_monotonic();
    return 0;
}

static void *late_party(void *arg)
{
    party *p = arg;
    pthread_mutex_lock(&late.mu);
    late.called_at = weft_monotonic();
    pthread_cond_broadcast(&late.cv);
    pthread_mutex_unlock(&late.mu);
    p->rc = weft_barrier_wait(p->b, p->timeout, NULL);
    late.returned_at = weft_monotonic();
    return NULL;
}

TEST(barrier_timeout_starts_after_entry_phase)
{
    weft_barrier *b;
    CHECK_OK(weft_barrier_new(&b, 2, late_action, NULL));
    party p[2];
    party_start(&p[0], b, WEFT_FOREVER, NULL);
    wait_arrived(b, 1);
    party_start(&p[1], b, WEFT_FOREVER, NULL);
    pthread_mutex_lock(&late.mu);
    while (!late.in_action)
        pthread_cond_wait(&late.cv, &late.mu);
    pthread_mutex_unlock(&late.mu);

    /* Round 1 is in its action: this party waits in the entry phase for
     * longer than its timeout, then is alone in round 2. */
    party x = {.b = b, .timeout = LATE_TIMEOUT, .rc = -1};
    CHECK_OK(pthread_create(&x.th, NULL, late_party, &x));
    party_join(&p[0]);
    party_join(&p[1]);
    CHECK_OK(p[0].rc);
    CHECK_OK(p[1].rc);
    party_join(&x);
    /* Its timeout ran from its arrival (after the release), not from its
     * call: with the deadline taken at the call it breaks the barrier at
     * once on arrival. */
    CHECK_RC(x.rc, ETIMEDOUT);
    CHECK(late.returned_at - late.released_at >= LATE_TIMEOUT - 1e-3);
    weft_barrier_free(b);
}

TEST(null_handles)
{
    CHECK_RC(weft_barrier_new(NULL, 2, NULL, NULL), EINVAL);
    unsigned index = 7;
    CHECK_RC(weft_barrier_wait(NULL, 0, &index), EINVAL);
    CHECK_EQ(index, 7);
    weft_barrier_reset(NULL);
    weft_barrier_abort(NULL);
    CHECK_EQ(weft_barrier_parties(NULL), 0);
    CHECK_EQ(weft_barrier_n_waiting(NULL), 0);
    CHECK(!weft_barrier_broken(NULL));
    weft_barrier_free(NULL);
}
