/* Seed: "Queue: thread-safe FIFO" and "queue.Queue producer-consumer". A
 * bounded queue (maxsize=3) gives backpressure: the producer blocks in put()
 * while the queue is full. Consumers stop first on sentinels (Python's None),
 * then, the modern way, on the queue's shutdown (Python 3.13). */
#include "example.h"

#include <stdint.h>

#define ITEMS 10

static double delay;
static weft_queue *q;

static int producer(void *arg, void **unused)
{
    for (intptr_t i = 1; i <= ITEMS; i++) {
        TRY(weft_queue_put(q, (void *)i, WEFT_FOREVER)); /* blocks while full */
        printf("Produced %ld (queue size now %zu)\n", (long)i, weft_queue_qsize(q));
    }
    return 0;
}

/* Stops on a NULL sentinel. */
static int consumer_sentinel(void *arg, void **result)
{
    intptr_t sum = 0;
    for (;;) {
        void *item;
        TRY(weft_queue_get(q, &item, WEFT_FOREVER));
        if (item == NULL) { /* the sentinel */
            TRY(weft_queue_task_done(q));
            break;
        }
        weft_sleep(delay);
        sum += (intptr_t)item;
        printf("%s consumed %ld\n", (char *)arg, (long)(intptr_t)item);
        TRY(weft_queue_task_done(q));
    }
    *result = (void *)sum;
    return 0;
}

/* Stops when the queue is shut down and drained. */
static int consumer_shutdown(void *arg, void **result)
{
    intptr_t sum = 0;
    void *item;
    int rc;
    while ((rc = weft_queue_get(q, &item, WEFT_FOREVER)) == 0) {
        weft_sleep(delay);
        sum += (intptr_t)item;
        TRY(weft_queue_task_done(q));
    }
    if (rc != ESHUTDOWN)
        return rc;
    *result = (void *)sum;
    return 0;
}

static intptr_t run(weft_fn *consume, bool sentinels)
{
    weft_queue_opts opts = {.maxsize = 3}; /* bounded */
    TRY(weft_queue_new(&q, &opts));
    weft_thread *p, *c[2];
    TRY(weft_thread_start(&p, producer, NULL, NULL));
    TRY(weft_thread_start(&c[0], consume, "Consumer1", NULL));
    TRY(weft_thread_start(&c[1], consume, "Consumer2", NULL));
    TRY(weft_thread_join(p, WEFT_FOREVER)); /* wait for the producer */
    weft_thread_free(p);
    if (sentinels) {
        TRY(weft_queue_put(q, NULL, WEFT_FOREVER)); /* one sentinel per consumer */
        TRY(weft_queue_put(q, NULL, WEFT_FOREVER));
    } else {
        TRY(weft_queue_join(q, WEFT_FOREVER)); /* every item processed */
        weft_queue_shutdown(q, false, NULL, NULL);
    }
    intptr_t total = 0;
    for (int i = 0; i < 2; i++) {
        TRY(weft_thread_join(c[i], WEFT_FOREVER));
        TRY(weft_thread_error(c[i], NULL));
        total += (intptr_t)weft_thread_result(c[i]);
        weft_thread_free(c[i]);
    }
    weft_queue_free(q, NULL, NULL);
    return total;
}

int main(int argc, char **argv)
{
    delay = 0.05 * example_scale(argc, argv);
    printf("with sentinels: total %ld\n", (long)run(consumer_sentinel, true));
    printf("with shutdown: total %ld\n", (long)run(consumer_shutdown, false));
    return 0;
}
