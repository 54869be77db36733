/* Seed: "Daemon threads: background tasks that don't block shutdown". As in
 * Python, when main returns, weft joins the non-daemon threads still running
 * and does not wait for daemon threads. */
#include "example.h"

static int background_task(void *arg, void **unused)
{
    for (;;) { /* a daemon never ends by itself */
        printf("Working...\n");
        int rc = weft_sleep(*(double *)arg);
        if (rc != 0)
            return rc;
    }
}

static int last_job(void *arg, void **unused)
{
    weft_sleep(*(double *)arg);
    printf("non-daemon: finished its job after main returned\n");
    return 0;
}

int main(int argc, char **argv)
{
    static double s;
    s = example_scale(argc, argv);
    weft_thread *daemon, *worker;
    weft_thread_opts d = {.name = "background", .daemon = true};
    TRY(weft_thread_start(&daemon, background_task, &s, &d));
    TRY(weft_thread_start(&worker, last_job, &s, NULL)); /* non-daemon */
    weft_thread_free(daemon);                            /* handles can go; the threads go on */
    weft_thread_free(worker);
    printf("main: returning\n");
    return 0; /* weft waits here for last_job, not for background_task */
}
