/* Seed: "Event: signaling between threads". A waiter blocks until a signaler
 * sets the event; a wait with a timeout gives up instead of hanging. */
#include "example.h"

static weft_event *event;
static double delay;

static int waiter(void *arg, void **unused)
{
    printf("Waiter: Waiting for event...\n");
    TRY(weft_event_wait(event, WEFT_FOREVER)); /* blocks until the event is set */
    printf("Waiter: Event received!\n");
    return 0;
}

static int signaler(void *arg, void **unused)
{
    weft_sleep(delay);
    printf("Signaler: Setting event\n");
    weft_event_set(event);
    return 0;
}

int main(int argc, char **argv)
{
    delay = 2.0 * example_scale(argc, argv);
    TRY(weft_event_new(&event));

    /* The defensive pattern: wait(timeout) so a lost signal cannot hang us. */
    int rc = weft_event_wait(event, 0.05);
    printf("wait(timeout=0.05) before anyone sets it: %s\n", weft_strerror(rc));

    weft_thread *t1, *t2;
    TRY(weft_thread_start(&t1, waiter, NULL, NULL));
    TRY(weft_thread_start(&t2, signaler, NULL, NULL));
    TRY(weft_thread_join(t1, WEFT_FOREVER));
    TRY(weft_thread_join(t2, WEFT_FOREVER));
    weft_thread_free(t1);
    weft_thread_free(t2);
    printf("is_set: %s\n", weft_event_is_set(event) ? "true" : "false");
    weft_event_free(event);
    return 0;
}
