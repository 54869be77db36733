/* Seed: "don't overlook future.cancel(): if you detect early that downstream
 * processing failed, you can cancel pending futures to avoid wasted work".
 * One worker is busy; the five tasks queued behind it are still pending and
 * can be cancelled. A running task cannot be cancelled that way, but weft can
 * ask it to stop (weft_future_interrupt), and weft_sleep inside it returns
 * ECANCELED. */
#include "example.h"

static weft_event *started, *release_first;

static int busy(void *arg, void **unused)
{
    weft_event_set(started);
    return weft_event_wait(release_first, WEFT_FOREVER);
}

static int work(void *arg, void **unused)
{
    printf("task %ld ran\n", (long)arg);
    return 0;
}

static int long_job(void *arg, void **unused)
{
    weft_event_set(started);
    int rc = weft_sleep(3600); /* an hour, unless asked to stop */
    printf("long job: sleep returned: %s\n", weft_strerror(rc));
    return rc;
}

int main(void)
{
    TRY(weft_event_new(&started));
    TRY(weft_event_new(&release_first));
    weft_executor *ex;
    weft_executor_opts opts = {.max_workers = 1};
    TRY(weft_executor_new(&ex, &opts));

    weft_future *first, *later[5];
    TRY(weft_executor_submit(ex, busy, NULL, &first));
    TRY(weft_event_wait(started, WEFT_FOREVER)); /* the worker is busy now */
    for (long i = 0; i < 5; i++)
        TRY(weft_executor_submit(ex, work, (void *)i, &later[i]));
    int cancelled = 0;
    for (int i = 0; i < 5; i++)
        if (weft_future_cancel(later[i]) == 0) /* pending: cancelled */
            cancelled++;
    printf("cancelled %d pending tasks\n", cancelled);
    printf("cancel the running task: %s\n", weft_strerror(weft_future_cancel(first)));
    weft_event_set(release_first);
    TRY(weft_future_result(first, WEFT_FOREVER, NULL));
    printf("result of a cancelled task: %s\n",
           weft_strerror(weft_future_result(later[0], WEFT_FOREVER, NULL)));

    weft_future *job;
    weft_event_clear(started);
    TRY(weft_executor_submit(ex, long_job, NULL, &job));
    TRY(weft_event_wait(started, WEFT_FOREVER));
    int asked = weft_future_interrupt(job); /* running: asked to stop */
    int rc = weft_future_result(job, WEFT_FOREVER, NULL);
    printf("interrupt the running job: %s\n", weft_strerror(asked));
    const char *why;
    weft_future_error(job, &why);
    printf("long job ended: %s (%s)\n", weft_strerror(rc), why);

    for (int i = 0; i < 5; i++)
        weft_future_unref(later[i]);
    weft_future_unref(first);
    weft_future_unref(job);
    weft_executor_free(ex);
    weft_event_free(release_first);
    weft_event_free(started);
    return 0;
}
