/* Seed: "Avoiding deadlocks: lock ordering". wrong_order takes lock1 then
 * lock2, opposite_order lock2 then lock1: run at the same time they can
 * deadlock. Here they run one after the other, so this run cannot hang, yet
 * weft's deadlock detector reports the inverted order, naming the locks and
 * the threads. The fix (right_order, also_right_order: lock1 before lock2
 * everywhere) is reported clean. Python checks none of this. */
#include "example.h"

static weft_lock *lock1, *lock2;
static double delay;
static int reports;

/* Reports go to stdout here, so they appear in order with the prints. */
static void print_report(const char *report, void *arg)
{
    reports++;
    fputs(report, stdout);
}

/* WRONG: can deadlock against opposite_order. */
static int wrong_order(void *arg, void **unused)
{
    WEFT_WITH_LOCK(lock1);
    weft_sleep(delay);
    WEFT_WITH_LOCK(lock2);
    printf("%s: Got both locks\n", weft_thread_current_name());
    return 0;
}

static int opposite_order(void *arg, void **unused)
{
    WEFT_WITH_LOCK(lock2);
    weft_sleep(delay);
    WEFT_WITH_LOCK(lock1); /* the detector reports here, before waiting */
    printf("%s: Got both locks\n", weft_thread_current_name());
    return 0;
}

/* RIGHT: always acquire in the same order. */
static int right_order(void *arg, void **unused)
{
    WEFT_WITH_LOCK(lock1);
    WEFT_WITH_LOCK(lock2);
    printf("%s: Got both locks\n", weft_thread_current_name());
    return 0;
}

static int also_right_order(void *arg, void **unused)
{
    WEFT_WITH_LOCK(lock1);
    WEFT_WITH_LOCK(lock2);
    printf("%s: Got both locks (same order)\n", weft_thread_current_name());
    return 0;
}

/* Runs fn on a thread of that name and waits for it: no two overlap. */
static void run(weft_fn *fn, const char *name)
{
    weft_thread *t;
    weft_thread_opts o = {.name = name};
    TRY(weft_thread_start(&t, fn, NULL, &o));
    TRY(weft_thread_join(t, WEFT_FOREVER));
    weft_thread_free(t);
}

static void make_locks(const char *name1, const char *name2)
{
    TRY(weft_lock_new_named(&lock1, name1));
    TRY(weft_lock_new_named(&lock2, name2));
}

static void free_locks(void)
{
    weft_lock_free(lock1);
    weft_lock_free(lock2);
}

int main(int argc, char **argv)
{
    delay = 0.1 * example_scale(argc, argv);
    /* As running with WEFT_DEADLOCK=report in the environment. */
    TRY(weft_deadlock_set_mode(WEFT_DEADLOCK_REPORT));
    weft_deadlock_set_hook(print_report, NULL);

    make_locks("lock1", "lock2");
    run(wrong_order, "wrong_order");
    run(opposite_order, "opposite_order");
    printf("wrong/opposite order: %d report(s), and no thread hung\n", reports);
    free_locks();

    /* The fix, with fresh classes: the detector remembers lock1/lock2's
     * inverted pair for the life of the process. */
    reports = 0;
    make_locks("fixed lock1", "fixed lock2");
    run(right_order, "right_order");
    run(also_right_order, "also_right_order");
    printf("right/also right order: %d report(s)\n", reports);
    free_locks();
    return reports == 0 ? 0 : 1;
}
