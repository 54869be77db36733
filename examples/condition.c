/* Seed: "Condition: wait-notify pattern for producer-consumer", with more
 * than one consumer.
 *
 * The seed's consumers stop when they take item 4. With two consumers only
 * one of them takes it; the other goes back to `while not data: wait()` and
 * sleeps for good, because no producer will ever notify again: the program
 * hangs at join. Two rules fix it, and this example follows both:
 *
 * 1. The end is part of the predicate. The producer sets `done` under the
 *    lock; a consumer waits only while there is no item AND the producer is
 *    not done, and leaves when both the data and the producer are finished.
 *    The predicate is re-checked in a loop after every wakeup (`while`, not
 *    `if`): another consumer may have taken the item first.
 * 2. Notify enough waiters. An item can feed one consumer, so notify(1) per
 *    item is enough. The end must reach every consumer, so it is
 *    notify_all: a notify(1) there would wake one consumer and leave the
 *    others asleep, which is the seed's hang again.
 *
 * weft_cond_wait_for is that loop (check, wait, check again) with one
 * deadline; the 10 s bound turns a lost wakeup into a failure instead of a
 * hang. */
#include "example.h"

#define ITEMS     10
#define CONSUMERS 3

static weft_cond *condition;
static int data[ITEMS], ndata, head; /* guarded by condition's lock */
static bool done;                    /* the producer has finished */
static int consumed;

static int producer(void *arg, void **unused)
{
    double delay = *(double *)arg;
    for (int i = 0; i < ITEMS; i++) {
        weft_sleep(delay * (i % 3) / 4); /* the seed's random pauses */
        TRY(weft_cond_acquire(condition, WEFT_FOREVER));
        data[ndata++] = i;
        printf("Produced %d\n", i);
        TRY(weft_cond_notify(condition, 1)); /* one item: one consumer */
        TRY(weft_cond_release(condition));
    }
    TRY(weft_cond_acquire(condition, WEFT_FOREVER));
    done = true;
    TRY(weft_cond_notify_all(condition)); /* the end: every consumer */
    TRY(weft_cond_release(condition));
    return 0;
}

/* The predicate, evaluated with the lock held. */
static bool item_or_end(void *unused)
{
    return head < ndata || done;
}

static int consumer(void *arg, void **unused)
{
    const char *name = arg;
    int mine = 0;
    for (;;) {
        TRY(weft_cond_acquire(condition, WEFT_FOREVER));
        /* while (!(head < ndata || done)) wait(); */
        int rc = weft_cond_wait_for(condition, item_or_end, NULL, 10.0);
        if (rc != 0) {
            TRY(weft_cond_release(condition));
            return weft_fail(rc, "%s: no wake-up in 10 s: a notify was lost", name);
        }
        if (head == ndata) { /* done, and nothing left */
            TRY(weft_cond_release(condition));
            printf("%s: finished after %d items\n", name, mine);
            return 0;
        }
        int item = data[head++];
        consumed++;
        mine++;
        printf("%s consumed %d\n", name, item);
        TRY(weft_cond_release(condition));
    }
}

int main(int argc, char **argv)
{
    double delay = example_scale(argc, argv);
    TRY(weft_cond_new(&condition, NULL)); /* its own RLock, as Python's Condition() */
    static const char *names[CONSUMERS] = {"consumer-1", "consumer-2", "consumer-3"};
    weft_thread *t[CONSUMERS + 1];
    TRY(weft_thread_start(&t[0], producer, &delay, NULL));
    for (int i = 0; i < CONSUMERS; i++)
        TRY(weft_thread_start(&t[i + 1], consumer, (void *)names[i], NULL));
    int failed = 0;
    for (int i = 0; i <= CONSUMERS; i++) {
        TRY(weft_thread_join(t[i], WEFT_FOREVER));
        if (weft_thread_error(t[i], NULL) != 0) /* reported by the hook already */
            failed++;
        weft_thread_free(t[i]);
    }
    printf("consumed %d of %d items\n", consumed, ITEMS);
    weft_cond_free(condition);
    return consumed == ITEMS && !failed ? 0 : 1;
}
