/* Seed: "ThreadPoolExecutor patterns: throttling submission to avoid
 * overwhelming a remote service". Two ways: submit in batches and wait for
 * each batch; or give the executor a bound on queued work, so submit itself
 * blocks (backpressure) instead of queueing thousands of futures. */
#include "example.h"

#include <stdatomic.h>

#define JOBS  20
#define BATCH 5

static atomic_int in_flight, most_in_flight;
/* Set when `fill` requests are in flight at once: each call waits for it
 * (at most 2 s), so the run shows the limit reached, not only respected. */
static weft_event *full;
static atomic_int fill;

static int call_api(void *arg, void **unused)
{
    int now = atomic_fetch_add(&in_flight, 1) + 1;
    for (int m = atomic_load(&most_in_flight);
         now > m && !atomic_compare_exchange_weak(&most_in_flight, &m, now);)
        ;
    if (now >= atomic_load(&fill))
        weft_event_set(full);
    int rc = weft_event_wait(full, 2.0);
    if (rc != 0 && rc != ETIMEDOUT)
        return rc;
    weft_sleep(*(double *)arg);
    atomic_fetch_sub(&in_flight, 1);
    return 0;
}

int main(int argc, char **argv)
{
    static double delay;
    delay = 0.05 * example_scale(argc, argv);
    weft_executor *ex;
    weft_executor_opts opts = {.max_workers = 8};
    TRY(weft_executor_new(&ex, &opts));
    TRY(weft_event_new(&full));
    atomic_store(&fill, BATCH);

    /* 1. Batches: at most BATCH requests are ever outstanding. */
    for (int done = 0; done < JOBS; done += BATCH) {
        weft_future *batch[BATCH];
        bool finished[BATCH];
        for (int i = 0; i < BATCH; i++)
            TRY(weft_executor_submit(ex, call_api, &delay, &batch[i]));
        TRY(weft_futures_wait(batch, BATCH, WEFT_FOREVER, WEFT_ALL_COMPLETED, finished));
        for (int i = 0; i < BATCH; i++)
            weft_future_unref(batch[i]);
        printf("batch %d done\n", done / BATCH + 1);
    }
    printf("batches: most requests in flight: %d (limit %d)\n", atomic_load(&most_in_flight),
           BATCH);
    weft_executor_free(ex);

    /* 2. A bounded executor: 2 workers, at most 2 queued; submit blocks. */
    atomic_store(&most_in_flight, 0);
    weft_event_clear(full);
    atomic_store(&fill, 2);
    weft_executor_opts bounded = {
        .max_workers = 2, .max_queued = 2, .submit_timeout = WEFT_FOREVER};
    TRY(weft_executor_new(&ex, &bounded));
    for (int i = 0; i < JOBS; i++)
        TRY(weft_executor_submit(ex, call_api, &delay, NULL)); /* blocks while 2 wait */
    weft_executor_stats st;
    weft_executor_stats_get(ex, &st);
    printf("bounded: queued never above 2: %s\n", st.queued <= 2 ? "yes" : "no");
    weft_executor_free(ex);
    printf("bounded: most requests in flight: %d (limit 2)\n", atomic_load(&most_in_flight));
    weft_event_free(full);
    return 0;
}
