/* Seed: "Creating and starting threads": a target function with arguments,
 * start() then join(). Three downloads of 3, 2 and 1 s finish shortest first,
 * all in about 3 s. Usage: thread_args [scale]. */
#include "example.h"

struct download {
    const char *file_name;
    double duration;
};

static int download(void *arg, void **unused)
{
    struct download *d = arg;
    printf("Starting download: %s\n", d->file_name);
    int rc = weft_sleep(d->duration); /* simulate network delay */
    if (rc != 0)
        return rc;
    printf("Finished: %s\n", d->file_name);
    return 0;
}

int main(int argc, char **argv)
{
    double s = example_scale(argc, argv);
    struct download d[3] = {{"video.mp4", 3 * s}, {"music.mp3", 2 * s}, {"photo.jpg", 1 * s}};
    weft_thread *t[3];
    double start = weft_monotonic();
    for (int i = 0; i < 3; i++)
        TRY(weft_thread_start(&t[i], download, &d[i], NULL)); /* launch each thread */
    for (int i = 0; i < 3; i++) {
        TRY(weft_thread_join(t[i], WEFT_FOREVER)); /* wait for each to finish */
        TRY(weft_thread_error(t[i], NULL));
        weft_thread_free(t[i]);
    }
    double took = weft_monotonic() - start;
    printf("All downloads complete!\n");
    printf("took %.1fs: less than the sum of %.1fs: %s\n", took, 6 * s,
           took < 6 * s ? "yes" : "no");
    return 0;
}
