/* Seed: "Semaphore: limiting concurrent access". Ten threads want a resource
 * that admits three at a time (say, three database connections). */
#include "example.h"

#include <stdatomic.h>

static weft_sem *semaphore;
static weft_event *full; /* set once 3 are inside: the limit was reached */
static atomic_int inside, most;
static double hold;

static int access_resource(void *arg, void **unused)
{
    int id = (int)(long)arg;
    TRY(weft_sem_acquire(semaphore, WEFT_FOREVER));
    int now = atomic_fetch_add(&inside, 1) + 1;
    for (int m = atomic_load(&most); now > m && !atomic_compare_exchange_weak(&most, &m, now);)
        ;
    printf("Resource %d accessed\n", id);
    /* Stay until the room is full (at most 2 s): so the run shows the
     * semaphore letting exactly 3 in, however the threads are scheduled. */
    if (now == 3)
        weft_event_set(full);
    int wrc = weft_event_wait(full, 2.0);
    if (wrc != 0 && wrc != ETIMEDOUT)
        TRY(wrc);
    weft_sleep(hold);
    printf("Resource %d released\n", id);
    atomic_fetch_sub(&inside, 1);
    TRY(weft_sem_release(semaphore, 1));
    return 0;
}

int main(int argc, char **argv)
{
    hold = example_scale(argc, argv);
    TRY(weft_sem_new(&semaphore, 3)); /* allow 3 concurrent accesses */
    TRY(weft_event_new(&full));
    weft_thread *t[10];
    for (long i = 0; i < 10; i++)
        TRY(weft_thread_start(&t[i], access_resource, (void *)i, NULL));
    for (int i = 0; i < 10; i++) {
        TRY(weft_thread_join(t[i], WEFT_FOREVER));
        weft_thread_free(t[i]);
    }
    printf("most threads inside at once: %d\n", atomic_load(&most));
    printf("never more than 3: %s\n", atomic_load(&most) <= 3 ? "yes" : "no");
    weft_sem_free(semaphore);
    weft_event_free(full);
    return 0;
}
