/* Seed: "Sequential vs Threaded: the core difference". Three simulated
 * fetches of 2 s each: one after another they take 6 s; on three threads,
 * about 2 s. Usage: seq_vs_threads [scale] (scale 0.1 makes each fetch 0.2 s). */
#include "example.h"

struct fetch {
    const char *url;
    double seconds;
    char result[64];
};

static int fetch_data(void *arg, void **unused)
{
    struct fetch *f = arg;
    printf("fetching %s...\n", f->url);
    int rc = weft_sleep(f->seconds); /* the simulated I/O wait */
    if (rc != 0)
        return rc;
    snprintf(f->result, sizeof f->result, "data from %s", f->url);
    printf("done: %s\n", f->url);
    return 0;
}

int main(int argc, char **argv)
{
    double s = 2.0 * example_scale(argc, argv);
    struct fetch jobs[3] = {{"site1.com", s, ""}, {"site2.com", s, ""}, {"site3.com", s, ""}};

    double start = weft_monotonic();
    for (int i = 0; i < 3; i++)
        TRY(fetch_data(&jobs[i], NULL)); /* wait, then start the next */
    double sequential = weft_monotonic() - start;
    printf("sequential: %.1fs\n", sequential);

    weft_thread *threads[3];
    start = weft_monotonic();
    for (int i = 0; i < 3; i++)
        TRY(weft_thread_start(&threads[i], fetch_data, &jobs[i], NULL)); /* do not wait */
    for (int i = 0; i < 3; i++) {
        TRY(weft_thread_join(threads[i], WEFT_FOREVER)); /* wait for ALL threads */
        TRY(weft_thread_error(threads[i], NULL));
        weft_thread_free(threads[i]);
    }
    double threaded = weft_monotonic() - start;
    printf("threaded: %.1fs\n", threaded);
    for (int i = 0; i < 3; i++)
        printf("result[%d] = %s\n", i, jobs[i].result);
    printf("speedup: %.1fx\n", sequential / threaded);
    printf("sequential took at least 3 fetches: %s\n", sequential >= 3 * s ? "yes" : "no");
    return 0;
}
