/* Seed: "Condition: wait-notify pattern for producer-consumer". Consumers
 * wait in a `while` loop that re-checks the predicate after every wakeup.
 *
 * The seed's consumers both stop at item 4, so one of them waits forever; here
 * the producer says when it is done, and each consumer stops once the data is
 * gone and the producer has finished. */
#include "example.h"

#include <string.h>

#define ITEMS 5

static weft_cond *condition;
static int data[ITEMS], ndata, head;
static bool producer_done;
static int consumed;
/* For the end (see producer): notifications sent, and the count at which
 * each consumer last began to wait. */
static int notified, waited_at[2] = {-1, -1};
static bool lost; /* a consumer never heard the end */
static double delay;

static int producer(void *arg, void **unused)
{
    for (int i = 0; i < ITEMS; i++) {
        weft_sleep(delay * (i % 3) / 2);
        TRY(weft_cond_acquire(condition, WEFT_FOREVER));
        data[ndata++] = i;
        printf("Produced %d\n", i);
        TRY(weft_cond_notify_all(condition)); /* wake sleeping consumers */
        notified++;
        TRY(weft_cond_release(condition));
    }
    /* The end: once both consumers began waiting after the last notify
     * (they note it under the lock, which wait gives up atomically), one
     * notify_all must wake them both. A notify that woke only one would
     * leave the other waiting for good: here, failing in 10 s. (A bounded
     * poll: this is the one moment the example must arrange.) */
    for (int tries = 0;; tries++) {
        TRY(weft_cond_acquire(condition, WEFT_FOREVER));
        if ((waited_at[0] == notified && waited_at[1] == notified) || tries >= 2000) {
            producer_done = true;
            TRY(weft_cond_notify_all(condition));
            TRY(weft_cond_release(condition));
            return 0;
        }
        TRY(weft_cond_release(condition));
        weft_sleep(0.005);
    }
}

static int consumer(void *arg, void **unused)
{
    const char *name = arg;
    int me = name[strlen(name) - 1] - '1'; /* consumer-1 is 0, consumer-2 is 1 */
    for (;;) {
        TRY(weft_cond_acquire(condition, WEFT_FOREVER));
        /* while, not if! And bounded: a lost wake-up (a notify that woke
         * one consumer where all had to go) fails the run in 10 s instead
         * of hanging it. */
        while (head == ndata && !producer_done) {
            waited_at[me] = notified;
            int rc = weft_cond_wait(condition, 10.0);
            waited_at[me] = -1;
            if (rc == ETIMEDOUT) {
                printf("%s: no wake-up in 10 s: a notify was lost\n", name);
                lost = true;
                TRY(weft_cond_release(condition));
                return ETIMEDOUT;
            }
            TRY(rc);
        }
        if (head == ndata) { /* nothing left, and nothing more will come */
            TRY(weft_cond_release(condition));
            return 0;
        }
        int item = data[head++];
        consumed++;
        printf("%s consumed %d\n", name, item);
        TRY(weft_cond_release(condition));
    }
}

int main(int argc, char **argv)
{
    delay = example_scale(argc, argv);
    TRY(weft_cond_new(&condition, NULL)); /* its own RLock, as Python's Condition() */
    weft_thread *t[3];
    TRY(weft_thread_start(&t[0], producer, NULL, NULL));
    TRY(weft_thread_start(&t[1], consumer, "consumer-1", NULL));
    TRY(weft_thread_start(&t[2], consumer, "consumer-2", NULL));
    int failed = 0;
    for (int i = 0; i < 3; i++) {
        if (weft_thread_join(t[i], WEFT_FOREVER) != 0)
            failed++;
        weft_thread_free(t[i]);
    }
    printf("consumed %d of %d items\n", consumed, ITEMS);
    weft_cond_free(condition);
    return consumed == ITEMS && !failed && !lost ? 0 : 1;
}
