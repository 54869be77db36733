/* Seed: "The danger: race conditions". Five threads add 1 to a shared counter
 * 100,000 times each. Without a lock, `counter += 1` is read, add, write, and
 * updates get lost; with a weft_lock the total is always 500,000.
 *
 * In C a plain unsynchronised `counter++` from several threads is undefined
 * behaviour, not merely a wrong total. The unsafe version therefore reads and
 * writes with two separate relaxed atomic operations: defined behaviour, and
 * exactly Python's read-add-write race. */
#include "example.h"

#include <stdatomic.h>

#define THREADS 5
#define ROUNDS  100000

static atomic_long unsafe_counter;
static long counter;
static weft_lock *lock;
static weft_barrier *start; /* all threads begin together, so they overlap */

static int increment_unsafe(void *arg, void **unused)
{
    int rc = weft_barrier_wait(start, 10.0, NULL);
    if (rc != 0)
        return rc;
    for (int i = 0; i < ROUNDS; i++) {
        long v = atomic_load_explicit(&unsafe_counter, memory_order_relaxed); /* read */
        atomic_store_explicit(&unsafe_counter, v + 1, memory_order_relaxed);  /* add, write */
    }
    return 0;
}

static int increment_safe(void *arg, void **unused)
{
    for (int i = 0; i < ROUNDS; i++) {
        WEFT_WITH_LOCK(lock); /* only one thread at a time; released at the } */
        counter += 1;
    }
    return 0;
}

static void run(weft_fn *fn)
{
    weft_thread *t[THREADS];
    for (int i = 0; i < THREADS; i++)
        TRY(weft_thread_start(&t[i], fn, NULL, NULL));
    for (int i = 0; i < THREADS; i++) {
        TRY(weft_thread_join(t[i], WEFT_FOREVER));
        weft_thread_free(t[i]);
    }
}

int main(void)
{
    TRY(weft_lock_new(&lock));
    TRY(weft_barrier_new(&start, THREADS, NULL, NULL));
    /* The race is real but timing decides how often it shows: try up to 20
     * times for a run that loses updates, and say so if none did. */
    long lost = 0;
    int tries = 0;
    while (lost == 0 && tries < 20) {
        atomic_store(&unsafe_counter, 0);
        run(increment_unsafe);
        lost = THREADS * ROUNDS - atomic_load(&unsafe_counter);
        tries++;
    }
    if (lost > 0)
        printf("without a lock: %ld (lost updates: %ld, on try %d)\n", atomic_load(&unsafe_counter),
               lost, tries);
    else
        printf("without a lock: could not provoke a lost update in %d tries\n", tries);
    weft_barrier_free(start);
    run(increment_safe);
    printf("with a lock: %ld\n", counter);
    weft_lock_free(lock);
    return counter == THREADS * ROUNDS ? 0 : 1;
}
