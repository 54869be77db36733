/* Seed: "Avoiding deadlocks: lock ordering and timeouts". Every thread takes
 * lock1 before lock2, so they cannot deadlock; and acquire(timeout=...) gives
 * up instead of waiting forever on a lock held elsewhere. */
#include "example.h"

static weft_lock *lock1, *lock2;

static int right_order(void *arg, void **unused)
{
    for (int i = 0; i < 1000; i++) {
        WEFT_WITH_LOCK(lock1); /* always lock1 first... */
        WEFT_WITH_LOCK(lock2); /* ...then lock2, everywhere */
    }
    printf("%s: got both locks 1000 times\n", weft_thread_current_name());
    return 0;
}

static int with_timeout(void *arg, void **unused)
{
    int rc = weft_lock_acquire(lock1, *(double *)arg); /* wait at most this long */
    if (rc == 0) {
        printf("Got lock!\n");
        weft_lock_release(lock1);
    } else if (rc == ETIMEDOUT) {
        printf("Timeout! Lock held elsewhere.\n");
    } else {
        printf("acquire: %s\n", weft_strerror(rc));
    }
    return 0;
}

static void run(weft_fn *fn, void *arg, const char *name)
{
    weft_thread *t;
    weft_thread_opts o = {.name = name};
    TRY(weft_thread_start(&t, fn, arg, &o));
    TRY(weft_thread_join(t, WEFT_FOREVER));
    weft_thread_free(t);
}

int main(int argc, char **argv)
{
    double timeout = 2.0 * example_scale(argc, argv);
    TRY(weft_lock_new(&lock1));
    TRY(weft_lock_new(&lock2));

    weft_thread *a, *b;
    weft_thread_opts oa = {.name = "right_order"}, ob = {.name = "also_right"};
    TRY(weft_thread_start(&a, right_order, NULL, &oa));
    TRY(weft_thread_start(&b, right_order, NULL, &ob));
    TRY(weft_thread_join(a, WEFT_FOREVER));
    TRY(weft_thread_join(b, WEFT_FOREVER));
    weft_thread_free(a);
    weft_thread_free(b);

    TRY(weft_lock_acquire(lock1, WEFT_FOREVER)); /* main holds lock1... */
    run(with_timeout, &timeout, "with_timeout"); /* ...so this one gives up */
    TRY(weft_lock_release(lock1));
    run(with_timeout, &timeout, "with_timeout"); /* now it gets it */

    weft_lock_free(lock1);
    weft_lock_free(lock2);
    return 0;
}
