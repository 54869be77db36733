/* Seed: "Semaphore: limiting concurrent access". Ten threads want a resource
 * that admits three at a time (say, three database connections). */
#include "example.h"

#include <stdatomic.h>

static weft_sem *semaphore;
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
    return 0;
}
